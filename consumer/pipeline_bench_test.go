package consumer

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/file"
)

// benchFrames renders n proxy frames around generated 8x8 events, with
// real MessageIdData ids and the proxy's field order.
func benchFrames(n int) [][]byte {
	g := pulsartest.NewGenerator("acme", 1)
	frames := make([][]byte, n)
	for i := range frames {
		ev, _ := g.Next()
		id := protowire.AppendTag(nil, 1, protowire.VarintType)
		id = protowire.AppendVarint(id, uint64(7936+i/128))
		id = protowire.AppendTag(id, 2, protowire.VarintType)
		id = protowire.AppendVarint(id, uint64(8064+i%128))
		id = protowire.AppendTag(id, 6, protowire.VarintType)
		id = protowire.AppendVarint(id, 0)
		frames[i] = fmt.Appendf(nil, `{"messageId":"%s","payload":"%s","properties":{},"publishTime":"2025-01-02T03:04:05.678Z","redeliveryCount":0}`,
			base64.StdEncoding.EncodeToString(id), base64.StdEncoding.EncodeToString(ev))
	}
	return frames
}

// BenchmarkDecodeToFile is the per-event work of the decode→file path
// without the socket: frame bytes → DecodeFrame → DecodePayload →
// *sink.Event (Topic.decode, as a session does it) → file sink Write
// (envelope, fsync interval) in batches. One op is one event, so allocs/op
// is allocations per event (batch allocations amortised).
func BenchmarkDecodeToFile(b *testing.B) {
	frames := benchFrames(1024)
	size := 0
	for _, f := range frames {
		size += len(f)
	}
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			fs, err := file.Open(file.Config{Path: filepath.Join(b.TempDir(), "events.jsonl"),
				Format: sink.FormatEnvelope, Fsync: file.FsyncInterval})
			if err != nil {
				b.Fatal(err)
			}
			defer fs.Close(context.Background())
			t := NewTopic(Config{Tenant: "acme", Topic: "all"}, Options{})
			ctx := context.Background()
			events := make([]*sink.Event, 0, batch)
			b.SetBytes(int64(size / len(frames)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				f := frames[i%len(frames)]
				it, ok := t.decode(f, int64(len(f)), time.Now())
				i++
				if !ok || it.ev == nil {
					b.Fatal("frame did not decode to an event")
				}
				events = append(events, it.ev)
				if len(events) == batch {
					if err := fs.Write(ctx, events); err != nil {
						b.Fatal(err)
					}
					events = events[:0]
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// TestDecodeToFileAllocs guards the decode→file path's budget of 4
// allocations per event, plus a few per batch (the messageId and publishTime strings, the event
// buffer holding payload and properties, the *sink.Event), in batches of
// 100 as at flat out. CI runs it without -race (.ci/run), which makes
// allocation counts meaningless.
func TestDecodeToFileAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	const batch = 100
	frames := benchFrames(batch)
	fs, err := file.Open(file.Config{Path: filepath.Join(t.TempDir(), "events.jsonl"),
		Format: sink.FormatEnvelope, Fsync: file.FsyncInterval})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close(context.Background())
	tp := NewTopic(Config{Tenant: "acme", Topic: "all"}, Options{})
	events := make([]*sink.Event, 0, batch)
	perBatch := testing.AllocsPerRun(20, func() {
		events = events[:0]
		for _, f := range frames {
			it, ok := tp.decode(f, int64(len(f)), time.Now())
			if !ok || it.ev == nil {
				t.Fatal("frame did not decode to an event")
			}
			events = append(events, it.ev)
		}
		if err := fs.Write(context.Background(), events); err != nil {
			t.Fatal(err)
		}
	})
	// 4 per event, plus a few per batch (the file sink's Write).
	if perBatch > 4*batch+4 {
		t.Errorf("decode→file costs %.0f allocations per batch of %d, want ≤ 4 per event + 4", perBatch, batch)
	}
}

// BenchmarkTopicToFile runs the whole pipeline in-process: a reader session
// against the emulator on loopback, decoding, a Fanout over the file sink
// and acks. One op is one event. The emulator shares the process, so
// allocs/op and CPU profiles include it; profile with
//
//	go test -run '^$' -bench TopicToFile -benchtime 200000x \
//	  -cpuprofile cpu.out -memprofile mem.out ./consumer/
func BenchmarkTopicToFile(b *testing.B) {
	srv := pulsartest.Start(b, pulsartest.Config{Keys: []string{"eght_bench_key_123"}})
	g := pulsartest.NewGenerator("acme", 1)
	for range b.N {
		ev, _ := g.Next()
		srv.Publish("acme/event-v1/all", ev)
	}
	dir := b.TempDir()
	fs, err := file.Open(file.Config{Path: filepath.Join(dir, "events.jsonl"), Format: sink.FormatEnvelope, Fsync: file.FsyncInterval})
	if err != nil {
		b.Fatal(err)
	}
	fan := sink.NewFanout(sink.FanoutConfig{Targets: []sink.Target{{Name: "file", Sink: fs}}})
	defer fan.Close(context.Background())
	dl, err := deadletter.Open(filepath.Join(dir, "dead-letter.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer dl.Close()
	t := NewTopic(Config{Endpoint: srv.URL(), Tenant: "acme", Topic: "all", Credential: "eght_bench_key_123"},
		Options{Sink: fan, DeadLetter: dl, Start: "earliest"})
	soft, stop := context.WithCancel(context.Background())
	defer stop()
	b.ReportAllocs()
	b.ResetTimer()
	done := make(chan error, 1)
	go func() { done <- t.Run(soft, context.Background()) }()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(10 * time.Minute)
	for t.Acked() < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("acked %d of %d events", t.Acked(), b.N)
		}
		<-tick.C
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	stop()
	if err := <-done; err != nil && err != context.Canceled {
		b.Fatal(err)
	}
}
