package sink_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/metrics"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/sinktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func events(types ...string) []*sink.Event {
	out := make([]*sink.Event, len(types))
	for i, typ := range types {
		out[i] = &sink.Event{
			MessageID: fmt.Sprintf("id-%d", i), Topic: "persistent://t/ns/all",
			EventType: typ, Properties: []byte(`{}`),
			Payload: fmt.Appendf(nil, `{"eventType":%q,"n":%d}`, typ, i),
		}
	}
	return out
}

func fastRetry(targets ...sink.Target) sink.FanoutConfig {
	return sink.FanoutConfig{Targets: targets, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}
}

func TestFanoutFilters(t *testing.T) {
	all, created, none := &sinktest.Recorder{}, &sinktest.Recorder{}, &sinktest.Recorder{}
	f := sink.NewFanout(fastRetry(
		sink.Target{Name: "all", Sink: all},
		sink.Target{Name: "created", Sink: created, Events: []string{"InteractionCreated", "Other"}},
		sink.Target{Name: "none", Sink: none, Events: []string{"Nope"}},
	))
	defer f.Close(context.Background())
	batch := events("InteractionCreated", "InteractionDeleted", "InteractionCreated", "AgentStatus")
	if err := f.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(all.IDs(), ","), "id-0,id-1,id-2,id-3"; got != want {
		t.Errorf("all got %s, want %s", got, want)
	}
	if got, want := strings.Join(created.IDs(), ","), "id-0,id-2"; got != want {
		t.Errorf("created got %s, want %s", got, want)
	}
	if none.Calls() != 0 {
		t.Errorf("target with nothing to write was called %d times", none.Calls())
	}
	if got := string(all.Events()[1].Payload); got != string(batch[1].Payload) {
		t.Errorf("payload %s, want %s", got, batch[1].Payload)
	}
}

func TestFanoutRetriesOnlyFailedTargets(t *testing.T) {
	good, flaky := &sinktest.Recorder{}, &sinktest.Recorder{}
	var calls atomic.Int32
	flakyFn := sinktest.Func(func(ctx context.Context, b []*sink.Event) error {
		if calls.Add(1) <= 3 {
			return errors.New("temporarily broken")
		}
		return flaky.Write(ctx, b)
	})
	f := sink.NewFanout(fastRetry(sink.Target{Name: "good", Sink: good}, sink.Target{Name: "flaky", Sink: flakyFn}))
	defer f.Close(context.Background())
	if err := f.Write(context.Background(), events("A", "B")); err != nil {
		t.Fatal(err)
	}
	if good.Calls() != 1 || good.Count() != 2 {
		t.Errorf("good: %d calls, %d events; want 1 call, 2 events", good.Calls(), good.Count())
	}
	if calls.Load() != 4 || flaky.Count() != 2 {
		t.Errorf("flaky: %d calls, %d events; want 4 calls, 2 events", calls.Load(), flaky.Count())
	}
}

func TestFanoutHealthMetricsLogs(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	h := health.New()
	var logs testutil.SyncBuffer
	rec := &sinktest.Recorder{}
	cfg := fastRetry(sink.Target{Name: "nats", Sink: rec})
	cfg.Metrics, cfg.Health = m, h
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	f := sink.NewFanout(cfg)
	defer f.Close(context.Background())

	if ready, _ := h.Ready(); !ready {
		t.Fatalf("not ready before any failure: %v", h.NotReady())
	}
	if got := metricValue(t, reg, "streamd_sink_ready", "nats"); got != 1 {
		t.Errorf("sink ready before any write = %v, want 1", got)
	}
	if got := metricValue(t, reg, "streamd_sink_write_errors_total", "nats"); got != 0 {
		t.Errorf("errors before any write = %v, want 0", got)
	}
	rec.Fail(errors.New("dial nats://alice:s3cret@nats.example:4222: connection refused"))
	done := make(chan error, 1)
	go func() { done <- f.Write(context.Background(), events("A", "B", "C")) }()

	testutil.WaitFor(t, 5*time.Second, "several failed attempts", func() bool { return rec.Calls() >= 5 })
	if got := metricValue(t, reg, "streamd_sink_ready", "nats"); got != 0 {
		t.Errorf("sink ready while failing = %v, want 0", got)
	}
	nr := h.NotReady()
	if len(nr) != 1 || !strings.HasPrefix(nr[0], "sink nats: dial nats://REDACTED@nats.example") {
		t.Errorf("NotReady = %q", nr)
	}
	if strings.Contains(strings.Join(nr, ""), "s3cret") {
		t.Errorf("secret in health reason: %q", nr)
	}
	rec.Heal()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ready, _ := h.Ready(); !ready {
		t.Errorf("not ready after recovery: %v", h.NotReady())
	}
	if got := metricValue(t, reg, "streamd_sink_ready", "nats"); got != 1 {
		t.Errorf("sink ready after recovery = %v, want 1", got)
	}
	if got := metricValue(t, reg, "streamd_sink_events_accepted_total", "nats"); got != 3 {
		t.Errorf("accepted = %v, want 3", got)
	}
	if got := metricValue(t, reg, "streamd_sink_write_errors_total", "nats"); got < 4 {
		t.Errorf("errors = %v, want ≥ 4", got)
	}
	out := logs.String()
	if n := strings.Count(out, "level=WARN"); n != 1 {
		t.Errorf("%d warn lines, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "sink recovered"); n != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", n, out)
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("secret in logs:\n%s", out)
	}
}

