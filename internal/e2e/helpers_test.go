package e2e

import (
	"bytes"
	"context"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
	natssink "github.com/streamd/streamd/sink/nats"
)

// tenant is the 8x8 tenant every test uses.
const tenant = "acme"

// testKey is an Admin Console key of the right shape; the emulator accepts
// any non-empty key.
const testKey = "eght_e2etestkey0123456789"

// published is one event as the emulator stored it on the "all" topic.
type published struct {
	id      string // message id as frames carry it
	typ     string
	payload []byte
}

// publishEvents publishes n generated events with PublishEvent and returns
// what went to {tenant}/event-v1/all, in order.
func publishEvents(emu *pulsartest.Server, g *pulsartest.Generator, n int) []published {
	out := make([]published, 0, n)
	for range n {
		ev, typ := g.Next()
		ids := emu.PublishEvent(tenant, ev, typ)
		out = append(out, published{id: ids[0], typ: typ, payload: ev})
	}
	return out
}

// publishAll publishes n generated events to {tenant}/event-v1/all only.
func publishAll(emu *pulsartest.Server, g *pulsartest.Generator, n int) []published {
	out := make([]published, 0, n)
	for range n {
		ev, typ := g.Next()
		id := emu.Publish(tenant+"/event-v1/all", ev)
		out = append(out, published{id: id, typ: typ, payload: ev})
	}
	return out
}

// streamMessage is one stored JetStream message.
type streamMessage struct {
	msgID   string
	subject string
	header  natsgo.Header
	data    []byte
}

// readStream returns every message of stream, in sequence order, read with
// an ordered consumer.
func readStream(t testing.TB, url, stream string) []streamMessage {
	t.Helper()
	ctx := testutil.Context(t, 30*time.Second)
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatalf("connect inspector: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	str, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("get stream %s: %v", stream, err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	total := int(info.State.Msgs)
	cons, err := str.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("ordered consumer: %v", err)
	}
	out := make([]streamMessage, 0, total)
	for len(out) < total {
		batch, err := cons.Fetch(min(total-len(out), 1000), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatalf("fetch from stream: %v", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			out = append(out, streamMessage{
				msgID: m.Headers().Get(natssink.HeaderMsgID), subject: m.Subject(),
				header: m.Headers(), data: bytes.Clone(m.Data()),
			})
		}
		if err := batch.Error(); err != nil {
			t.Fatalf("fetch from stream: %v", err)
		}
		if n == 0 {
			t.Fatalf("fetch from stream: no messages after %d of %d", len(out), total)
		}
	}
	return out
}

// streamMsgs returns how many messages stream holds, or -1 when the server
// cannot be asked.
func streamMsgs(ctx context.Context, url, stream string) int {
	nc, err := natsgo.Connect(url, natsgo.Timeout(time.Second))
	if err != nil {
		return -1
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return -1
	}
	str, err := js.Stream(ctx, stream)
	if err != nil {
		return -1
	}
	info, err := str.Info(ctx)
	if err != nil {
		return -1
	}
	return int(info.State.Msgs)
}

// checkStream verifies that stream holds exactly one message per event of
// want on topic: no missing id, no repeated id, no repeated body, and every
// body byte-equal to the published event.
func checkStream(t testing.TB, url, stream, topic string, want []published) {
	t.Helper()
	msgs := readStream(t, url, stream)
	if len(msgs) != len(want) {
		t.Errorf("stream %s holds %d messages, want %d", stream, len(msgs), len(want))
	}
	byID := make(map[string]streamMessage, len(msgs))
	bodies := make(map[string]string, len(msgs))
	for _, m := range msgs {
		if _, dup := byID[m.msgID]; dup {
			t.Errorf("Nats-Msg-Id %s stored twice", m.msgID)
		}
		byID[m.msgID] = m
		if other, dup := bodies[string(m.data)]; dup {
			t.Errorf("body of %s stored again as %s", other, m.msgID)
		}
		bodies[string(m.data)] = m.msgID
	}
	missing := 0
	for _, p := range want {
		id := topic + ":" + p.id
		m, ok := byID[id]
		if !ok {
			if missing++; missing <= 5 {
				t.Errorf("event %s missing from stream", id)
			}
			continue
		}
		if !bytes.Equal(m.data, p.payload) {
			t.Errorf("event %s: stored body differs from the published event:\n got %s\nwant %s", id, m.data, p.payload)
		}
		if got := m.header.Get(natssink.HeaderEventType); got != p.typ {
			t.Errorf("event %s: Streamd-Event-Type %q, want %q", id, got, p.typ)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d events missing from stream", missing, len(want))
	}
}
