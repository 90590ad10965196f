package consumer

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted replaces every secret removed from text.
const redacted = "REDACTED"

// userinfo matches credentials embedded in URLs ("scheme://user:pass@").
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@`)

// Redact returns s without credential (raw, query-escaped or path-escaped)
// and without the userinfo of any URL it contains, each replaced by
// "REDACTED". It is the one redaction used for logs, `check` output, config
// errors and handshake errors. An empty credential only removes userinfo.
func Redact(s, credential string) string {
	return newRedactor(credential).string(s)
}

// redactor removes a credential, raw and URL-encoded, from error text.
type redactor struct{ secrets []string }

func newRedactor(cred string) redactor {
	if cred == "" {
		return redactor{}
	}
	return redactor{secrets: []string{cred, url.QueryEscape(cred), url.PathEscape(cred)}}
}

func (r redactor) string(s string) string {
	for _, sec := range r.secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redacted)
		}
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
