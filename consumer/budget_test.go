package consumer_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink/sinktest"
)

// TestInflightBytesBounded: 300 events of ~1 MB with the sink blocked. The
// proxy's window (1000 messages) would let all of them in; the byte budget
// (the 64 MiB default) stops reading the socket instead, so the proxy stops
// sending (TCP backpressure), and once the sink accepts again everything
// arrives in order. Bytes in flight never exceed the budget. (Under -race,
// where the emulator renders frames slowly, the events are 128 KiB and the
// budget 8 MiB: the same ratio.)
func TestInflightBytesBounded(t *testing.T) {
	n, size, limit := 300, 1<<20, int64(consumer.DefaultInflightBytes)
	if consumer.RaceEnabled {
		size, limit = 128<<10, 8<<20
	}
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	rec := &sinktest.Recorder{}
	rec.Block()
	opts, _ := newOptions(t, rec)
	cfg := newConfig(srv, consumer.ModeReader, "all")
	cfg.InflightBytes = limit
	// Large frames delay the proxy's pongs; this test is not about pings.
	cfg.PingInterval, cfg.PingTimeout = time.Second, 10*time.Second
	r := run(t, cfg, opts)

	blob := bytes.Repeat([]byte("x"), size)
	ids := make([]string, n)
	for i := range ids {
		ev := fmt.Appendf(nil, `{"Interaction":{"event":"InteractionCreated","seq":%d,"blob":"%s"}}`, i, blob)
		ids[i] = srv.Publish(allTopic, ev)
	}

	testutil.WaitFor(t, wait, "the budget filled", func() bool { return consumer.InflightPeak(r.topic) >= limit-2*int64(size) })
	if d := srv.Stats().Delivered; d >= n {
		t.Errorf("the proxy wrote all %d frames while the sink was blocked: no backpressure", d)
	}
	t.Logf("sink blocked: %d of %d frames of %d KiB left the proxy, %d KiB held (budget %d KiB)",
		srv.Stats().Delivered, n, size>>10, consumer.InflightPeak(r.topic)>>10, limit>>10)

	rec.Unblock()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := rec.WaitCount(ctx, n); err != nil {
		t.Fatalf("delivered %d of %d after unblocking: %v", rec.Count(), n, err)
	}
	t.Logf("the rest delivered in %v", time.Since(start).Round(time.Millisecond))
	sameIDs(t, "recorder", rec.IDs(), ids)
	if peak := consumer.InflightPeak(r.topic); peak > limit {
		t.Errorf("peak in flight %d bytes, over the budget of %d", peak, limit)
	}
}

// TestBackpressureIsNotADeadPeer: while the byte budget keeps the reader
// parked, pongs are not read either; that must not pass for a dead peer
// (a ping-timeout reconnect every PingInterval + PingTimeout while a sink is
// slow would only replay what was already read).
func TestBackpressureIsNotADeadPeer(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	rec := &sinktest.Recorder{}
	rec.Block()
	opts, _ := newOptions(t, rec)
	cfg := newConfig(srv, consumer.ModeReader, "all")
	const size, limit = 64 << 10, 256 << 10
	cfg.InflightBytes = limit
	cfg.PingInterval, cfg.PingTimeout = 50*time.Millisecond, 200*time.Millisecond
	r := run(t, cfg, opts)

	blob := bytes.Repeat([]byte("x"), size)
	ids := make([]string, 40)
	for i := range ids {
		ids[i] = srv.Publish(allTopic, fmt.Appendf(nil, `{"Interaction":{"event":"InteractionCreated","seq":%d,"blob":"%s"}}`, i, blob))
	}
	testutil.WaitFor(t, wait, "the budget filled", func() bool { return consumer.InflightPeak(r.topic) >= limit-size })
	pings := srv.Stats().Pings
	testutil.WaitFor(t, wait, "pings over several ping timeouts", func() bool { return srv.Stats().Pings >= pings+10 })
	if n := srv.Stats().Connections; n != 1 {
		t.Fatalf("%d connections while the sink was slow, want 1: backpressure taken for a dead peer", n)
	}

	rec.Unblock()
	if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
		t.Fatalf("delivered %d of %d: %v", rec.Count(), len(ids), err)
	}
	sameIDs(t, "recorder", rec.IDs(), ids)
}
