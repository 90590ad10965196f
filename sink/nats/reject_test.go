package nats_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/streamd/streamd/internal/natstest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/nats"
)

// poison returns 6 events of which 1 and 4 can never be published: 1 is
// larger than a max_payload of 4 KiB, 4 has a topic name that makes the
// subject longer than the 4096-byte control line.
func poison() []*sink.Event {
	evs := testEvents(6, "persistent://acme/default/events")
	evs[1].Payload = []byte(`{"big":"` + strings.Repeat("x", 8<<10) + `"}`)
	evs[4].Topic = "persistent://acme/default/" + strings.Repeat("t", 5000)
	return evs
}

// checkRejected wants a *sink.RejectError naming exactly events 1 and 4.
func checkRejected(t *testing.T, err error) {
	t.Helper()
	var rej *sink.RejectError
	if !errors.As(err, &rej) {
		t.Fatalf("Write = %v, want a *sink.RejectError", err)
	}
	if len(rej.Rejected) != 2 || rej.Rejected[0].Index != 1 || rej.Rejected[1].Index != 4 {
		t.Fatalf("rejected %+v, want events 1 and 4", rej.Rejected)
	}
	if r := rej.Rejected[0].Reason; !strings.Contains(r, "max_payload of 4096") {
		t.Errorf("reason for the large event = %q", r)
	}
	if r := rej.Rejected[1].Reason; !strings.Contains(r, "max_control_line 4096") {
		t.Errorf("reason for the long subject = %q", r)
	}
}

func smallPayload(o *server.Options) { o.MaxPayload = 4 << 10 }

// TestCoreRejectsUndeliverableEventsForGood: a message over max_payload and
// a subject over the control line are rejected without being sent (the
// server would otherwise close the connection), the other events are
// delivered, and the connection stays usable.
func TestCoreRejectsUndeliverableEventsForGood(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, smallPayload)
	sub := subscribe(t, ts.URL(), ">")
	s := openSink(t, nats.Config{URL: ts.URL(), Subject: "ev.{topic}.{type}"})
	evs := poison()
	checkRejected(t, s.Write(testutil.Context(t, 5*time.Second), evs))
	for _, i := range []int{0, 2, 3, 5} {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if got := m.Header.Get(nats.HeaderMessageID); got != evs[i].MessageID {
			t.Errorf("message %s, want event %d", got, i)
		}
	}
	if err := s.Write(testutil.Context(t, 5*time.Second), testEvents(3, "persistent://a/b/c")); err != nil {
		t.Errorf("Write after the rejections: %v", err)
	}
}

func TestJetStreamRejectsUndeliverableEventsForGood(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, smallPayload)
	s := openSink(t, nats.Config{URL: ts.URL(), Subject: "ev.{topic}.{type}", JetStream: true, Stream: "EVENTS"})
	evs := poison()
	checkRejected(t, s.Write(testutil.Context(t, 5*time.Second), evs))
	got := streamContent(t, ts.URL(), "EVENTS")
	for i, e := range evs {
		if _, ok := got[nats.MsgID(e)]; ok != (i != 1 && i != 4) {
			t.Errorf("event %d stored = %v", i, ok)
		}
	}
	if err := s.Write(testutil.Context(t, 5*time.Second), testEvents(3, "persistent://a/b/c")); err != nil {
		t.Errorf("Write after the rejections: %v", err)
	}
}

// TestClosedConnectionIsRecreated lets the server close the connection for
// good: its max_control_line is smaller than the sink was told, so a long
// subject makes it answer "-ERR 'Maximum Control Line Exceeded'", after
// which the client library never reconnects (CLOSED). The next Write must
// work on a new connection.
func TestClosedConnectionIsRecreated(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, func(o *server.Options) { o.MaxControlLine = 1024 })
	sub := subscribe(t, ts.URL(), ">")
	s := openSink(t, nats.Config{URL: ts.URL(), Subject: "ev.{topic}.{type}", ReconnectWait: 20 * time.Millisecond})
	long := testEvents(1, "persistent://acme/default/"+strings.Repeat("t", 2000))
	if err := s.Write(testutil.Context(t, 5*time.Second), long); err == nil {
		t.Fatal("Write of a subject over the server's control line succeeded")
	}
	evs := testEvents(3, "persistent://acme/default/events")
	testutil.WaitFor(t, 5*time.Second, "a write on a new connection", func() bool {
		return s.Write(testutil.Context(t, 5*time.Second), evs) == nil
	})
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("no message after the connection was recreated: %v", err)
	}
}

// TestJetStreamRejectsMessageOverStreamLimit: a stream's own max_msg_size
// (smaller than max_payload) makes the server answer with a negative PubAck
// that no retry can change.
func TestJetStreamRejectsMessageOverStreamLimit(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, nil)
	ctx := testutil.Context(t, 10*time.Second)
	cfg := jetstream.StreamConfig{Name: "SMALL", Subjects: []string{"8x8.>"}, MaxMsgSize: 1024}
	if _, err := jsClient(t, ts.URL()).CreateStream(ctx, cfg); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	s := openSink(t, nats.Config{URL: ts.URL(), JetStream: true, Stream: "SMALL"})
	evs := testEvents(3, "persistent://acme/default/events")
	evs[2].Payload = []byte(`{"big":"` + strings.Repeat("x", 2048) + `"}`)
	var rej *sink.RejectError
	if err := s.Write(ctx, evs); !errors.As(err, &rej) || len(rej.Rejected) != 1 || rej.Rejected[0].Index != 2 {
		t.Fatalf("Write = %v, want event 2 rejected", err)
	}
	if n := streamMsgs(t, ts.URL(), "SMALL"); n != 2 {
		t.Errorf("stream has %d messages, want 2", n)
	}
}
