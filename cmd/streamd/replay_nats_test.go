package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/streamd/streamd/internal/natstest"
	natssink "github.com/streamd/streamd/sink/nats"
)

// TestReplayTwiceIntoJetStream: running the same replay twice stores the
// range once, in order, each message with the daemon's Nats-Msg-Id.
func TestReplayTwiceIntoJetStream(t *testing.T) {
	t.Parallel()
	emu, clock := newReplayEmulator(t, 0)
	ids := replayStream(emu, clock, 30)
	ns := natstest.Run(t, nil)
	e := streamEnv(t, emu, filepath.Join(t.TempDir(), "unused.jsonl"),
		"STREAMD_SINKS", "nats", "STREAMD_NATS_URL", ns.URL(), "STREAMD_NATS_JETSTREAM", "true",
		"STREAMD_NATS_STREAM", "EIGHT", "STREAMD_NATS_DUPLICATE_WINDOW", "1h")

	want := make([]string, 0, 10)
	for _, id := range ids[5:15] {
		want = append(want, "persistent://"+streamTopic+":"+id)
	}
	for run := range 2 {
		runOK(t, e, "replay", "-from", ids[4], "-until", ids[14])
		got := jetStreamIDs(t, ns.URL(), "EIGHT")
		if len(got) != len(want) {
			t.Fatalf("run %d: stream has %d messages, want %d: %v", run+1, len(got), len(want), got)
		}
		sameIDs(t, got, want)
	}
}

// runOK runs streamd and fails the test unless it exits 0.
func runOK(t *testing.T, e env, args ...string) *proc {
	t.Helper()
	p := run(t, e, args...)
	if p.code != exitOK {
		t.Fatalf("streamd %v: exit %d; stderr:\n%s", args, p.code, p.stderr.String())
	}
	return p
}

// jetStreamIDs returns the Nats-Msg-Id of every message of stream, in order.
func jetStreamIDs(t *testing.T, url, stream string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	str, err := connectJetStream(t, url).Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := str.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		ids = append(ids, m.Header.Get(natssink.HeaderMsgID))
	}
	return ids
}

// connectJetStream connects to the NATS server at url for the test and
// returns its JetStream context; the connection closes at cleanup.
func connectJetStream(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
