package e2e

import (
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// notification is one sd_notify datagram.
type notification struct {
	msg string
	at  time.Time
}

// notifySocket plays systemd's side of sd_notify: a unixgram socket that
// records every datagram.
type notifySocket struct {
	path string
	mu   sync.Mutex
	got  []notification
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	ns := &notifySocket{path: filepath.Join(t.TempDir(), "notify.sock")}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: ns.path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", ns.path, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			ns.mu.Lock()
			ns.got = append(ns.got, notification{string(buf[:n]), time.Now()})
			ns.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return ns
}

// msgs returns the datagrams received so far.
func (ns *notifySocket) msgs() []string {
	var out []string
	for _, n := range ns.all() {
		out = append(out, n.msg)
	}
	return out
}

func (ns *notifySocket) all() []notification {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return append([]notification(nil), ns.got...)
}

// count returns how many datagrams equal msg (or, with prefix, start with it)
// arrived at or after since.
func (ns *notifySocket) count(msg string, prefix bool, since time.Time) int {
	n := 0
	for _, x := range ns.all() {
		if !x.at.Before(since) && (x.msg == msg || prefix && strings.HasPrefix(x.msg, msg)) {
			n++
		}
	}
	return n
}

// TestDaemonSdNotify runs the binary with a NOTIFY_SOCKET and a 400ms
// watchdog: no READY=1 while every handshake is refused, READY=1 once one
// succeeds, WATCHDOG=1 every ~200ms, a STATUS= line with the connection
// count, and STOPPING=1 then exit 0 on SIGTERM.
func TestDaemonSdNotify(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	emu.RejectHandshakes(http.StatusServiceUnavailable, -1)
	sock := listenNotify(t)
	start := time.Now()
	d := startDaemon(t,
		"NOTIFY_SOCKET="+sock.path, "WATCHDOG_USEC=400000",
		"STREAMD_TENANT="+tenant, "STREAMD_API_KEY="+testKey, "STREAMD_ENDPOINT="+emu.URL(),
		"STREAMD_MODE=consumer", "STREAMD_START=earliest", "STREAMD_STATE_DIR="+t.TempDir(),
		"STREAMD_SINKS=stdout", "STREAMD_HTTP_ADDR=", "STREAMD_LOG_FORMAT=json",
		"STREAMD_RECONNECT_MIN=20ms", "STREAMD_RECONNECT_MAX=100ms",
	)

	// While the proxy refuses handshakes the watchdog is fed, but no READY.
	testutil.WaitFor(t, 10*time.Second, "watchdog pings before the first handshake", func() bool {
		return sock.count("WATCHDOG=1", false, start) >= 2 && emu.Stats().Handshakes[http.StatusServiceUnavailable] >= 2
	})
	if n := sock.count("READY=1", false, start); n != 0 {
		t.Fatalf("READY=1 sent before any handshake succeeded: %q", sock.msgs())
	}
	if sock.count("STATUS=connected 0/1 topics", true, start) == 0 {
		t.Errorf("no STATUS=connected 0/1 topics while disconnected: %q", sock.msgs())
	}

	emu.RejectHandshakes(0, 0)
	testutil.WaitFor(t, 10*time.Second, "READY=1 after the handshake", func() bool { return sock.count("READY=1", false, start) > 0 })
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
		return time.Since(from) >= window && sock.count("STATUS=connected 1/1 topics, 1 events acked", true, from) > 0
	})
	beats := sock.count("WATCHDOG=1", false, from) - sock.count("WATCHDOG=1", false, from.Add(window))
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
	testutil.WaitFor(t, 5*time.Second, "STOPPING=1", func() bool { return sock.count("STOPPING=1", false, stopAt) == 1 })
	var kinds []string
	for _, n := range sock.all() {
		k, _, _ := strings.Cut(n.msg, "=")
		if len(kinds) == 0 || kinds[len(kinds)-1] != k {
			kinds = append(kinds, k)
		}
	}
	t.Logf("notification sequence (runs collapsed): %v", kinds)
}
