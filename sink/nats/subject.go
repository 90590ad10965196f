package nats

import (
	"fmt"
	"strings"

	"github.com/streamd/streamd/sink"
)

// DefaultSubject is the subject template used when Config.Subject is empty.
const DefaultSubject = "8x8.{tenant}.{type}"

// placeholder identifies one {name} in a subject template.
type placeholder int

const (
	literal placeholder = iota
	phTenant
	phNamespace
	phTopic
	phType
)

// placeholders maps template names to their kind; it is never modified.
var placeholders = map[string]placeholder{
	"tenant":    phTenant,
	"namespace": phNamespace,
	"topic":     phTopic,
	"type":      phType,
}

// segment is a literal run of a template or one placeholder.
type segment struct {
	kind placeholder
	text string
}

// template is a parsed subject template.
type template []segment

// parseTemplate splits s into literals and placeholders. Unknown or
// unterminated placeholders are an error.
func parseTemplate(s string) (template, error) {
	var t template
	for s != "" {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			t = append(t, segment{text: s})
			break
		}

		if i > 0 {
			t = append(t, segment{text: s[:i]})
		}

		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("parse subject template: unterminated %q", s[i:])
		}

		name := s[i+1 : i+j]
		kind, ok := placeholders[name]
		if !ok {
			return nil, fmt.Errorf("parse subject template: unknown placeholder {%s} (want {tenant}, {namespace}, {topic} or {type})", name)
		}

		t = append(t, segment{kind: kind})
		s = s[i+j+1:]
	}

	return t, nil
}

// compileTemplate parses s (DefaultSubject when empty) and checks that the
// literal parts form a valid publish subject.
func compileTemplate(s string) (template, error) {
	if s == "" {
		s = DefaultSubject
	}

	t, err := parseTemplate(s)
	if err != nil {
		return nil, err
	}

	for _, seg := range t {
		if seg.kind == literal && strings.IndexFunc(seg.text, badLiteralRune) >= 0 {
			return nil, fmt.Errorf("check subject template %q: wildcard, whitespace or control character", s)
		}
	}

	for _, tok := range strings.Split(t.pattern(), ".") {
		if tok == "" {
			return nil, fmt.Errorf("check subject template %q: empty token", s)
		}
	}

	return t, nil
}

// CheckSubject returns why s is not a subject template Open accepts (an
// unknown or unterminated placeholder; a literal part with an empty token,
// a wildcard, whitespace or a control character), nil when it is. "" is
// DefaultSubject. Configuration calls it so that the mistake is reported
// with its variable before any sink opens.
func CheckSubject(s string) error {
	_, err := compileTemplate(s)
	return err
}

// render appends the subject for e to buf.
func (t template) render(buf []byte, e *sink.Event) []byte {
	tenant, namespace, topic := e.SplitTopic()
	for _, seg := range t {
		switch seg.kind {
		case literal:
			buf = append(buf, seg.text...)
		case phTenant:
			buf = appendToken(buf, tenant)
		case phNamespace:
			buf = appendToken(buf, namespace)
		case phTopic:
			buf = appendToken(buf, topic)
		case phType:
			buf = appendToken(buf, e.EventType)
		}
	}

	return buf
}

// pattern is the subject filter that matches every subject t can render:
// each dot-separated token that contains a placeholder becomes "*".
func (t template) pattern() string {
	var b strings.Builder
	for _, seg := range t {
		if seg.kind == literal {
			b.WriteString(seg.text)
		} else {
			b.WriteByte(0) // never in a literal: compileTemplate rejects control characters
		}
	}

	toks := strings.Split(b.String(), ".")
	for i, tok := range toks {
		if strings.IndexByte(tok, 0) >= 0 {
			toks[i] = "*"
		}
	}

	return strings.Join(toks, ".")
}

// Subject renders template (DefaultSubject when empty) for e. Placeholder
// values are sanitised for NATS: spaces, '.', '*', '>' and control
// characters become '_', and an empty value becomes "_". Unknown
// placeholders are left verbatim; Open rejects them.
func Subject(template string, e *sink.Event) string {
	if template == "" {
		template = DefaultSubject
	}
	t, err := parseTemplate(template)
	if err != nil {
		return template
	}
	return string(t.render(nil, e))
}

// appendToken appends v sanitised as (part of) one subject token.
func appendToken(buf []byte, v string) []byte {
	if v == "" {
		return append(buf, '_')
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '.' || c == '*' || c == '>' || isBadSubjectByte(c) {
			c = '_'
		}
		buf = append(buf, c)
	}
	return buf
}

// badLiteralRune reports characters not allowed in a template's literal parts.
func badLiteralRune(r rune) bool {
	return r == '*' || r == '>' || (r < 0x80 && isBadSubjectByte(byte(r)))
}

// isBadSubjectByte reports ASCII whitespace and control characters, which
// NATS does not allow in subjects. Multi-byte UTF-8 passes through.
func isBadSubjectByte(c byte) bool {
	return c <= ' ' || c == 0x7f
}

// covers reports whether the stream subject filter matches every subject
// matched by pattern (NATS wildcard rules: '*' one token, '>' one or more).
func covers(filter, pattern string) bool {
	f := strings.Split(filter, ".")
	p := strings.Split(pattern, ".")
	for i, ft := range f {
		if ft == ">" {
			return len(p) > i
		}

		if i >= len(p) {
			return false
		}

		if ft == "*" {
			if p[i] == ">" {
				return false
			}
			continue
		}

		if ft != p[i] {
			return false
		}
	}

	return len(f) == len(p)
}
