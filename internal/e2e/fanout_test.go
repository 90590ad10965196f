package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/internal/natstest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/reconnect"
	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/file"
	natssink "github.com/streamd/streamd/sink/nats"
	"github.com/streamd/streamd/sink/stdout"
)

// natsCollector collects core NATS messages of a subscription.
type natsCollector struct {
	mu   sync.Mutex
	msgs []*natsgo.Msg
}

func (c *natsCollector) add(m *natsgo.Msg) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
}

func (c *natsCollector) snapshot() []*natsgo.Msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*natsgo.Msg(nil), c.msgs...)
}

func countLines(b []byte) int { return bytes.Count(b, []byte("\n")) }

// TestFanoutFileNATSStdout delivers a stream to a file (envelope lines),
// core NATS (filtered to two event types) and a stdout writer (event lines)
// at once: each sink gets every event it asked for, byte-exact and in order,
// and every message, filtered or not, is acked exactly once.
func TestFanoutFileNATSStdout(t *testing.T) {
	t.Parallel()
	const (
		total   = 3000
		allName = tenant + "/event-v1/all"
		full    = "persistent://" + allName
		subName = "fanout"
	)
	natsTypes := map[string]bool{"InteractionCreated": true, "InteractionDeleted": true}
	emu := pulsartest.Start(t, pulsartest.Config{})
	ns := natstest.Run(t, nil)
	ctx := testutil.Context(t, 60*time.Second)

	nc, err := natsgo.Connect(ns.URL())
	if err != nil {
		t.Fatalf("connect subscriber: %v", err)
	}
	t.Cleanup(nc.Close)
	var got natsCollector
	sub, err := nc.Subscribe("8x8.>", got.add)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		t.Fatalf("pending limits: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush subscription: %v", err)
	}

	core, err := natssink.Open(ctx, natssink.Config{URL: ns.URL(), Name: "e2e"})
	if err != nil {
		t.Fatalf("open nats sink: %v", err)
	}
	path := filepath.Join(t.TempDir(), "events.jsonl")
	fs, err := file.Open(file.Config{Path: path, Format: sink.FormatEnvelope})
	if err != nil {
		t.Fatalf("open file sink: %v", err)
	}
	var out testutil.SyncBuffer
	fan := sink.NewFanout(sink.FanoutConfig{
		Targets: []sink.Target{
			{Name: "file", Sink: fs},
			{Name: "nats", Sink: core, Events: []string{"InteractionCreated", "InteractionDeleted"}},
			{Name: "stdout", Sink: stdout.New(&out, sink.FormatEvent)},
		},
		RetryMin: 5 * time.Millisecond, RetryMax: 100 * time.Millisecond,
	})
	closeFan := sync.OnceFunc(func() {
		if err := fan.Close(context.Background()); err != nil {
			t.Errorf("close fanout: %v", err)
		}
	})
	t.Cleanup(closeFan)
	dl, err := deadletter.Open(filepath.Join(t.TempDir(), "dead-letter.jsonl"))
	if err != nil {
		t.Fatalf("open dead letters: %v", err)
	}
	t.Cleanup(func() { _ = dl.Close() })

	g := pulsartest.NewGenerator(tenant, 7)
	want := publishEvents(emu, g, total/2) // backlog before the subscription exists
	topic := consumer.NewTopic(consumer.Config{
		Endpoint: emu.URL(), Tenant: tenant, Topic: "all", Mode: consumer.ModeConsumer,
		Subscription: subName, SubscriptionType: "Exclusive", Credential: testKey,
	}, consumer.Options{
		Sink: fan, DeadLetter: dl, Start: "earliest",
		Policy: reconnect.Policy{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond},
	})
	stop := runTopic(t, topic)
	if err := emu.WaitSessions(ctx, 1); err != nil {
		t.Fatal(err)
	}
	want = append(want, publishEvents(emu, g, total-total/2)...) // live

	wantNATS := 0
	for _, p := range want {
		if natsTypes[p.typ] {
			wantNATS++
		}
	}
	if wantNATS == 0 || wantNATS == total {
		t.Fatalf("generator gave %d of %d events of the NATS types; the filter is not exercised", wantNATS, total)
	}
	testutil.WaitFor(t, 30*time.Second, "every event acked and delivered", func() bool {
		return emu.Backlog(allName, subName) == 0 && len(got.snapshot()) >= wantNATS &&
			countLines(out.Bytes()) >= total
	})
	stop()
	closeFan()

	// Acks: every message, filtered or not, exactly once. The session's end
	// proves the emulator handled every frame the Topic sent, so a late
	// duplicate ack cannot slip past the count.
	if err := emu.WaitSessions(ctx, 0); err != nil {
		t.Fatal(err)
	}
	acked := emu.Acked(allName, subName)
	seen := make(map[string]int, len(acked))
	for _, id := range acked {
		seen[id]++
	}
	for _, p := range want {
		if seen[p.id] != 1 {
			t.Errorf("message %s (%s) acked %d times, want 1", p.id, p.typ, seen[p.id])
		}
	}
	if len(acked) != total {
		t.Errorf("%d acks, want %d", len(acked), total)
	}

	// stdout: the event JSON of every event, in order.
	lines := bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n"))
	if len(lines) != total {
		t.Errorf("stdout has %d lines, want %d", len(lines), total)
	}
	for i := range min(len(lines), total) {
		if !bytes.Equal(lines[i], want[i].payload) {
			t.Fatalf("stdout line %d:\n got %s\nwant %s", i, lines[i], want[i].payload)
		}
	}

	// file: one envelope per event, in order.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read file sink output: %v", err)
	}
	lines = bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(lines) != total {
		t.Errorf("file has %d lines, want %d", len(lines), total)
	}
	for i := range min(len(lines), total) {
		var env struct {
			MessageID string          `json:"messageId"`
			Topic     string          `json:"topic"`
			EventType string          `json:"eventType"`
			Event     json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal(lines[i], &env); err != nil {
			t.Fatalf("file line %d is not JSON: %v: %s", i, err, lines[i])
		}
		w := want[i]
		if env.MessageID != w.id || env.Topic != full || env.EventType != w.typ || !bytes.Equal(env.Event, w.payload) {
			t.Fatalf("file line %d:\n got %s\nwant id %s type %s event %s", i, lines[i], w.id, w.typ, w.payload)
		}
	}

	// NATS: exactly the two event types, each event once.
	byID := make(map[string]published, total)
	for _, p := range want {
		byID[p.id] = p
	}
	msgs := got.snapshot()
	if len(msgs) != wantNATS {
		t.Errorf("NATS got %d messages, want %d", len(msgs), wantNATS)
	}
	dup := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		id := m.Header.Get(natssink.HeaderMessageID)
		p, ok := byID[id]
		switch {
		case !ok:
			t.Errorf("NATS message with unknown id %q on %s", id, m.Subject)
		case dup[id]:
			t.Errorf("NATS message %s delivered twice", id)
		case !natsTypes[p.typ]:
			t.Errorf("NATS got %s event %s despite the filter", p.typ, id)
		case m.Subject != "8x8."+tenant+"."+p.typ || !bytes.Equal(m.Data, p.payload):
			t.Errorf("NATS message %s: subject %s body %s, want 8x8.%s.%s %s", id, m.Subject, m.Data, tenant, p.typ, p.payload)
		}
		dup[id] = true
	}
	t.Logf("events %d: file %d lines, stdout %d lines, NATS %d messages (types %v), acks %d",
		total, countLines(data), countLines(out.Bytes()), len(msgs), []string{"InteractionCreated", "InteractionDeleted"}, len(acked))
}
