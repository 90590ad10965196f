package consumer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/reconnect"
)

func TestClassifyAndReason(t *testing.T) {
	hs := func(code int) error { return fmt.Errorf("dial: %w", &HandshakeError{Status: code}) }
	for _, tc := range []struct {
		err     error
		class   reconnect.Class
		reason  string
		meaning string // a fragment of Hint(err)
	}{
		{hs(401), reconnect.Credential, "unauthorized", "STREAMD_API_KEY"},
		{hs(403), reconnect.Credential, "forbidden", "STREAMD_TOPICS"},
		{hs(404), reconnect.Credential, "not_found", "STREAMD_NAMESPACE"},
		{hs(400), reconnect.Credential, "bad_request", "STREAMD_START"},
		{hs(409), reconnect.Transient, "busy", "busy"},
		{hs(429), reconnect.Transient, "rate_limited", "rate limiting"},
		{hs(503), reconnect.Transient, "server_error", "transient"},
		{hs(418), reconnect.Transient, "handshake", "unexpected"},
		{hs(302), reconnect.Credential, "redirect", "STREAMD_ENDPOINT"},
		{hs(307), reconnect.Credential, "redirect", "never follows"},
		{fmt.Errorf("ping after 1s: %w", ErrPingTimeout), reconnect.Transient, "ping_timeout", ""},
		{fmt.Errorf("2 frames: %w", errWindowLeak), reconnect.Transient, "window_leak", ""},
		{fmt.Errorf("%w: connection refused", errDial), reconnect.Transient, "dial", ""},
		{websocket.CloseError{Code: websocket.StatusGoingAway}, reconnect.Transient, "closed", ""},
		{errors.New("read frame: EOF"), reconnect.Transient, "connection_lost", ""},
		{context.Canceled, reconnect.Stop, "stopped", ""},
	} {
		if got := Classify(tc.err); got != tc.class {
			t.Errorf("Classify(%v) = %v, want %v", tc.err, got, tc.class)
		}
		if got := Reason(tc.err); got != tc.reason {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.reason)
		}
		if tc.class != reconnect.Stop && !slices.Contains(reconnectReasons(), tc.reason) {
			t.Errorf("reason %q is not pre-initialised in streamd_reconnects_total", tc.reason)
		}
		if got := Hint(tc.err); !strings.Contains(got, tc.meaning) || (tc.meaning == "") != (got == "") {
			t.Errorf("Hint(%v) = %q, want it to mention %q", tc.err, got, tc.meaning)
		}
	}
}
