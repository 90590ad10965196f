package consumer_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink/sinktest"
)

// poison is a malformed frame and the reason the dead-letter record must give.
type poison struct {
	frame  string
	reason string
}

func poisonFrames(id string) []poison {
	b64 := base64.StdEncoding.EncodeToString
	wrap := func(payload string) string {
		return `{"messageId":"` + id + `","payload":"` + payload +
			`","properties":{},"publishTime":"2025-01-01T00:00:00Z","redeliveryCount":0}`
	}
	return []poison{
		{wrap("%%% not base64 %%%"), "payload is not base64"},
		{wrap(b64([]byte("not json {"))), "payload is not JSON"},
		{wrap(b64([]byte(`[1,2,3]`))), "payload is not a JSON object"},
		{`{"messageId":"` + id + `","payload": <truncated`, "frame is not valid JSON"},
	}
}

// fakeID is a decodable MessageIdData no message of the emulator has.
func fakeID(entry uint64) string {
	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 999999)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, entry)
	return base64.StdEncoding.EncodeToString(b)
}

// TestPoisonFramesDeadLettered: malformed frames go verbatim to the
// dead-letter file with their reason, are acked so the window (4 slots,
// 40 poison frames) never leaks, and the stream continues. Their ids are not
// valid message ids, so they must not become the resume position either.
func TestPoisonFramesDeadLettered(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	g := pulsartest.NewGenerator(tenant, 31)
	rec := &sinktest.Recorder{}
	opts, dlPath := newOptions(t, rec)
	cfg := newConfig(srv, consumer.ModeReader, "all")
	cfg.ReceiverQueueSize = 4
	run(t, cfg, opts)
	if err := srv.WaitSessions(testutil.Context(t, wait), 1); err != nil {
		t.Fatal(err)
	}

	var ids []string
	var want []poison
	for i := range 40 {
		ids = append(ids, publish(srv, g, allTopic, 1)...)
		p := poisonFrames(fmt.Sprintf("poison-%d", i))[i%4]
		if n := srv.InjectFrame(allTopic, []byte(p.frame)); n != 1 {
			t.Fatalf("InjectFrame reached %d sessions", n)
		}
		want = append(want, p)
	}
	ids = append(ids, publish(srv, g, allTopic, 10)...)
	if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
		t.Fatalf("window leaked: delivered %d of %d: %v", rec.Count(), len(ids), err)
	}
	sameIDs(t, "recorder", rec.IDs(), ids)

	recs := deadLetters(t, dlPath)
	if len(recs) != len(want) {
		t.Fatalf("%d dead letters, want %d", len(recs), len(want))
	}
	// Injected frames and messages interleave, but each kind keeps its order.
	for i, r := range recs {
		id := fmt.Sprintf("poison-%d", i)
		var p poison
		for j, w := range poisonFrames(id) {
			if w.frame == r.Frame {
				p = w
				if j != i%4 {
					t.Errorf("dead letter %d is of kind %d, want %d", i, j, i%4)
				}
			}
		}
		if p.frame == "" {
			t.Fatalf("dead letter %d frame not verbatim: %q", i, r.Frame)
		}
		if !strings.Contains(r.Reason, p.reason) {
			t.Errorf("dead letter %d reason %q, want %q", i, r.Reason, p.reason)
		}
		if r.MessageID != id || r.Topic != "persistent://acme/event-v1/all" || r.Time.IsZero() {
			t.Errorf("dead letter %d = id %q topic %q time %v", i, r.MessageID, r.Topic, r.Time)
		}
	}

	// The resume position is the last real message, not a poison id.
	srv.DropConnections()
	more := publish(srv, g, allTopic, 5)
	if err := rec.WaitCount(testutil.Context(t, wait), len(ids)+len(more)); err != nil {
		t.Fatalf("no resume after poison: %v (last request %s)", err, srv.LastRequest().RawQuery)
	}
	sameIDs(t, "recorder", rec.IDs(), append(ids, more...))
	if got := srv.LastRequest().Query.Get("messageId"); got != ids[len(ids)-1] {
		t.Errorf("resumed after %q, want %q", got, ids[len(ids)-1])
	}
}

// TestPoisonFramesConsumer: a consumer acks poison frames carrying valid ids
// (freeing their slots) and sends no ack for an undecodable id (the proxy
// would close the session with 1011).
func TestPoisonFramesConsumer(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	g := pulsartest.NewGenerator(tenant, 32)
	rec := &sinktest.Recorder{}
	opts, dlPath := newOptions(t, rec)
	cfg := newConfig(srv, consumer.ModeConsumer, "all")
	cfg.ReceiverQueueSize = 4
	run(t, cfg, opts)
	if err := srv.WaitSessions(testutil.Context(t, wait), 1); err != nil {
		t.Fatal(err)
	}
	srv.InjectFrame(allTopic, []byte(poisonFrames("not-an-id")[0].frame))
	var ids, poisonIDs []string
	for i := range 20 {
		ids = append(ids, publish(srv, g, allTopic, 1)...)
		id := fakeID(uint64(i))
		poisonIDs = append(poisonIDs, id)
		srv.InjectFrame(allTopic, []byte(poisonFrames(id)[i%4].frame))
	}
	ids = append(ids, publish(srv, g, allTopic, 10)...)
	if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
		t.Fatalf("window leaked: delivered %d of %d: %v", rec.Count(), len(ids), err)
	}
	sameIDs(t, "recorder", rec.IDs(), ids)
	if n := len(deadLetters(t, dlPath)); n != 21 {
		t.Errorf("%d dead letters, want 21", n)
	}
	acked := map[string]bool{}
	allPoisonAcked := func() bool {
		for _, id := range srv.Acked(allTopic, sub) {
			acked[id] = true
		}
		for _, id := range poisonIDs {
			if !acked[id] {
				return false
			}
		}
		return true
	}
	testutil.WaitFor(t, wait, "every poison id acked", allPoisonAcked)
	if acked["not-an-id"] {
		t.Error("acked an undecodable id")
	}
	st := srv.Stats()
	if st.Connections != 1 || st.Closes[websocket.StatusInternalError] != 0 {
		t.Errorf("connections %d, 1011 closes %d; want 1 and 0", st.Connections, st.Closes[websocket.StatusInternalError])
	}
}
