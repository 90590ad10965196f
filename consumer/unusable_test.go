package consumer_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink/sinktest"
)

// unusableFrame is a frame streamd cannot deliver, where it must end up, and
// whether its id can be acked in each mode.
type unusableFrame struct {
	frame, id, stage, reason string
	consumerAck, readerAck   bool
}

func unusableFrames() []unusableFrame {
	event := base64.StdEncoding.EncodeToString([]byte(`{"Interaction":{"event":"InteractionCreated"}}`))
	a, b, c := fakeID(1001), fakeID(1002), fakeID(1003)
	return []unusableFrame{
		{`{"messageId":"` + a + `","payload":"` + event + `","properties":{},"redeliveryCount":"1"}`,
			a, "frame", "does not match the protocol", true, true},
		{`{"messageId": "` + b + `", "payload":"` + event + `", "redeliveryCount":{}}`,
			b, "frame", "does not match the protocol", true, true},
		{`{"messageId":"` + c + `","properties":{},"publishTime":"2025-01-01T00:00:00Z","redeliveryCount":0}`,
			c, "payload", "no payload", true, true},
		{`{"payload":"` + event + `","properties":{},"redeliveryCount":0}`,
			"", "message_id", "without a messageId", false, true},
		{`{"messageId":"","payload":"` + event + `","properties":{}}`,
			"", "message_id", "without a messageId", false, true},
	}
}

// TestUnusableFramesDeadLetteredAndAcked: every frame streamd cannot deliver
// (a field of the wrong type, a messageId without payload, a payload without
// messageId, an id a consumer cannot decode) goes to the dead letter with
// its stage and reason, then is acked when its id allows: nothing leaks a
// window slot that an ack could free (3 such frames once stopped a window of
// 3 for good), and Topic.Acked is exactly the number of acks on the wire.
func TestUnusableFramesDeadLetteredAndAcked(t *testing.T) {
	for _, mode := range []consumer.Mode{consumer.ModeReader, consumer.ModeConsumer} {
		t.Run(string(mode), func(t *testing.T) {
			srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
			rec := &sinktest.Recorder{}
			opts, dlPath := newOptions(t, rec)
			cfg := newConfig(srv, mode, "all")
			cfg.ReceiverQueueSize = 3
			frames := unusableFrames()
			if mode == consumer.ModeConsumer {
				// Three frames without an ackable id keep their slots
				// (half the window would end the session).
				cfg.ReceiverQueueSize = 8
				frames = append(frames, unusableFrame{
					`{"messageId":"not-an-id","payload":"e30=","properties":{}}`,
					"not-an-id", "message_id", "not a Pulsar MessageIdData", false, true})
			}
			r := run(t, cfg, opts)
			if err := srv.WaitSessions(testutil.Context(t, wait), 1); err != nil {
				t.Fatal(err)
			}

			wantAcks := 0
			for _, f := range frames {
				if n := srv.InjectFrame(allTopic, []byte(f.frame)); n != 1 {
					t.Fatalf("InjectFrame reached %d sessions", n)
				}
				if (mode == consumer.ModeConsumer && f.consumerAck) || (mode == consumer.ModeReader && f.readerAck) {
					wantAcks++
				}
			}
			ids := publish(srv, pulsartest.NewGenerator(tenant, 51), allTopic, 10)
			wantAcks += len(ids)
			if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
				t.Fatalf("window leaked: delivered %d of %d: %v", rec.Count(), len(ids), err)
			}
			sameIDs(t, "recorder", rec.IDs(), ids)

			testutil.WaitFor(t, wait, "every ack on the wire", func() bool { return srv.Stats().AcksReceived >= wantAcks })
			// Topic.Acked counts an ack just after its write: the emulator may see it first.
			testutil.WaitFor(t, wait, "every ack counted", func() bool { return r.topic.Acked() >= int64(wantAcks) })
			if got, wire := r.topic.Acked(), srv.Stats().AcksReceived; got != int64(wire) || wire != wantAcks {
				t.Errorf("Topic.Acked() = %d, the emulator received %d acks, want %d", got, wire, wantAcks)
			}
			if n := srv.Stats().Connections; n != 1 {
				t.Errorf("%d connections, want 1 (no ack the proxy rejects)", n)
			}

			recs := deadLetters(t, dlPath)
			if len(recs) != len(frames) {
				t.Fatalf("%d dead letters, want %d", len(recs), len(frames))
			}
			for i, f := range frames {
				got := recs[i]
				if got.Frame != f.frame || got.MessageID != f.id || got.Stage != f.stage || !strings.Contains(got.Reason, f.reason) {
					t.Errorf("dead letter %d = id %q stage %q reason %q, want id %q stage %q reason ~%q",
						i, got.MessageID, got.Stage, got.Reason, f.id, f.stage, f.reason)
				}
			}
		})
	}
}

// TestWindowLeakReconnects: a consumer cannot ack a frame without a usable
// id, so its window slot stays taken; four such frames filled a window of 4
// for good. Once they hold half the window the session is replaced (the
// proxy starts the new one with a full window) and the stream goes on.
func TestWindowLeakReconnects(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	rec := &sinktest.Recorder{}
	opts, dlPath := newOptions(t, rec)
	var logs testutil.SyncBuffer
	opts.Logger = newLogger(t, &logs)
	cfg := newConfig(srv, consumer.ModeConsumer, "all")
	cfg.ReceiverQueueSize = 4
	run(t, cfg, opts)
	if err := srv.WaitSessions(testutil.Context(t, wait), 1); err != nil {
		t.Fatal(err)
	}

	for range 4 {
		srv.InjectFrame(allTopic, []byte(`{"payload":"e30=","properties":{}}`))
	}
	ids := publish(srv, pulsartest.NewGenerator(tenant, 71), allTopic, 10)
	if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
		t.Fatalf("stalled: delivered %d of %d: %v", rec.Count(), len(ids), err)
	}
	uniq, _ := dedup(rec.IDs())
	sameIDs(t, "recorder", uniq, ids)
	if n := len(deadLetters(t, dlPath)); n < 2 {
		t.Errorf("%d dead letters, want at least the 2 frames that ended the session", n)
	}
	if !strings.Contains(logs.String(), `"reason":"window_leak"`) {
		t.Error("no session ended with reason window_leak")
	}
}
