package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// countNotify returns how many datagrams on sock equal msg (or, with
// prefix, start with it) arrived at or after since.
func countNotify(sock *testutil.NotifySocket, msg string, prefix bool, since time.Time) int {
	return sock.Count(since, func(m string) bool { return m == msg || prefix && strings.HasPrefix(m, msg) })
}

// TestDaemonSdNotify runs the binary with a NOTIFY_SOCKET and a 400ms
// watchdog: no READY=1 while every handshake is refused, READY=1 once one
// succeeds, WATCHDOG=1 every ~200ms, a STATUS= line with the connection
// count, and STOPPING=1 then exit 0 on SIGTERM.
func TestDaemonSdNotify(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	emu.RejectHandshakes(http.StatusServiceUnavailable, -1)
	sock := testutil.ListenNotify(t)
	start := time.Now()
	d := startDaemon(t,
		"NOTIFY_SOCKET="+sock.Path, "WATCHDOG_USEC=400000",
		"STREAMD_TENANT="+tenant, "STREAMD_API_KEY="+testKey, "STREAMD_ENDPOINT="+emu.URL(),
		"STREAMD_MODE=consumer", "STREAMD_START=earliest", "STREAMD_STATE_DIR="+t.TempDir(),
		"STREAMD_SINKS=stdout", "STREAMD_HTTP_ADDR=", "STREAMD_LOG_FORMAT=json",
		"STREAMD_RECONNECT_MIN=20ms", "STREAMD_RECONNECT_MAX=100ms",
	)

	// While the proxy refuses handshakes the watchdog is fed, but no READY.
	testutil.WaitFor(t, 10*time.Second, "watchdog pings before the first handshake", func() bool {
		return countNotify(sock, "WATCHDOG=1", false, start) >= 2 && emu.Stats().Handshakes[http.StatusServiceUnavailable] >= 2
	})
	if n := countNotify(sock, "READY=1", false, start); n != 0 {
		t.Fatalf("READY=1 sent before any handshake succeeded: %q", sock.Msgs())
	}
	if countNotify(sock, "STATUS=connected 0/1 topics", true, start) == 0 {
		t.Errorf("no STATUS=connected 0/1 topics while disconnected: %q", sock.Msgs())
	}

	emu.RejectHandshakes(0, 0)
	testutil.WaitFor(t, 10*time.Second, "READY=1 after the handshake", func() bool { return countNotify(sock, "READY=1", false, start) > 0 })
	// The emulator counts a handshake once its upgrade returns, which can
	// be just after streamd saw the 101 and said READY.
	testutil.WaitFor(t, 10*time.Second, "the emulator to count the handshake", func() bool {
		return emu.Stats().Handshakes[http.StatusSwitchingProtocols] >= 1
	})
	if st := emu.Stats(); st.Handshakes[http.StatusSwitchingProtocols] != 1 {
		t.Errorf("READY=1 with %d successful handshakes, want 1", st.Handshakes[http.StatusSwitchingProtocols])
	}
	emu.PublishEvent(tenant, []byte(`{"interaction":{"eventType":"InteractionCreated","seq":1}}`), "InteractionCreated")

	// Watchdog pings at about half of WATCHDOG_USEC: ~10 in a 2s window.
	const window = 2 * time.Second
	from := time.Now()
	testutil.WaitFor(t, window+5*time.Second, "a STATUS with 1/1 connected and 1 acked, and the watchdog window", func() bool {
		return time.Since(from) >= window && countNotify(sock, "STATUS=connected 1/1 topics, 1 events acked", true, from) > 0
	})
	beats := countNotify(sock, "WATCHDOG=1", false, from) - countNotify(sock, "WATCHDOG=1", false, from.Add(window))
	t.Logf("WATCHDOG=1 datagrams in %v: %d (period 200ms expected)", window, beats)
	if beats < 4 || beats > 20 {
		t.Errorf("%d WATCHDOG=1 in %v with WATCHDOG_USEC=400000; want about 10 (4..20)", beats, window)
	}
	if !strings.Contains(d.stdout.String(), `"seq":1`) {
		t.Errorf("stdout sink did not get the event: %q", d.stdout.String())
	}

	stopAt := time.Now()
	if code := d.stop(); code != 0 {
		t.Errorf("streamd exited %d after SIGTERM, want 0", code)
	}
	if strings.Contains(d.stderr.String(), "serving metrics and health") {
		t.Errorf("STREAMD_HTTP_ADDR= (empty) did not disable the HTTP listener")
	}
	testutil.WaitFor(t, 5*time.Second, "STOPPING=1", func() bool { return countNotify(sock, "STOPPING=1", false, stopAt) == 1 })
	var kinds []string
	for _, n := range sock.All() {
		k, _, _ := strings.Cut(n.Msg, "=")
		if len(kinds) == 0 || kinds[len(kinds)-1] != k {
			kinds = append(kinds, k)
		}
	}
	t.Logf("notification sequence (runs collapsed): %v", kinds)
}
