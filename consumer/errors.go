package consumer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/reconnect"
)

// HandshakeError is a WebSocket upgrade the proxy refused with an HTTP status.
type HandshakeError struct {
	Status int
	Body   string // first bytes of the response body, redacted
}

func (e *HandshakeError) Error() string {
	msg := fmt.Sprintf("handshake refused: %d %s", e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Meaning explains a handshake status in terms of streamd's configuration.
func (e *HandshakeError) Meaning() string {
	switch {
	case e.Status == http.StatusUnauthorized:
		return "the proxy rejected the credential: check STREAMD_API_KEY (an Admin Console key with the \"Pulsar Event Stream\" API product, or a Contact Center token), that STREAMD_TENANT is the key's tenant, and STREAMD_REGION"
	case e.Status == http.StatusForbidden:
		return "the credential may not read this topic: check STREAMD_TOPICS and STREAMD_NAMESPACE (try \"all\" first)"
	case e.Status == http.StatusNotFound:
		return "the topic does not exist: check STREAMD_TENANT, STREAMD_NAMESPACE and STREAMD_TOPICS"
	case e.Status == http.StatusBadRequest:
		return "the proxy rejected a parameter: check STREAMD_SUBSCRIPTION_TYPE, STREAMD_RECEIVER_QUEUE_SIZE and STREAMD_START"
	case e.Status == http.StatusConflict:
		return "the subscription is busy (an Exclusive subscription already has a consumer, or the proxy has not released the previous one yet); retrying"
	case e.Status == http.StatusTooManyRequests:
		return "the proxy is rate limiting connections; retrying with backoff"
	case e.Status >= 500:
		return "the proxy or broker failed (transient on 8x8's side); retrying with backoff"
	}
	return "unexpected handshake status; retrying with backoff"
}

// ErrPingTimeout ends a session whose peer did not answer a ping in time
// (a half-open or wedged connection).
var ErrPingTimeout = errors.New("ping timeout: the proxy stopped answering")

// Classify says how the supervisor should treat the end of a session.
func Classify(err error) reconnect.Class {
	if err == nil {
		return reconnect.Transient
	}
	if errors.Is(err, context.Canceled) {
		return reconnect.Stop
	}
	var he *HandshakeError
	if errors.As(err, &he) {
		switch he.Status {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusBadRequest:
			return reconnect.Credential
		}
	}
	return reconnect.Transient
}

// Reason maps a session end to a short, low-cardinality label.
func Reason(err error) string {
	var he *HandshakeError
	switch {
	case err == nil:
		return "closed"
	case errors.As(err, &he):
		switch {
		case he.Status == http.StatusUnauthorized:
			return "unauthorized"
		case he.Status == http.StatusForbidden:
			return "forbidden"
		case he.Status == http.StatusNotFound:
			return "not_found"
		case he.Status == http.StatusBadRequest:
			return "bad_request"
		case he.Status == http.StatusConflict:
			return "busy"
		case he.Status == http.StatusTooManyRequests:
			return "rate_limited"
		case he.Status >= 500:
			return "server_error"
		}
		return "handshake"
	case errors.Is(err, ErrPingTimeout):
		return "ping_timeout"
	case errors.Is(err, errDial):
		return "dial"
	case websocket.CloseStatus(err) != -1:
		return "closed"
	case errors.Is(err, context.Canceled):
		return "stopped"
	}
	return "connection_lost"
}

// Hint is what an operator should do about a credential-class error.
func Hint(err error) string {
	var he *HandshakeError
	if errors.As(err, &he) {
		return he.Meaning()
	}
	return ""
}

var errDial = errors.New("dial")

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
			s = strings.ReplaceAll(s, sec, "REDACTED")
		}
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
	if err == nil || len(r.secrets) == 0 {
		return err
	}
	msg := r.string(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}
