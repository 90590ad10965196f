package main

import (
	"path/filepath"
	"testing"

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
		got := natstest.StreamHeader(t, ns.URL(), "EIGHT", natssink.HeaderMsgID)
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
