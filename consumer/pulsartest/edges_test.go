package pulsartest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// TestWrongTenant: 8x8 answers a tenant the key does not belong to with
// 401 (8x8 event streaming §2.4, §6.1), not with 101 and an empty stream.
func TestWrongTenant(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{Keys: []string{key}, Tenants: []string{tenant}})
	for _, tc := range []struct {
		path string
		want int
	}{
		{readerP, 101},
		{consumerP, 101},
		{"/ws/v2/reader/persistent/other/event-v1/all", 401},
		{"/ws/v2/consumer/persistent/Acme/event-v1/all/s", 401},
		{"/ws/reader/persistent/acme/cl/event-v1/all", 101},
		{"/ws/reader/persistent/other/cl/event-v1/all", 401},
	} {
		if got := status(t, s, tc.path, "", nil); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.path, got, tc.want)
		}
	}
}

// TestCredentialForms: with keys configured only the forms 8x8 documents
// pass (§2.2, §2.3): X-API-Key or ?x-api-key= for any key, Basic only for
// Contact Center tokens; never Bearer, never Basic with an eght_ key.
func TestCredentialForms(t *testing.T) {
	t.Parallel()
	cc := base64.StdEncoding.EncodeToString([]byte("acme:pa55"))
	for _, open := range []bool{false, true} {
		cfg := pulsartest.Config{Keys: []string{key, cc}}
		if open {
			cfg.Keys = nil
		}
		s := pulsartest.Start(t, cfg)
		for _, tc := range []struct {
			name  string
			query string
			h     http.Header
			want  int
		}{
			{"X-API-Key eght", "", http.Header{"X-Api-Key": {key}}, 101},
			{"X-API-Key cc", "", http.Header{"X-Api-Key": {cc}}, 101},
			{"query eght", "x-api-key=" + url.QueryEscape(key), http.Header{}, 101},
			{"Basic cc", "", http.Header{"Authorization": {"Basic " + cc}}, 101},
			{"token=Basic cc", "token=Basic+" + url.QueryEscape(cc), http.Header{}, 101},
			{"Bearer eght", "", http.Header{"Authorization": {"Bearer " + key}}, 401},
			{"Bearer cc", "", http.Header{"Authorization": {"Bearer " + cc}}, 401},
			{"Basic eght", "", http.Header{"Authorization": {"Basic " + key}}, 401},
			{"Basic not user:password", "", http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("nocolon"))}}, 401},
			{"token=Bearer eght", "token=Bearer+" + key, http.Header{}, 401},
			{"token=eght (Pulsar adds Bearer)", "token=" + key, http.Header{}, 401},
			{"token=Basic eght", "token=Basic+" + key, http.Header{}, 401},
			{"Authorization without scheme", "", http.Header{"Authorization": {key}}, 401},
			{"X-API-Key beside a Bearer header", "", http.Header{"X-Api-Key": {key}, "Authorization": {"Bearer " + key}}, 101},
		} {
			if got := status(t, s, readerP, tc.query, tc.h); got != tc.want {
				t.Errorf("open=%v %s: status %d, want %d", open, tc.name, got, tc.want)
			}
		}
	}
}

// TestUnknownNamespace: the proxy cannot create a reader or consumer in a
// namespace that does not exist and answers 500, not 101 and silence.
func TestUnknownNamespace(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/ws/v2/reader/persistent/acme/agent-v1/ag1", 101},
		{"/ws/v2/reader/persistent/acme/events-v1/all", 500},
		{"/ws/v2/consumer/persistent/acme/event-v2/all/s", 500},
		{"/ws/reader/persistent/acme/cl/default/all", 500},
	} {
		if got := status(t, s, tc.path, "", nil); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.path, got, tc.want)
		}
	}
	custom := pulsartest.Start(t, pulsartest.Config{Namespaces: []string{"ns"}})
	if got := status(t, custom, "/ws/v2/reader/persistent/acme/ns/t", "", nil); got != 101 {
		t.Errorf("configured namespace: %d", got)
	}
	if got := status(t, custom, readerP, "", nil); got != 500 {
		t.Errorf("event-v1 when only ns is configured: %d", got)
	}
}

