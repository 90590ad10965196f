package nats_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamd/streamd/internal/natstest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/nats"
)

// TestJetStreamOutageExactlyOnce writes batches with retries (and re-sends
// every third batch, like Pulsar redeliveries) while the server is stopped
// mid-run and restarted on the same port with the same store. The stream
// must end with exactly one message per event.
func TestJetStreamOutageExactlyOnce(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, nil)
	s := openSink(t, nats.Config{
		URL: ts.URL(), JetStream: true, Stream: "EVENTS", MaxInflight: 64,
		ReconnectWait: 20 * time.Millisecond,
	})
	const total, batchSize = 4000, 100
	evs := testEvents(total, "persistent://acme/default/events")

	var written, failures atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		write := func(batch []*sink.Event) {
			for {
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				err := s.Write(ctx, batch)
				cancel()
				if err == nil {
					return
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("failing Write took %v, past its ctx", d)
				}
				failures.Add(1)
			}
		}
		for i := 0; i < total; i += batchSize {
			batch := evs[i : i+batchSize]
			write(batch)
			if (i/batchSize)%3 == 0 {
				write(batch) // redelivery of an already accepted batch
			}
			written.Add(int64(len(batch)))
		}
	}()

	testutil.WaitFor(t, 20*time.Second, "first batches", func() bool { return written.Load() >= total/4 })
	ts.Stop()
	testutil.WaitFor(t, 20*time.Second, "writes to fail", func() bool { return failures.Load() >= 3 })
	stalled := written.Load()
	if err := ts.Start(); err != nil {
		t.Fatal(err)
	}
	<-done

	if stalled >= total {
		t.Errorf("all events written before the outage; test proves nothing")
	}
	t.Logf("failed writes during outage: %d; events written before restart: %d", failures.Load(), stalled)
	checkStream(t, ts.URL(), "EVENTS", evs)
}
