// Package redact removes credentials from text before it leaves the
// process: logs, `streamd check` output, config errors (exit 78), /readyz
// reasons and health state, handshake and sink errors. It is the one place
// that knows what a secret can look like in such text, so that every
// output is as safe as the most careful one.
//
// Two things are removed, each replaced by "REDACTED":
//
//   - Known secrets (the API key, NATS password or token), in every
//     encoding they are seen in: raw, query-escaped (a key in
//     "?x-api-key=" on a dial URL), path-escaped, and base64 (standard and
//     URL alphabets, padded or not: a secret inside an HTTP Basic header or
//     a token). A Contact Center token is itself base64 of
//     "user:password" (see consumer.CredentialKind), so its decoded
//     "user:password" and the password alone are secrets too, in the same
//     encodings. Base64 is matched only as a whole encoding of the secret,
//     not at an offset inside a longer base64 text.
//   - URL userinfo ("scheme://user:pass@"), with or without known secrets:
//     from "://" up to the last '@' before a space or comma, so that a
//     password holding '/', '@' or a quote is removed whole, at the cost of
//     over-redacting a path that contains '@'.
//
// Apply it to the whole text before cutting, quoting or wrapping it: a
// secret cut in half is no longer recognised.
package redact

import (
	"cmp"
	"encoding/base64"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Mark replaces every secret removed from text.
const Mark = "REDACTED"

// minDerived is the shortest password taken out of a decoded token that is
// redacted on its own: a shorter one would redact common words and make the
// text unreadable, while the whole token and "user:password" still go.
const minDerived = 4

// userinfo matches credentials embedded in URLs in free text.
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^\s,]*@`)

// Redactor removes a fixed set of secrets, in every encoding, and URL
// userinfo from text. The zero value removes URL userinfo only.
type Redactor struct{ forms []string }

// New returns a Redactor for secrets. Empty secrets are ignored.
func New(secrets ...string) Redactor {
	var r Redactor
	for _, s := range secrets {
		for _, p := range parts(s) {
			r.forms = append(r.forms, encodings(p)...)
		}
	}
	// Longest first, so that "user:password" goes whole before "password".
	slices.SortFunc(r.forms, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	r.forms = slices.Compact(r.forms)
	return r
}

// parts returns secret and, when it is base64 of "user:password" (a Contact
// Center token), the decoded pair and the password.
func parts(secret string) []string {
	if secret == "" {
		return nil
	}

	out := []string{secret}
	raw, err := base64.StdEncoding.DecodeString(secret)
	if err != nil {
		return out
	}

	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user == "" || pass == "" {
		return out
	}

	out = append(out, string(raw))
	if len(pass) >= minDerived {
		out = append(out, pass)
	}

	return out
}

// encodings returns s raw, query-escaped, path-escaped and base64-encoded.
func encodings(s string) []string {
	b := []byte(s)
	return []string{
		s, url.QueryEscape(s), url.PathEscape(s),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
	}
}

// String returns s with every secret of r and the userinfo of every URL
// replaced by Mark.
func (r Redactor) String(s string) string {
	for _, f := range r.forms {
		s = strings.ReplaceAll(s, f, Mark)
	}
	if strings.Contains(s, "@") {
		s = userinfo.ReplaceAllString(s, "${1}"+Mark+"@")
	}
	return s
}

// Error returns err printing as r.String(err.Error()) while keeping its
// chain for errors.Is and errors.As; err itself when nothing is removed,
// nil for nil.
func (r Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := r.String(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{
		msg: msg,
		err: err,
	}
}

// String returns s without any of secrets and without URL userinfo; see
// Redactor.String. It builds a Redactor per call: keep one with New for a
// hot path.
func String(s string, secrets ...string) string {
	return New(secrets...).String(s)
}

// Value returns a configuration value (a URL or a comma-separated list of
// them) with everything between "://" (or, without a scheme, the start of
// the element after its leading blanks) and the last '@' of each element
// replaced by Mark. Unlike String it assumes nothing about the characters
// of a password: a value that does not even parse as a URL (a space or '/'
// in the password) loses its userinfo too, and so does "user:pass@host",
// which nats.go dials as nats://user:pass@host.
func Value(v string) string {
	elems := strings.Split(v, ",")
	for i, e := range elems {
		prefix, rest, ok := strings.Cut(e, "://")
		if ok {
			prefix += "://"
		} else {
			rest = strings.TrimLeft(e, " \t")
			prefix = e[:len(e)-len(rest)]
		}

		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			elems[i] = prefix + Mark + rest[at:]
		}
	}

	return String(strings.Join(elems, ","))
}

// redactedError prints msg and unwraps to the original error.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
