package consumer_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/reconnect"
	"github.com/streamd/streamd/sink/sinktest"
)

// TestRejectedCredentialBacksOffAndRecovers: a 401 (wrong key) or 403
// (forbidden topic) is logged at error level with what to fix, retried at
// the maximum delay (never a hot loop), and recovers by itself once the
// proxy accepts the key or topic.
func TestRejectedCredentialBacksOffAndRecovers(t *testing.T) {
	cases := []struct {
		name   string
		status int
		reason string
		hint   string
		break_ func(srv *pulsartest.Server)
		fix    func(srv *pulsartest.Server)
	}{
		{"unauthorized", http.StatusUnauthorized, "unauthorized", "STREAMD_API_KEY",
			func(srv *pulsartest.Server) { srv.SetKeys("eght_the_right_key") },
			func(srv *pulsartest.Server) { srv.SetKeys("eght_the_right_key", apiKey) }},
		{"forbidden", http.StatusForbidden, "forbidden", "STREAMD_TOPICS",
			func(srv *pulsartest.Server) { srv.SetForbidden("event-v1/all") },
			func(srv *pulsartest.Server) { srv.SetForbidden() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := pulsartest.Start(t, pulsartest.Config{})
			c.break_(srv)
			ids := publish(srv, pulsartest.NewGenerator(tenant, 21), allTopic, 20)
			rec := &sinktest.Recorder{}
			opts, _ := newOptions(t, rec)
			opts.Policy = reconnect.Policy{Min: 10 * time.Millisecond, Max: 60 * time.Millisecond, HealthyAfter: time.Second}
			var logs testutil.SyncBuffer
			opts.Logger = newLogger(t, &logs)
			start := time.Now()
			run(t, newConfig(srv, consumer.ModeReader, "all"), opts)

			const attempts = 6
			testutil.WaitFor(t, wait, "repeated rejections", func() bool { return srv.Stats().Handshakes[c.status] >= attempts })
			elapsed := time.Since(start)
			n := srv.Stats().Handshakes[c.status]
			// A credential end waits at least Max/2 before the next attempt.
			if floor := time.Duration(n-1) * opts.Policy.Max / 2; elapsed < floor {
				t.Errorf("%d attempts in %v: faster than one per Max/2 (%v), a hot loop", n, elapsed, floor)
			}
			t.Logf("%d rejected attempts in %v", n, elapsed.Round(time.Millisecond))
			if rec.Count() != 0 {
				t.Fatal("delivered while rejected")
			}
			var errLines int
			for _, l := range jsonLines(t, &logs) {
				if l["level"] != "ERROR" {
					continue
				}
				errLines++
				if l["reason"] != c.reason {
					t.Errorf("error log reason = %v, want %s", l["reason"], c.reason)
				}
				if h, _ := l["hint"].(string); !strings.Contains(h, c.hint) {
					t.Errorf("error log hint %q does not name %s", h, c.hint)
				}
			}
			if errLines == 0 {
				t.Fatalf("no error-level log; logs:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), apiKey) {
				t.Error("the credential appears in the logs")
			}

			c.fix(srv)
			if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
				t.Fatalf("did not recover: %v", err)
			}
			sameIDs(t, "recorder", rec.IDs(), ids)
			if !strings.Contains(logs.String(), `"msg":"reconnected"`) {
				t.Error("recovery not logged")
			}
		})
	}
}

// TestAuthModes: each mode sends the credential where 8x8 documents it, and
// the header and basic modes never put it in the URL.
func TestAuthModes(t *testing.T) {
	token := base64.StdEncoding.EncodeToString([]byte("acme:cc-password"))
	cases := []struct {
		mode   consumer.AuthMode
		cred   string
		header string // X-API-Key
		query  string // x-api-key
		auth   string // Authorization
	}{
		{consumer.AuthHeader, apiKey, apiKey, "", ""},
		{consumer.AuthQuery, apiKey, "", apiKey, ""},
		{consumer.AuthBasic, token, "", "", "Basic " + token},
	}
	for _, c := range cases {
		t.Run(string(c.mode), func(t *testing.T) {
			srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{c.cred}})
			ids := publish(srv, pulsartest.NewGenerator(tenant, 22), allTopic, 5)
			rec := &sinktest.Recorder{}
			opts, _ := newOptions(t, rec)
			cfg := newConfig(srv, consumer.ModeConsumer, "all")
			cfg.Auth, cfg.Credential = c.mode, c.cred
			run(t, cfg, opts)
			if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
				t.Fatalf("not delivered: %v", err)
			}
			req := srv.LastRequest()
			if got := req.Header.Get("X-API-Key"); got != c.header {
				t.Errorf("X-API-Key = %q, want %q", got, c.header)
			}
			if got := req.Query.Get("x-api-key"); got != c.query {
				t.Errorf("x-api-key = %q, want %q", got, c.query)
			}
			if got := req.Header.Get("Authorization"); got != c.auth {
				t.Errorf("Authorization = %q, want %q", got, c.auth)
			}
			if c.mode != consumer.AuthQuery && (strings.Contains(req.RawQuery, c.cred) || strings.Contains(req.RawPath, c.cred)) {
				t.Errorf("credential in the URL: %s?%s", req.RawPath, req.RawQuery)
			}
			if srv.Stats().Handshakes[http.StatusUnauthorized] != 0 {
				t.Error("a handshake was refused with 401")
			}
		})
	}
}
