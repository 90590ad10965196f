package sink_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamd/streamd/internal/metrics"
	"github.com/streamd/streamd/reconnect"
	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/sinktest"
)

// rejecting is a sink that rejects, for good, the events whose payload
// contains "huge", after failing transiently `flaky` times.
type rejecting struct {
	flaky atomic.Int32
	calls atomic.Int32
}

func (r *rejecting) Write(_ context.Context, batch []*sink.Event) error {
	r.calls.Add(1)
	if r.flaky.Add(-1) >= 0 {
		return errors.New("connection reset")
	}
	var rej []sink.Rejected
	for i, e := range batch {
		if strings.Contains(string(e.Payload), "huge") {
			rej = append(rej, sink.Rejected{Index: i, Reason: "too large"})
		}
	}
	if rej == nil {
		return nil
	}
	return &sink.RejectError{Rejected: rej}
}

func (r *rejecting) Close(context.Context) error { return nil }

func TestFanoutReportsPermanentRejections(t *testing.T) {
	reg := prometheus.NewRegistry()
	nats := &rejecting{}
	nats.flaky.Store(2)
	file := &sinktest.Recorder{}
	cfg := sink.FanoutConfig{
		Targets: []sink.Target{
			{Name: "nats", Sink: nats, Events: []string{"A"}},
			{Name: "file", Sink: file},
		},
		Metrics: metrics.New(reg),
		Retry:   reconnect.Policy{Min: time.Millisecond, Max: 2 * time.Millisecond},
	}
	f := sink.NewFanout(cfg)
	defer f.Close(context.Background())

	batch := events("B", "A", "A", "B", "A")
	batch[2].Payload = []byte(`{"huge":1}`)
	batch[4].Payload = []byte(`{"huge":2}`)
	err := f.Write(context.Background(), batch)

	var rej *sink.RejectError
	if !errors.As(err, &rej) {
		t.Fatalf("Write = %v, want a *sink.RejectError", err)
	}
	want := []sink.Rejected{{Index: 2, Sink: "nats", Reason: "too large"}, {Index: 4, Sink: "nats", Reason: "too large"}}
	if len(rej.Rejected) != len(want) || rej.Rejected[0] != want[0] || rej.Rejected[1] != want[1] {
		t.Errorf("Rejected = %+v, want %+v", rej.Rejected, want)
	}
	if got := rej.ByEvent(); len(got) != 2 || got[2] != "sink nats: too large" {
		t.Errorf("ByEvent = %v", got)
	}
	if n := nats.calls.Load(); n != 3 {
		t.Errorf("nats called %d times, want 3 (2 transient failures, then the rejection, never again)", n)
	}
	if n := file.Calls(); n != 1 {
		t.Errorf("file called %d times, want 1", n)
	}
	if got := metricValue(t, reg, "streamd_sink_events_accepted_total", "nats"); got != 1 {
		t.Errorf("nats accepted = %v, want 1", got)
	}
	if !strings.Contains(err.Error(), "2 events rejected for good: event 2 by sink nats: too large") {
		t.Errorf("Error() = %q", err)
	}
}

// TestFanoutRejectionOutOfRangeIsTransient: a sink naming an event it was
// not given is a bug; nothing may be acked because of it.
func TestFanoutRejectionOutOfRangeIsTransient(t *testing.T) {
	bad := sinktest.Func(func(context.Context, []*sink.Event) error {
		return &sink.RejectError{Rejected: []sink.Rejected{{Index: 7, Reason: "x"}}}
	})
	f := sink.NewFanout(fastRetry(sink.Target{Name: "bad", Sink: bad}))
	defer f.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := f.Write(ctx, events("A"))
	var rej *sink.RejectError
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &rej) {
		t.Errorf("Write = %v, want a deadline error and no rejection", err)
	}
}
