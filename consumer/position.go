package consumer

import (
	"errors"
	"fmt"
	"time"

	"github.com/streamd/streamd/internal/checkpoint"
)

// Reader checkpoints are written off the delivery path. A save is a write,
// two fsyncs and a rename; done inline it stalls delivery for milliseconds
// on every save, which is what a paced stream's p99 latency would see.
// Delivery publishes the position it reached (Topic.pos, always a message
// every sink accepted) and wakes the checkpoint goroutine, which hands the
// newest position to the Tracker. Positions only move forward in delivery
// order, so a checkpoint is never past an unaccepted message.
//
// This file alone decides the cadence: the Tracker writes after
// CheckpointEvery messages or CheckpointInterval, and the checkpoint
// goroutine also flushes every CheckpointInterval, so that an idle topic's
// checkpoint is at most one interval stale.

// ErrCheckpoint wraps a checkpoint that exists but cannot be trusted.
var ErrCheckpoint = errors.New("consumer: unusable checkpoint")

// loadPosition loads a reader's checkpoint and prepares its Tracker. It does
// nothing in consumer mode or without a checkpoint store.
func (t *Topic) loadPosition() error {
	if t.cfg.Mode != ModeReader || t.opts.Checkpoints == nil {
		return nil
	}

	key := t.cfg.Tenant + "/" + t.name
	id, ok, err := t.opts.Checkpoints.Load(key)
	if errors.Is(err, checkpoint.ErrUnavailable) {
		return fmt.Errorf("load checkpoint of %s: %w", t.name, err)
	}
	if err != nil {
		return fmt.Errorf("load checkpoint of %s: %w: %w (move the file away to start from STREAMD_START)", t.name, ErrCheckpoint, err)
	}
	t.tracker = checkpoint.NewTracker(t.opts.Checkpoints, key, t.opts.CheckpointEvery, t.opts.CheckpointInterval,
		func(at time.Time) { t.opts.Metrics.Checkpointed(t.name, at) })
	if ok {
		t.log.Info("resuming after checkpoint", "message_id", id)
		t.resume = id
	}
	return nil
}

// startCheckpoints starts the checkpoint goroutine. The returned function
// stops it and writes the final position.
func (t *Topic) startCheckpoints() (stop func()) {
	if t.tracker == nil {
		return func() {}
	}

	t.advanced = make(chan struct{}, 1)
	quit, done := make(chan struct{}), make(chan struct{})
	go t.checkpointLoop(quit, done)
	return func() {
		close(quit)
		<-done
		t.saveCheckpoint()
		if err := t.tracker.Flush(); err != nil {
			t.log.Error("cannot write final checkpoint", "error", err)
		}
	}
}

// advance records that a reader delivered n more frames up to and including
// id, and wakes the checkpoint goroutine without ever blocking.
func (t *Topic) advance(id string, n int) {
	t.pos.Store(&id)
	if t.tracker == nil {
		return
	}
	t.pending.Add(int64(n))
	select {
	case t.advanced <- struct{}{}:
	default: // a wake-up is already pending; it will see this position
	}
}

// checkpointLoop saves positions as delivery advances, and flushes the
// newest one every CheckpointInterval, until stop is closed.
func (t *Topic) checkpointLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(t.opts.CheckpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.advanced:
			t.saveCheckpoint()
		case <-tick.C:
			t.saveCheckpoint()
			if err := t.tracker.Flush(); err != nil {
				t.log.Error("cannot write checkpoint; will retry", "error", err)
			}
		}
	}
}

// saveCheckpoint passes the newest delivered position to the Tracker, which
// writes it when its count or interval trigger fires.
func (t *Topic) saveCheckpoint() {
	n := t.pending.Swap(0)
	p := t.pos.Load()
	if p == nil || n == 0 {
		return
	}
	if err := t.tracker.Advance(*p, int(n)); err != nil {
		t.log.Error("cannot write checkpoint; will retry", "error", err)
	}
}
