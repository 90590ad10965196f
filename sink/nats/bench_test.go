package nats_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/streamd/streamd/internal/natstest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink/nats"
)

func BenchmarkCoreWrite(b *testing.B) {
	ts := natstest.Run(b, nil)
	// No subscriber: this measures the sink's accept path (publish + flush
	// round-trip), not fan-out to consumers.
	s := openSink(b, nats.Config{URL: ts.URL()})
	benchWrite(b, s)
}

func BenchmarkJetStreamWrite(b *testing.B) {
	ts := natstest.Run(b, nil)
	s := openSink(b, nats.Config{URL: ts.URL(), JetStream: true, Stream: "EVENTS"})
	benchWrite(b, s)
}

// benchWrite writes batches of 1 and 100 distinct events (ids repeat only
// after 200k events) and reports events per second.
func benchWrite(b *testing.B, s *nats.Sink) {
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			n := min(b.N*size, 200_000)
			n -= n % size
			evs := testEvents(n, fmt.Sprintf("persistent://acme/default/bench-%d-%d", size, b.N))
			ctx := testutil.Context(b, 10*time.Minute)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				off := (i * size) % n
				if err := s.Write(ctx, evs[off:off+size]); err != nil {
					b.Fatalf("Write: %v", err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
