package sinktest

import (
	"context"
	"fmt"
	"testing"

	"github.com/streamd/streamd/sink"
)

// Events returns n events with ids m<offset>.. m<offset+n-1>, a key and
// properties; event i's payload is {"eventType":"InteractionCreated","id":i}.
func Events(n, offset int) []*sink.Event {
	out := make([]*sink.Event, n)
	for i := range out {
		id := offset + i
		out[i] = &sink.Event{
			MessageID:   fmt.Sprintf("m%d", id),
			Topic:       "persistent://t/ns/all",
			PublishTime: "2024-01-01T00:00:00Z",
			Properties:  []byte(`{"k":"v"}`),
			Key:         "k",
			EventType:   "InteractionCreated",
			Payload:     fmt.Appendf(nil, `{"eventType":"InteractionCreated","id":%d}`, id),
		}
	}
	return out
}

// BenchWrite measures s's accept path: repeated Writes of one batch of n
// events, reporting allocations and events/s.
func BenchWrite(b *testing.B, s sink.Sink, n int) {
	events := Events(n, 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(ctx, events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}
