package consumer_test

import (
	"strings"
	"testing"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink/sinktest"
)

// TestOversizeFrameDeadLettered: a message whose frame is larger than
// ReadLimit can never be read whole. It once ended the session (the
// websocket library closes it with 1009), the proxy sent the same message
// again on the next one, and the topic looped on it for good. It is
// dead-lettered (stage frame, the frame's first ReadLimit bytes) and acked,
// on the same connection, and the stream goes on.
func TestOversizeFrameDeadLettered(t *testing.T) {
	for _, mode := range []consumer.Mode{consumer.ModeReader, consumer.ModeConsumer} {
		t.Run(string(mode), func(t *testing.T) {
			srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
			rec := &sinktest.Recorder{}
			opts, dlPath := newOptions(t, rec)
			cfg := newConfig(srv, mode, "all")
			cfg.ReadLimit = 64 << 10
			r := run(t, cfg, opts)
			if err := srv.WaitSessions(testutil.Context(t, wait), 1); err != nil {
				t.Fatal(err)
			}

			g := pulsartest.NewGenerator(tenant, 61)
			before := publish(srv, g, allTopic, 3)
			big := srv.Publish(allTopic, []byte(`{"Interaction":{"event":"InteractionCreated","blob":"`+strings.Repeat("x", 100<<10)+`"}}`))
			after := publish(srv, g, allTopic, 3)
			want := append(before, after...)
			if err := rec.WaitCount(testutil.Context(t, wait), len(want)); err != nil {
				t.Fatalf("delivered %d of %d: %v", rec.Count(), len(want), err)
			}
			sameIDs(t, "recorder", rec.IDs(), want)

			all := append(append(before, big), after...)
			testutil.WaitFor(t, wait, "every ack on the wire", func() bool { return srv.Stats().AcksReceived >= len(all) })
			testutil.WaitFor(t, wait, "every ack counted", func() bool { return r.topic.Acked() >= int64(len(all)) })
			if got, wire := r.topic.Acked(), srv.Stats().AcksReceived; got != int64(wire) || wire != len(all) {
				t.Errorf("Topic.Acked() = %d, the emulator received %d acks, want %d", got, wire, len(all))
			}
			if mode == consumer.ModeConsumer {
				sameIDs(t, "acked", srv.Acked(allTopic, sub), all)
			}
			if n := srv.Stats().Connections; n != 1 {
				t.Errorf("%d connections, want 1", n)
			}
			recs := deadLetters(t, dlPath)
			if len(recs) != 1 {
				t.Fatalf("%d dead letters, want 1", len(recs))
			}
			if got := recs[0]; got.MessageID != big || got.Stage != "frame" || !strings.Contains(got.Reason, "read limit") {
				t.Errorf("dead letter = id %q stage %q reason %q, want id %q stage frame reason ~read limit",
					got.MessageID, got.Stage, got.Reason, big)
			}
		})
	}
}
