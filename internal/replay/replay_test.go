package replay_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/replay"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/file"
	"github.com/streamd/streamd/sink/sinktest"
)

// runReplay replays rg of emu's topic into s and returns the result.
func runReplay(t *testing.T, emu *pulsartest.Server, s sink.Sink, rg replay.Range, types ...string) (replay.Result, error) {
	t.Helper()
	ctx := testutil.Context(t, 20*time.Second)
	r := replay.New(replay.Config{Source: source(emu), Range: rg, Types: types, Sink: s, Idle: 2 * time.Second, Policy: fastPolicy})
	return r.Run(ctx, ctx)
}

func openFile(t *testing.T) (*file.Sink, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "replay.jsonl")
	fs, err := file.Open(file.Config{Path: path, Fsync: "always"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Close(context.Background()) })
	return fs, path
}

func TestReplayIDRangeIntoFile(t *testing.T) {
	t.Parallel()
	emu, c := emulator(t, pulsartest.Config{})
	ids := publish(emu, c, 30)
	fs, path := openFile(t)

	res, err := runReplay(t, emu, fs, replay.Range{From: ids[4], UntilID: ids[14]})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	equalIDs(t, fileIDs(t, path), ids[5:15]) // from is exclusive, until inclusive
	if res.Delivered != 10 || res.Stop != replay.StopUntilID || res.First != ids[5] || res.Last != ids[14] {
		t.Errorf("result %+v, want 10 delivered %s..%s, stop %q", res, ids[5], ids[14], replay.StopUntilID)
	}
}

func TestReplayTimeRangeSkipsBeforeSince(t *testing.T) {
	t.Parallel()
	emu, c := emulator(t, pulsartest.Config{})
	ids := publish(emu, c, 30)
	fs, path := openFile(t)

	rg := replay.Range{Since: base.Add(10 * time.Minute), Until: base.Add(20 * time.Minute)}
	res, err := runReplay(t, emu, fs, rg)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	equalIDs(t, fileIDs(t, path), ids[10:21]) // both ends inclusive
	if res.Skipped != 10 || res.Delivered != 11 || res.Stop != replay.StopUntil {
		t.Errorf("result %+v, want 10 skipped, 11 delivered, stop %q", res, replay.StopUntil)
	}
}

func TestReplayTypeFilter(t *testing.T) {
	t.Parallel()
	emu, c := emulator(t, pulsartest.Config{})
	ids := publish(emu, c, 10)
	rec := &sinktest.Recorder{}

	res, err := runReplay(t, emu, rec, replay.Range{From: "earliest", UntilID: ids[9]}, "InteractionAssigned")
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	equalIDs(t, rec.IDs(), []string{ids[1], ids[3], ids[5], ids[7], ids[9]})
	if res.Filtered != 5 || res.Delivered != 5 {
		t.Errorf("result %+v, want 5 filtered and 5 delivered", res)
	}
}

// TestReplayCaughtUp: without --until the replay ends at the first event
// published after it started, without delivering it.
func TestReplayCaughtUp(t *testing.T) {
	t.Parallel()
	emu, c := emulator(t, pulsartest.Config{})
	ids := publish(emu, c, 5)
	c.set(time.Now().Add(time.Hour))
	emu.Publish("acme/event-v1/all", event(99, "InteractionQueued"))
	rec := &sinktest.Recorder{}

	res, err := runReplay(t, emu, rec, replay.Range{})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	equalIDs(t, rec.IDs(), ids)
	if res.Stop != replay.StopCaughtUp {
		t.Errorf("stop %q, want caught up", res.Stop)
	}
}

// TestReplayIdleMeansCaughtUp: a stream with nothing newer ends after the
// idle silence.
func TestReplayIdleMeansCaughtUp(t *testing.T) {
	t.Parallel()
	emu, c := emulator(t, pulsartest.Config{})
	ids := publish(emu, c, 5)
	rec := &sinktest.Recorder{}

	res, err := runReplay(t, emu, rec, replay.Range{})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	equalIDs(t, rec.IDs(), ids)
	if res.Stop != replay.StopIdle {
		t.Errorf("stop %q, want %q", res.Stop, replay.StopIdle)
	}
}

func TestReplayUntilIDNotReached(t *testing.T) {
	t.Parallel()
	emu, c := emulator(t, pulsartest.Config{})
	ids := publish(emu, c, 5)
	// Each topic gets a ledger of its own at its first message, and ledgers
	// grow: this id is after every id of "all" and never read from it.
	later := emu.Publish("acme/event-v1/other", event(0, "InteractionQueued"))
	rec := &sinktest.Recorder{}

	res, err := runReplay(t, emu, rec, replay.Range{UntilID: later})
	if !errors.Is(err, replay.ErrUntilNotReached) {
		t.Fatalf("replay: %v (stop %q), want ErrUntilNotReached", err, res.Stop)
	}
	equalIDs(t, rec.IDs(), ids)
	if !strings.Contains(err.Error(), ids[4]) {
		t.Errorf("error %q does not name the last id read", err)
	}
}