// logRecords returns the JSON log records in l whose msg is msg.
func logRecords(t *testing.T, l *testutil.SyncBuffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range l.Lines() {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func logTo(l *testutil.SyncBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestLogsRefusalsAndCloses: refused handshakes are logged with their
// reason, sessions with who closed them and why, idle timeouts included;
// never the credential.
func TestLogsRefusalsAndCloses(t *testing.T) {
	t.Parallel()
	var logs testutil.SyncBuffer
	s := pulsartest.Start(t, pulsartest.Config{
		Keys: []string{key}, Tenants: []string{tenant}, IdleTimeout: 200 * time.Millisecond, Logger: logTo(&logs),
	})
	refusals := map[string]struct {
		path string
		h    http.Header
	}{
		"tenant":            {"/ws/v2/reader/persistent/other/event-v1/all", nil},
		"Bearer":            {readerP, http.Header{"Authorization": {"Bearer " + key}}},
		"unknown key":       {readerP, http.Header{"X-Api-Key": {"eght_wrong"}}},
		"no credential":     {readerP, http.Header{}},
		"unknown namespace": {"/ws/v2/reader/persistent/acme/nope/all", nil},
	}
	for _, r := range refusals {
		status(t, s, r.path, "", r.h)
	}
	recs := logRecords(t, &logs, "pulsartest: handshake refused")
	for want := range refusals {
		found := false
		for _, rec := range recs {
			reason, _ := rec["reason"].(string)
			found = found || strings.Contains(reason, want)
		}
		if !found {
			t.Errorf("no refusal logged with reason %q in %v", want, recs)
		}
	}

	idle := dial(t, s, readerP, nil)
	if code := idle.closed(); code != websocket.StatusGoingAway {
		t.Fatalf("idle close %d", code)
	}
	cl := dial(t, s, consumerP, nil)
	if err := cl.c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("client close: %v", err)
	}
	if err := s.WaitSessions(testutil.Context(t, wait), 0); err != nil {
		t.Fatal(err)
	}
	// An idle session is detached when its timeout fires, before its
	// goroutine ends and logs the close: wait for the lines themselves.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("emulator log:\n%s", logs.String())
		}
	})
	testutil.WaitFor(t, wait, "the idle close logged as by the server and the other as by the client", func() bool {
		var byServer, byClient bool
		for _, rec := range logRecords(t, &logs, "pulsartest: session closed") {
			byServer = byServer || rec["closed_by"] == "server" && rec["reason"] == "Idle timeout" && rec["code"] == 1001.0
			byClient = byClient || rec["closed_by"] == "client" && rec["reason"] == "bye" && rec["code"] == 1000.0 &&
				rec["kind"] == "consumer" && rec["subscription"] == "streamd"
		}
		return byServer && byClient
	})
	if n := len(logRecords(t, &logs, "pulsartest: session opened")); n != 2 {
		t.Errorf("%d sessions logged as opened, want 2", n)
	}
	if strings.Contains(logs.String(), key) {
		t.Errorf("the key is in the log:\n%s", logs.String())
	}
}

// TestShutdownSendsCloseFrame: stopping the server (its context, as
// `streamd emulate` on SIGTERM) sends every client a 1001 close frame
// instead of dropping the connection; a stalled session does not hold the
// shutdown up.
func TestShutdownSendsCloseFrame(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs testutil.SyncBuffer
	s := pulsartest.New(pulsartest.Config{Logger: logTo(&logs)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	base := "ws://" + ln.Addr().String()
	var clients []*client
	for _, p := range []string{readerP, consumerP, "/ws/v2/consumer/persistent/acme/event-v1/all/other"} {
		c, _, err := websocket.Dial(testutil.Context(t, wait), base+p, &websocket.DialOptions{HTTPHeader: http.Header{"X-Api-Key": {key}}})
		if err != nil {
			t.Fatalf("dial %s: %v", p, err)
		}
		clients = append(clients, newClient(t, c))
	}
	if err := s.WaitSessions(testutil.Context(t, wait), 3); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if d := time.Since(start); d > pulsartest.ShutdownGrace {
		t.Errorf("shutdown took %v", d)
	}
	for i, cl := range clients {
		if code := cl.closed(); code != websocket.StatusGoingAway {
			t.Errorf("client %d: close code %d, want 1001", i, code)
		}
	}
	if st := s.Stats(); st.Closes[websocket.StatusGoingAway] != 3 {
		t.Errorf("closes %v", st.Closes)
	}
	if n := len(logRecords(t, &logs, "pulsartest: shutting down")); n != 1 {
		t.Errorf("shutdown logged %d times", n)
	}
}

// TestShutdownDropsStalled: a stalled (half-open) session cannot take a
// close frame; shutdown drops it at once instead of waiting for the grace.
func TestShutdownDropsStalled(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	cl := dial(t, s, readerP, nil)
	if err := s.WaitSessions(testutil.Context(t, wait), 1); err != nil {
		t.Fatal(err)
	}
	s.Stall()
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > pulsartest.ShutdownGrace/2 {
		t.Errorf("shutdown with a stalled session took %v", d)
	}
	if code := cl.closed(); code != -1 {
		t.Errorf("stalled client got close code %d", code)
	}
}
