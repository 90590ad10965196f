package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/testutil"
)

// TestStatusLine: the STATUS= line says how long ago the last event was
// acked, and is due again only statusEvery after it was sent.
func TestStatusLine(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	hs := health.New()
	var s status
	if !s.due(t0) {
		t.Error("the first line is not due")
	}
	if got, want := s.line(t0, 0, 1, hs), "connected 0/1 topics, 0 events acked, no events yet"; got != want {
		t.Errorf("before any event: %q, want %q", got, want)
	}
	s.sentAt = t0
	s.observe(t0.Add(time.Second), 5)
	s.observe(t0.Add(2*time.Second), 5) // nothing new: the last event stays at 1s
	if got, want := s.line(t0.Add(4*time.Second), 1, 1, hs), "connected 1/1 topics, 5 events acked, last event 3s ago"; got != want {
		t.Errorf("after events: %q, want %q", got, want)
	}
	if s.due(t0.Add(statusEvery - time.Millisecond)) {
		t.Errorf("due again before %v", statusEvery)
	}
	if !s.due(t0.Add(statusEvery)) {
		t.Errorf("not due after %v", statusEvery)
	}
	hs.Set("sink nats", false, "connecting")
	if got := s.line(t0.Add(4*time.Second), 1, 1, hs); !strings.HasSuffix(got, "; not ready: sink nats: connecting") {
		t.Errorf("a part not ready is not named: %q", got)
	}
}

// TestSystemdStatusRate: under a NOTIFY_SOCKET, while events stream in
// every few milliseconds, `systemctl status` gets "last event N s ago"
// about every statusEvery, not per event or per watchdog ping.
func TestSystemdStatusRate(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	sock := testutil.ListenNotify(t)
	out := filepath.Join(t.TempDir(), "events.jsonl")
	pub := publish(t, emu, 100000, 5, 5*time.Millisecond)
	p := start(t, streamEnv(t, emu, out,
		"NOTIFY_SOCKET", sock.Path,
		"WATCHDOG_USEC", "200000",
		"STREAMD_FILE_FSYNC", "never",
	), "run")

	lastEvent := regexp.MustCompile(`^STATUS=connected 1/1 topics, [1-9][0-9]* events acked, last event [0-9]+s ago$`)
	testutil.WaitFor(t, 20*time.Second, "a STATUS line with the last event", func() bool {
		return countNotify(sock, lastEvent.MatchString) > 0 || p.exited()
	})
	from, window := time.Now(), 3*statusEvery
	statuses, pings := countNotify(sock, lastEvent.MatchString), countNotify(sock, isWatchdog)
	testutil.WaitFor(t, window+10*time.Second, "the window to pass", func() bool { return time.Since(from) >= window })
	statuses = countNotify(sock, func(m string) bool { return strings.HasPrefix(m, "STATUS=") }) - statuses
	pings = countNotify(sock, isWatchdog) - pings
	published := len(pub.published())
	t.Logf("in %v: %d STATUS, %d WATCHDOG, %d events published so far", window, statuses, pings, published)
	if statuses < 2 || statuses > 4 {
		t.Errorf("%d STATUS lines in %v; want about %d (2..4)", statuses, window, window/statusEvery)
	}
	if pings < 2*statuses {
		t.Errorf("%d WATCHDOG pings against %d STATUS lines: the status is not rate-limited apart from the watchdog", pings, statuses)
	}
	if published < 100 {
		t.Errorf("only %d events published: the test did not stream", published)
	}
}

func isWatchdog(m string) bool { return m == "WATCHDOG=1" }

// countNotify returns how many datagrams on sock so far match.
func countNotify(sock *testutil.NotifySocket, match func(string) bool) int {
	return sock.Count(time.Time{}, match)
}

// TestNoEventsWarning: a daemon that has received nothing for
// STREAMD_NO_EVENTS_WARNING logs one warning naming the region; 0 and a
// busy stream give none.
func TestNoEventsWarning(t *testing.T) {
	t.Parallel()
	const warning = "no events received since start"
	quiet := pulsartest.Start(t, pulsartest.Config{Keys: []string{testKey}})
	p := start(t, checkEnv(t, quiet, "STREAMD_TOPICS", "all", "STREAMD_NO_EVENTS_WARNING", "1s"), "run")
	p.waitLog(15*time.Second, warning)
	p.waitLog(15*time.Second, `"level":"INFO","msg":"ready`)
	p.signal(syscall.SIGTERM)
	if code := p.wait(15 * time.Second); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if n := strings.Count(p.stderr.String(), warning); n != 1 {
		t.Errorf("%d warnings, want 1", n)
	}

	off := start(t, checkEnv(t, quiet, "STREAMD_TOPICS", "all", "STREAMD_NO_EVENTS_WARNING", "0"), "run")
	busyEmu := pulsartest.Start(t, pulsartest.Config{Keys: []string{testKey}})
	ev, _ := pulsartest.NewGenerator("acme", 1).Next()
	busyEmu.Publish("acme/event-v1/all", ev)
	busy := start(t, checkEnv(t, busyEmu, "STREAMD_TOPICS", "all", "STREAMD_START", "earliest", "STREAMD_NO_EVENTS_WARNING", "1s"), "run")
	busy.waitLog(15*time.Second, `"msg":"ready`)
	testutil.WaitFor(t, 15*time.Second, "the event on stdout", func() bool { return strings.Contains(busy.stdout.String(), "messageId") })
	off.waitLog(15*time.Second, `"msg":"ready`)
	// Absence can only be shown over time: both run for three times the
	// limit, ticks of one second included.
	began := time.Now()
	testutil.WaitFor(t, 15*time.Second, "3s of running", func() bool { return time.Since(began) > 3*time.Second })
	for _, q := range []*proc{off, busy} {
		q.signal(syscall.SIGTERM)
		q.wait(15 * time.Second)
		if strings.Contains(q.stderr.String(), warning) {
			t.Errorf("unexpected warning:\n%s", q.stderr.String())
		}
	}
}
