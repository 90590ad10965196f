package consumer

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted replaces every secret removed from text.
const redacted = "REDACTED"

// userinfo matches credentials embedded in URLs in free text
// ("scheme://user:pass@"): up to the last '@' before a space or comma, so a
// password holding '/', '@' or a quote is removed whole (at the cost of
// over-redacting a path that contains '@').
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^\s,]*@`)

// Redact returns s without any of secrets (raw, query-escaped or
// path-escaped) and without the userinfo of any URL it contains, each
// replaced by "REDACTED". It is the one redaction used for logs, `check`
// output, config errors and handshake errors; apply it to the whole text
// before cutting, quoting or wrapping it. Empty secrets are ignored.
func Redact(s string, secrets ...string) string {
	return newRedactor(secrets...).string(s)
}

// RedactValue returns a configuration value (a URL or a comma-separated
// list of them) with everything between "://" and the last '@' of each
// element replaced by "REDACTED". Unlike Redact it assumes nothing about
// the characters of a password: a value that does not even parse as a URL
// (a space or '/' in the password) loses its userinfo too.
func RedactValue(v string) string {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		scheme, rest, ok := strings.Cut(p, "://")
		if at := strings.LastIndexByte(rest, '@'); ok && at >= 0 {
			parts[i] = scheme + "://" + redacted + rest[at:]
		}
	}
	return Redact(strings.Join(parts, ","))
}

// redactor removes secrets, raw and URL-encoded, from error text.
type redactor struct{ secrets []string }

func newRedactor(secrets ...string) redactor {
	var r redactor
	for _, s := range secrets {
		if s != "" {
			r.secrets = append(r.secrets, s, url.QueryEscape(s), url.PathEscape(s))
		}
	}
	return r
}

func (r redactor) string(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	if strings.Contains(s, "@") {
		s = userinfo.ReplaceAllString(s, "${1}"+redacted+"@")
	}
	return s
}

// redactedError keeps the chain of err (for errors.Is/As) but prints it
// with the credential removed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func (r redactor) wrap(err error) error {
	if err == nil {
		return err
	}
	msg := r.string(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}
