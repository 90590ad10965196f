package main

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// Short pings for the liveness tests: the stall bound is
// 2 × (500ms + 500ms) + stallMargin.
const (
	livePing  = "500ms"
	liveBound = 2*(time.Second) + stallMargin
)

// TestLivenessQuietTopicsStayAlive: for longer than the stall bound, an
// idle connected topic (pongs move it) and a topic whose only sink is
// blocked (stdout into a pipe nobody reads: every batch waits in the sink)
// keep /healthz at 200 and the WATCHDOG=1 pings flowing.
func TestLivenessQuietTopicsStayAlive(t *testing.T) {
	t.Parallel()
	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		emu := pulsartest.Start(t, pulsartest.Config{})
		out := filepath.Join(t.TempDir(), "events.jsonl")
		p, sock := startLive(t, streamEnv(t, emu, out), nil)
		assertAlive(t, p, sock)
	})
	t.Run("sink blocked", func(t *testing.T) {
		t.Parallel()
		emu := pulsartest.Start(t, pulsartest.Config{})
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		p, sock := startLive(t, streamEnv(t, emu, filepath.Join(t.TempDir(), "events.jsonl"), "STREAMD_SINKS", "stdout"), w)
		_ = w.Close()
		publishN(emu, 0, 3000) // far more than the pipe's 64 KiB
		assertAlive(t, p, sock)
	})
}

// startLive runs the daemon with short pings, a notify socket and the HTTP
// listener, and returns once it is connected.
func startLive(t *testing.T, e env, stdout *os.File) (*proc, *testutil.NotifySocket) {
	t.Helper()
	sock := testutil.ListenNotify(t)
	p := startTo(t, e.with("STREAMD_PING_INTERVAL", livePing, "STREAMD_PING_TIMEOUT", livePing,
		"NOTIFY_SOCKET", sock.Path, "WATCHDOG_USEC", "500000", "STREAMD_HTTP_ADDR", "127.0.0.1:0"), stdout, "run")
	p.waitLog(20*time.Second, "ready: first handshake succeeded")
	return p, sock
}

// assertAlive checks /healthz and the watchdog pings for 1.5 × liveBound.
func assertAlive(t *testing.T, p *proc, sock *testutil.NotifySocket) {
	t.Helper()
	addr := "http://" + logField(t, p.stderr.String(), "serving metrics and health", "addr") + "/healthz"
	from := time.Now()
	testutil.WaitFor(t, 3*liveBound, "1.5 × the stall bound to pass", func() bool {
		if code := healthzCode(t, addr); code != http.StatusOK {
			t.Fatalf("/healthz %d after %v; stderr:\n%s", code, time.Since(from).Round(time.Millisecond), p.stderr.String())
		}
		return time.Since(from) > liveBound*3/2
	})
	pings := countNotify(sock, isWatchdog)
	testutil.WaitFor(t, 10*time.Second, "more WATCHDOG=1 pings", func() bool { return countNotify(sock, isWatchdog) > pings+1 })
}

func healthzCode(t *testing.T, url string) int {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
