package consumer_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/metrics"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink/sinktest"
)

// TestInlineDeliveryKeepsReading: at a low rate the reading goroutine
// delivers a frame itself. When the sink blocks under such a delivery,
// another goroutine must take over reading within half the ping timeout:
// the frames that follow are read (held in memory up to the byte budget),
// the session is not replaced, and once the sink is back everything is
// delivered in order, exactly once; in reader and in consumer mode. Without
// the rescue the reader sits in the sink and reads nothing until it returns.
func TestInlineDeliveryKeepsReading(t *testing.T) {
	for _, mode := range []consumer.Mode{consumer.ModeReader, consumer.ModeConsumer} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			inlineKeepsReading(t, mode)
		})
	}
}

func inlineKeepsReading(t *testing.T, mode consumer.Mode) {
	srv := pulsartest.Start(t, pulsartest.Config{})
	g := pulsartest.NewGenerator(tenant, 21)
	rec := &sinktest.Recorder{}
	opts, _ := newOptions(t, rec)
	reg := prometheus.NewRegistry()
	opts.Metrics = metrics.New(reg)
	received := func() float64 { return counterSum(t, reg, "streamd_events_received_total") }
	cfg := newConfig(srv, mode, "all")
	cfg.PingTimeout = time.Second // the rescue comes after 500ms
	r := run(t, cfg, opts)
	ctx := testutil.Context(t, wait)

	var want []string
	deliver := func(n int) {
		t.Helper()
		for range n { // one at a time: each arrives after a quiet spell
			want = append(want, publish(srv, g, allTopic, 1)...)
			if err := rec.WaitCount(ctx, len(want)); err != nil {
				t.Fatal(err)
			}
		}
	}

	deliver(3) // the sinks have been fast: frames may go inline
	for attempt := 1; consumer.Rescues(r.topic) == 0; attempt++ {
		if attempt > 10 {
			t.Fatal("no blocked delivery was on the reading goroutine in 10 attempts")
		}

		rec.Block()
		calls := rec.Calls()
		want = append(want, publish(srv, g, allTopic, 1)...)
		testutil.WaitFor(t, wait, "the blocked write", func() bool { return rec.Calls() > calls })

		want = append(want, publish(srv, g, allTopic, 20)...)
		testutil.WaitFor(t, wait, "the frames after it read while the sink blocks", func() bool {
			return received() == float64(len(want))
		})

		rec.Unblock()
		if err := rec.WaitCount(ctx, len(want)); err != nil {
			t.Fatal(err)
		}
		deliver(2) // fast again before the next attempt
	}

	sameIDs(t, "delivered", rec.IDs(), want)
	testutil.WaitFor(t, wait, "every frame acked", func() bool { return r.topic.Acked() == int64(len(want)) })
	if n := srv.Sessions(); n != 1 {
		t.Errorf("%d sessions after the blocked delivery, want the first one only", n)
	}
}

// TestPaceDecidesInline: the reader delivers a frame itself when it waited
// for it, or while the average gap is long (a low rate, however bursty);
// frames already buffered at a high rate go to the delivering goroutine,
// and so do the frames of a burst soon after a long silence.
func TestPaceDecidesInline(t *testing.T) {
	var p consumer.Pace
	at := time.Unix(0, 0)
	frame := func(gap, waited time.Duration) bool {
		at = at.Add(gap)
		return p.Arrived(at.Add(-waited), at)
	}

	if !frame(time.Second, time.Second) {
		t.Error("a frame after a second of silence is not inline")
	}

	for i := range 50 { // 1000/s in pairs: every other frame was buffered
		waited := time.Duration(0)
		if i%2 == 0 {
			waited = 2 * time.Millisecond
		}
		if got := frame(time.Duration(i%2)*2*time.Millisecond, waited); !got {
			t.Fatalf("frame %d of a 1000/s stream in pairs is not inline", i)
		}
	}

	var inline int
	for range 100 { // 20000/s, all buffered
		if frame(50*time.Microsecond, 0) {
			inline++
		}
	}
	if inline > 20 {
		t.Errorf("%d of 100 buffered frames at 20000/s inline, want the first few at most", inline)
	}
	if frame(50*time.Microsecond, 0) {
		t.Error("a buffered frame at 20000/s is still inline after 100")
	}
	if !frame(50*time.Microsecond, 300*time.Microsecond) {
		t.Error("a frame the reader waited 300µs for is not inline")
	}
}