func TestReplayStartOlderThanRetention(t *testing.T) {
	t.Parallel()
	emu, c := emulator(t, pulsartest.Config{RetainMessages: 10})
	ids := publish(emu, c, 30) // retained: 20..29
	rec := &sinktest.Recorder{}

	res, err := runReplay(t, emu, rec, replay.Range{Since: base.Add(5 * time.Minute)})
	if !errors.Is(err, replay.ErrRetention) {
		t.Fatalf("replay: %v, want ErrRetention", err)
	}
	for _, want := range []string{ids[20], "2025-10-15T09:20:00Z", "-from earliest"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if rec.Count() != 0 || res.Delivered != 0 {
		t.Errorf("delivered %d events, want none before the gap is acknowledged", rec.Count())
	}

	// Inside the retained range it works.
	res, err = runReplay(t, emu, rec, replay.Range{Since: base.Add(25 * time.Minute), Until: base.Add(27 * time.Minute)})
	if err != nil {
		t.Fatalf("replay inside retention: %v", err)
	}
	equalIDs(t, rec.IDs(), ids[25:28])
	if res.Skipped != 5 {
		t.Errorf("skipped %d, want 5", res.Skipped)
	}
}

// TestReplayUntilIDOlderThanRetention: an -until id before the first
// retained event ends the range before anything is read; that is an error
// naming both ids, not "reached -until message id" with nothing delivered.
func TestReplayUntilIDOlderThanRetention(t *testing.T) {
	t.Parallel()
	emu, c := emulator(t, pulsartest.Config{RetainMessages: 10})
	ids := publish(emu, c, 30) // retained: 20..29
	rec := &sinktest.Recorder{}

	res, err := runReplay(t, emu, rec, replay.Range{UntilID: ids[5]})
	if !errors.Is(err, replay.ErrUntilBeforeRetention) {
		t.Fatalf("replay: %v (stop %q, delivered %d), want ErrUntilBeforeRetention", err, res.Stop, res.Delivered)
	}
	for _, want := range []string{ids[20], ids[5], "-from earliest"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if rec.Count() != 0 {
		t.Errorf("delivered %d events, want none", rec.Count())
	}

	// The first retained id itself is inside the range.
	if _, err := runReplay(t, emu, rec, replay.Range{UntilID: ids[20]}); err != nil {
		t.Fatalf("replay until the first retained id: %v", err)
	}
	equalIDs(t, rec.IDs(), ids[20:21])
}

// TestReplayRetriesAFailingSink: a sink error is retried from the last
// accepted event; nothing is lost or repeated in the counts.
func TestReplayRetriesAFailingSink(t *testing.T) {
	t.Parallel()
	emu, c := emulator(t, pulsartest.Config{})
	ids := publish(emu, c, 20)
	rec := &sinktest.Recorder{}
	calls := 0
	flaky := sinktest.Func(func(ctx context.Context, batch []*sink.Event) error {
		calls++
		if calls == 1 {
			return errors.New("sink down")
		}
		return rec.Write(ctx, batch)
	})

	res, err := runReplay(t, emu, flaky, replay.Range{From: "earliest", UntilID: ids[19]})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	equalIDs(t, rec.IDs(), ids)
	if res.Delivered != 20 {
		t.Errorf("delivered %d, want 20", res.Delivered)
	}
}

func TestReplayInterrupted(t *testing.T) {
	t.Parallel()
	emu, c := emulator(t, pulsartest.Config{})
	publish(emu, c, 3)
	rec := &sinktest.Recorder{}
	ctx, cancel := context.WithCancel(testutil.Context(t, 20*time.Second))
	r := replay.New(replay.Config{Source: source(emu), Range: replay.Range{Until: time.Now().Add(time.Hour)}, Sink: rec, Policy: fastPolicy})
	done := make(chan error, 1)
	go func() { _, err := r.Run(ctx, context.Background()); done <- err }()
	if err := rec.WaitCount(ctx, 3); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel: %v, want context.Canceled", err)
	}
	if p := r.Progress(); p.Stop != replay.StopCancelled || p.Delivered != 3 {
		t.Errorf("progress %+v, want 3 delivered and stop %q", p, replay.StopCancelled)
	}
}

func TestReplayWrongKeyFailsAtOnce(t *testing.T) {
	t.Parallel()
	emu, _ := emulator(t, pulsartest.Config{Keys: []string{"eght_the_right_key"}})
	_, err := runReplay(t, emu, &sinktest.Recorder{}, replay.Range{From: "earliest"})
	if !errors.Is(err, replay.ErrRefused) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("replay with a wrong key: %v, want ErrRefused naming 401", err)
	}
	if strings.Contains(err.Error(), "eght_testkey123") {
		t.Errorf("error %q contains the credential", err)
	}
}
