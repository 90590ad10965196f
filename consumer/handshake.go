package consumer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/reconnect"
)

// handshakeError is a WebSocket upgrade the proxy refused with an HTTP status.
type handshakeError struct {
	Status   int
	Body     string // first bytes of the response body, redacted
	Location string // a redirect's target host[:port] (never its path or query)
}

func (e *handshakeError) Error() string {
	msg := fmt.Sprintf("handshake refused: %d %s", e.Status, http.StatusText(e.Status))
	if e.Location != "" {
		msg += ": redirect to " + e.Location + " not followed"
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// handshakeStatus is what streamd knows about one refusal status: how to
// retry, the metric label, and what it means for the configuration.
type handshakeStatus struct {
	class   reconnect.Class
	reason  string
	meaning string
}

var handshakeStatuses = map[int]handshakeStatus{
	http.StatusUnauthorized: {reconnect.Credential, "unauthorized",
		"the proxy rejected the credential: check STREAMD_API_KEY (an Admin Console key with the \"Pulsar Event Stream\" API product, or a Contact Center token), that STREAMD_TENANT is the key's tenant, and STREAMD_REGION"},
	http.StatusForbidden: {reconnect.Credential, "forbidden",
		"the credential may not read this topic: check STREAMD_TOPICS and STREAMD_NAMESPACE (try \"all\" first)"},
	http.StatusNotFound: {reconnect.Credential, "not_found",
		"the topic does not exist: check STREAMD_TENANT, STREAMD_NAMESPACE and STREAMD_TOPICS"},
	http.StatusBadRequest: {reconnect.Credential, "bad_request",
		"the proxy rejected a parameter: check STREAMD_SUBSCRIPTION_TYPE, STREAMD_RECEIVER_QUEUE_SIZE and STREAMD_START"},
	http.StatusConflict: {reconnect.Transient, "busy",
		"the subscription is busy (an Exclusive subscription already has a consumer, or the proxy has not released the previous one yet); retrying"},
	http.StatusTooManyRequests: {reconnect.Transient, "rate_limited",
		"the proxy is rate limiting connections; retrying with backoff"},
}

func (e *handshakeError) status() handshakeStatus {
	if st, ok := handshakeStatuses[e.Status]; ok {
		return st
	}

	if e.Status >= 300 && e.Status < 400 {
		return handshakeStatus{reconnect.Credential, "redirect",
			"the endpoint redirected the handshake to " + cmp.Or(e.Location, "another address") +
				"; streamd never follows a redirect there (the key would go to that host): set STREAMD_ENDPOINT (or STREAMD_REGION) to the proxy's own wss:// address, or fix the load balancer that redirects"}
	}

	if e.Status >= 500 {
		return handshakeStatus{reconnect.Transient, "server_error",
			"the proxy or broker failed (transient on 8x8's side); retrying with backoff"}
	}

	return handshakeStatus{reconnect.Transient, "handshake", "unexpected handshake status; retrying with backoff"}
}

// Meaning explains a handshake status in terms of streamd's configuration.
func (e *handshakeError) Meaning() string { return e.status().meaning }

// errPingTimeout ends a session whose peer did not answer a ping in time
// (a half-open or wedged connection).
var errPingTimeout = errors.New("consumer: ping timeout: the proxy stopped answering")

// errWindowLeak ends a consumer session in which frames that cannot be
// acked hold half the proxy's window (see session.leak).
var errWindowLeak = errors.New("consumer: window slots held by frames without an ackable id")

// classify says how the supervisor should treat the end of a session.
func classify(err error) reconnect.Class {
	if err == nil {
		return reconnect.Transient
	}
	if errors.Is(err, context.Canceled) {
		return reconnect.Stop
	}
	var he *handshakeError
	if errors.As(err, &he) {
		return he.status().class
	}
	return reconnect.Transient
}

// reason maps a session end to a short, low-cardinality label.
func reason(err error) string {
	var he *handshakeError
	switch {
	case err == nil:
		return "closed"
	case errors.As(err, &he):
		return he.status().reason
	case errors.Is(err, errPingTimeout):
		return "ping_timeout"
	case errors.Is(err, errWindowLeak):
		return "window_leak"
	case errors.Is(err, errDial):
		return "dial"
	case websocket.CloseStatus(err) != -1:
		return "closed"
	case errors.Is(err, context.Canceled):
		return "stopped"
	}

	return "connection_lost"
}

// Refused reports whether err is a handshake the proxy refused for a
// reason that retrying cannot fix (401, 403, 404, 400, a redirect): a one-shot command
// stops on it instead of retrying like the daemon.
func Refused(err error) bool { return classify(err) == reconnect.Credential }

// reconnectReasons are the values reason gives a retried session end: the
// known values of streamd_reconnects_total's "reason" label.
func reconnectReasons() []string {
	out := []string{"server_error", "handshake", "redirect", "ping_timeout", "window_leak", "dial", "closed", "connection_lost"}
	for _, st := range handshakeStatuses {
		out = append(out, st.reason)
	}
	slices.Sort(out)
	return out
}

// knownStatuses are the handshake statuses streamd_handshake_failures_total
// starts with (0: no HTTP response): those 8x8 and the proxy document
// (8x8 event streaming §6.1).
var knownStatuses = []int{0, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504}

// Hint is what an operator should do about a credential-class error.
func Hint(err error) string {
	var he *handshakeError
	if errors.As(err, &he) {
		return he.Meaning()
	}
	return ""
}

// errDial marks a connection that failed before any HTTP response.
var errDial = errors.New("consumer: dial failed")
