package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/httpserver"
	"github.com/streamd/streamd/internal/sdnotify"
	"github.com/streamd/streamd/internal/testutil"
)

// fakeTopic is a liveTopic whose state the test sets.
type fakeTopic struct {
	name      string
	connected bool
	waiting   bool
	progress  time.Time
}

func (f *fakeTopic) Name() string        { return f.name }
func (f *fakeTopic) Connected() bool     { return f.connected }
func (f *fakeTopic) Waiting() bool       { return f.waiting }
func (f *fakeTopic) Progress() time.Time { return f.progress }

// TestStallRule: only a connected topic that is not waiting for its sinks
// and has not moved for longer than the bound is stalled; idle (pongs
// move it), sink-down, backpressure and reconnecting topics are not.
func TestStallRule(t *testing.T) {
	bound := stallBound(20*time.Second, 10*time.Second)
	if bound != 65*time.Second {
		t.Fatalf("bound %v, want 2×(20s+10s)+5s", bound)
	}
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	now := start
	cases := []struct {
		name  string
		topic fakeTopic
		stuck bool
	}{
		{"idle, pongs every interval", fakeTopic{connected: true, progress: now.Add(-20 * time.Second)}, false},
		{"just under the bound", fakeTopic{connected: true, progress: now.Add(-bound)}, false},
		{"wedged session", fakeTopic{connected: true, progress: now.Add(-bound - time.Second)}, true},
		{"sink down: waiting in the sink write", fakeTopic{connected: true, waiting: true, progress: now.Add(-time.Hour)}, false},
		{"reconnect backoff", fakeTopic{progress: now.Add(-time.Hour)}, false},
		{"never connected", fakeTopic{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.topic.name = "event-v1/all"
			got := stalled([]liveTopic{&tc.topic}, now, bound)
			if (len(got) > 0) != tc.stuck {
				t.Fatalf("stalled = %q, want stuck %v", got, tc.stuck)
			}
			if tc.stuck && !strings.Contains(got[0], "topic event-v1/all") {
				t.Errorf("%q does not name the topic", got[0])
			}
		})
	}

	// The clock moves: an idle topic that stops getting pongs becomes
	// stalled only once the bound has passed, and moving clears it.
	idle := &fakeTopic{name: "a/b", connected: true, progress: start}
	for now = start; now.Sub(start) <= bound; now = now.Add(time.Second) {
		if got := stalled([]liveTopic{idle}, now, bound); got != nil {
			t.Fatalf("at +%v: stalled %q before the bound", now.Sub(start), got)
		}
	}
	if got := stalled([]liveTopic{idle}, now, bound); len(got) != 1 {
		t.Fatalf("at +%v: not stalled past the bound", now.Sub(start))
	}
	idle.progress = now
	if got := stalled([]liveTopic{idle}, now.Add(time.Second), bound); got != nil {
		t.Fatalf("stalled %q after it moved", got)
	}
}

// TestTickWedgedTopic: the main loop's tick, with a topic whose session is
// wedged (connected, not waiting for sinks, no frame or pong past the
// bound; a fake stands in for the hung session, which the consumer's own
// ping check otherwise replaces), makes /healthz answer 503 naming the
// topic and stops the WATCHDOG=1 pings; once the topic moves, both recover.
func TestTickWedgedTopic(t *testing.T) {
	sock := testutil.ListenNotify(t)
	t.Setenv("NOTIFY_SOCKET", sock.Path)
	start := time.Now()
	wedged := &fakeTopic{name: "event-v1/all", connected: true, progress: start}
	d := &daemon{
		cfg:      &Config{PingInterval: 500 * time.Millisecond, PingTimeout: 500 * time.Millisecond},
		log:      slog.New(slog.DiscardHandler),
		health:   health.New(),
		notify:   sdnotify.New(),
		drainCtx: context.Background(),
		live:     []liveTopic{wedged},
	}
	srv := httpserver.New("127.0.0.1:0", nil, d.health, nil)
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Listen(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	url := "http://" + srv.Addr() + "/healthz"
	bound := stallBound(d.cfg.PingInterval, d.cfg.PingTimeout)

	d.tick(start.Add(bound))
	testutil.WaitFor(t, 5*time.Second, "a WATCHDOG=1 while the topic is within the bound", func() bool { return countNotify(sock, isWatchdog) == 1 })
	if code := healthzCode(t, url); code != http.StatusOK {
		t.Fatalf("/healthz %d within the bound", code)
	}

	for i := range 3 {
		d.tick(start.Add(bound + time.Duration(i+1)*time.Second))
	}
	code, body := getBody(t, url)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "topic event-v1/all") {
		t.Fatalf("/healthz %d %s past the bound, want 503 naming the topic", code, body)
	}

	wedged.progress = start.Add(bound + 4*time.Second)
	d.tick(start.Add(bound + 5*time.Second))
	testutil.WaitFor(t, 5*time.Second, "the WATCHDOG=1 after the topic moved", func() bool { return countNotify(sock, isWatchdog) >= 2 })
	if n := countNotify(sock, isWatchdog); n != 2 {
		t.Errorf("%d WATCHDOG=1 pings, want 2: the 3 ticks while wedged fed the watchdog", n)
	}
	if code := healthzCode(t, url); code != http.StatusOK {
		t.Errorf("/healthz %d after the topic moved", code)
	}
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
