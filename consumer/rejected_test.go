package consumer_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/sinktest"
)

// TestSinkRejectionsDeadLetteredThenAcked: events a sink rejects for good
// (too large for its server, say) go to the dead letter with the sink's name
// and reason, then are acked with the rest of their batch: never retried in
// a loop, never holding the window, and the acks on the wire are all ids.
func TestSinkRejectionsDeadLetteredThenAcked(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	rec := &sinktest.Recorder{}
	opts, dlPath := newOptions(t, rec)
	f := sink.NewFanout(sink.FanoutConfig{Targets: []sink.Target{{Name: "nats", Sink: rec}}})
	t.Cleanup(func() { _ = f.Close(context.Background()) })
	opts.Sink = f
	cfg := newConfig(srv, consumer.ModeConsumer, "all")
	cfg.ReceiverQueueSize = 3

	ids := publish(srv, pulsartest.NewGenerator(tenant, 61), allTopic, 30)
	rejected := map[string]bool{}
	for i := 1; i < len(ids); i += 4 {
		rejected[ids[i]] = true
	}
	rec.Reject(func(e *sink.Event) string {
		if rejected[e.MessageID] {
			return "message exceeds the server's max_payload"
		}
		return ""
	})
	r := run(t, cfg, opts)

	testutil.WaitFor(t, wait, "every id acked", func() bool { return len(srv.Acked(allTopic, sub)) >= len(ids) })
	var want []string
	for _, id := range ids {
		if !rejected[id] {
			want = append(want, id)
		}
	}
	sameIDs(t, "recorder", rec.IDs(), want)
	sameIDs(t, "acked", srv.Acked(allTopic, sub), ids)
	// The emulator can record an ack before the writer counts it as written.
	testutil.WaitFor(t, wait, "Topic.Acked to count every id", func() bool { return r.topic.Acked() >= int64(len(ids)) })
	if got := r.topic.Acked(); got != int64(len(ids)) {
		t.Errorf("Topic.Acked() = %d, want %d", got, len(ids))
	}

	recs := deadLetters(t, dlPath)
	if len(recs) != len(rejected) {
		t.Fatalf("%d dead letters, want %d", len(recs), len(rejected))
	}
	for _, d := range recs {
		var fr struct {
			MessageID string `json:"messageId"`
			Payload   []byte `json:"payload"`
		}
		if err := json.Unmarshal([]byte(d.Frame), &fr); err != nil || fr.MessageID != d.MessageID || !json.Valid(fr.Payload) {
			t.Errorf("dead letter frame %q: not a frame of the event (%v)", d.Frame, err)
		}
		if !rejected[d.MessageID] || d.Stage != "sink nats" || !strings.Contains(d.Reason, "max_payload") {
			t.Errorf("dead letter id %q stage %q reason %q", d.MessageID, d.Stage, d.Reason)
		}
	}
}