func TestFanoutCancelDuringRetry(t *testing.T) {
	good, bad := &sinktest.Recorder{}, &sinktest.Recorder{}
	bad.Fail(errors.New("disk full"))
	f := sink.NewFanout(fastRetry(sink.Target{Name: "good", Sink: good}, sink.Target{Name: "bad", Sink: bad}))
	defer f.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Write(ctx, events("A")) }()
	testutil.WaitFor(t, 5*time.Second, "retries", func() bool { return bad.Calls() >= 3 })
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err %q does not mention the last sink error", err)
	}
	if good.Calls() != 1 {
		t.Errorf("good target called %d times, want 1", good.Calls())
	}
}

func TestFanoutBlockedSinkHonoursCtx(t *testing.T) {
	slow := &sinktest.Recorder{}
	slow.Block()
	f := sink.NewFanout(fastRetry(sink.Target{Name: "slow", Sink: slow}))
	defer f.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := f.Write(ctx, events("A")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	slow.Unblock()
	if err := f.Write(context.Background(), events("A")); err != nil {
		t.Fatal(err)
	}
}

type closeErrSink struct {
	sinktest.Recorder
	err error
}

func (c *closeErrSink) Close(ctx context.Context) error {
	c.Recorder.Close(ctx)
	return c.err
}

func TestFanoutClose(t *testing.T) {
	a := &closeErrSink{err: errors.New("flush a")}
	b := &closeErrSink{err: errors.New("flush b")}
	bad := &sinktest.Recorder{}
	bad.Fail(errors.New("down"))
	f := sink.NewFanout(fastRetry(sink.Target{Name: "a", Sink: a}, sink.Target{Name: "b", Sink: b},
		sink.Target{Name: "bad", Sink: bad}))
	done := make(chan error, 1)
	go func() { done <- f.Write(context.Background(), events("A")) }()
	testutil.WaitFor(t, 5*time.Second, "retries", func() bool { return bad.Calls() >= 2 })
	err := f.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "close sink a: flush a") ||
		!strings.Contains(err.Error(), "close sink b: flush b") {
		t.Errorf("Close = %v, want both errors", err)
	}
	if err := <-done; !errors.Is(err, sink.ErrClosed) {
		t.Errorf("Write during Close = %v, want ErrClosed", err)
	}
	if err := f.Write(context.Background(), events("A")); !errors.Is(err, sink.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err2 := f.Close(context.Background()); err2 == nil {
		t.Errorf("second Close = nil, want the same error")
	}
}

func TestFanoutConcurrentWrites(t *testing.T) {
	a, b := &sinktest.Recorder{}, &sinktest.Recorder{}
	f := sink.NewFanout(fastRetry(sink.Target{Name: "a", Sink: a}, sink.Target{Name: "b", Sink: b, Events: []string{"X"}}))
	defer f.Close(context.Background())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if err := f.Write(context.Background(), events("X", "Y")); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if a.Count() != 800 || b.Count() != 400 {
		t.Errorf("counts %d, %d; want 800, 400", a.Count(), b.Count())
	}
}

// TestReason: a health or log reason loses URL credentials and is cut to
// about 300 bytes on a rune boundary.
func TestReason(t *testing.T) {
	for in, want := range map[string]string{
		"connect tls://u:p@h:4222 and nats://tok@h2": "connect tls://REDACTED@h:4222 and nats://REDACTED@h2",
		"open /var/log/x: permission denied":         "open /var/log/x: permission denied",
	} {
		if got := sink.Reason(in); got != want {
			t.Errorf("Reason(%q) = %q, want %q", in, got, want)
		}
	}
	if got := sink.Reason(strings.Repeat("é", 400)); len(got) > 310 || !strings.HasSuffix(got, "…") {
		t.Errorf("long reason not shortened: %d bytes", len(got))
	}
}

// metricValue returns the counter value of family name with label sink.
func metricValue(t *testing.T, reg *prometheus.Registry, name, sinkName string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range fams {
		if fam.GetName() != name {
			continue
		}
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "sink" && l.GetValue() == sinkName {
					if m.GetGauge() != nil {
						return m.GetGauge().GetValue()
					}
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1 // no such series
}

func BenchmarkFanoutWrite(b *testing.B) {
	nop := sinktest.Func(func(context.Context, []*sink.Event) error { return nil })
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			targets := make([]sink.Target, n)
			for i := range targets {
				targets[i] = sink.Target{Name: fmt.Sprint(i), Sink: nop}
			}
			targets[0].Events = []string{"A"} // one filtered target
			f := sink.NewFanout(sink.FanoutConfig{Targets: targets})
			defer f.Close(context.Background())
			batch := events("A", "B", "A", "B")
			b.ReportAllocs()
			for b.Loop() {
				if err := f.Write(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
