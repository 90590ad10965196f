package replay_test

import (
	"context"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/natstest"
	"github.com/streamd/streamd/internal/replay"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink"
	natssink "github.com/streamd/streamd/sink/nats"
)

// streamIDs returns the Nats-Msg-Id of every message of stream, in order.
func streamIDs(t *testing.T, url, stream string) []string {
	return natstest.StreamHeader(t, url, stream, natssink.HeaderMsgID)
}

// TestReplayTwiceIntoJetStream: a replayed range lands in JetStream exactly
// once, in order, with the daemon's Nats-Msg-Id, however often it runs.
func TestReplayTwiceIntoJetStream(t *testing.T) {
	t.Parallel()
	emu, c := emulator(t, pulsartest.Config{})
	ids := publish(emu, c, 30)
	ns := natstest.Run(t, nil)
	js, err := natssink.Open(testutil.Context(t, 10*time.Second), natssink.Config{URL: ns.URL(), JetStream: true, Stream: "EIGHT", DuplicateWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.Close(context.Background()) })

	want := make([]string, 0, 10)
	for _, id := range ids[10:20] {
		want = append(want, natssink.MsgID(&sink.Event{Topic: "persistent://acme/event-v1/all", MessageID: id}))
	}
	for run := range 2 {
		res, err := runReplay(t, emu, js, replay.Range{From: ids[9], UntilID: ids[19]})
		if err != nil {
			t.Fatalf("replay %d: %v", run+1, err)
		}
		if res.Delivered != 10 {
			t.Errorf("replay %d delivered %d, want 10", run+1, res.Delivered)
		}
		equalIDs(t, streamIDs(t, ns.URL(), "EIGHT"), want)
	}
}
