package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/streamd/streamd/internal/checkpoint"
)

// Reader checkpoints are written off the delivery path. A save is a write,
// two fsyncs and a rename; done inline it stalls delivery for milliseconds
// on every save, which is what a paced stream's p99 latency would see.
// Delivery publishes the position it reached (Topic.pos, always a message
// every sink accepted) and, when the Tracker's count or interval trigger is
// due, wakes the checkpoint goroutine, which hands the newest position to
// the Tracker. Positions only move forward in delivery
// order, so a checkpoint is never past an unaccepted message.
//
// This file alone decides the cadence: the Tracker writes after
// CheckpointEvery messages or CheckpointInterval, and the checkpoint
// goroutine also flushes CheckpointInterval after the first delivery it has
// not saved, so that an idle topic's checkpoint is at most one interval
// stale, and a topic with nothing unsaved wakes nobody.
//
// A save that fails (state dir unwritable, disk full) is retried by the
// next one and never stops delivery; it makes the health part "checkpoint
// <topic>" not ready with the error, which names the file, logs at most one
// line per checkpointLogEvery, and a final save that fails makes Run fail.
// The checkpoint-age metric starts at start, so it grows from there while
// saves fail or hang. A save that succeeds only after more than
// CheckpointInterval (a NATS bucket electing a leader) is logged as slow:
// the replay bound a successor reports holds only while saves keep up.

// checkpointLogEvery bounds the log lines of a failing checkpoint: one per
// period, however many batches advance meanwhile.
const checkpointLogEvery = 30 * time.Second

// checkpointHealth tracks failing saves. Only the checkpoint goroutine, and
// after it the final save, use it.
type checkpointHealth struct {
	failures   int       // consecutive failed saves
	logged     time.Time // last log line about them
	slowLogged time.Time // last log line about a slow save
}

// ErrCheckpoint wraps a checkpoint that exists but cannot be trusted.
var ErrCheckpoint = errors.New("consumer: unusable checkpoint")

// loadPosition loads a reader's checkpoint and prepares its Tracker. It does
// nothing in consumer mode or without a checkpoint store. ctx bounds the
// load.
func (t *Topic) loadPosition(ctx context.Context) error {
	if t.cfg.Mode != ModeReader || t.opts.Checkpoints == nil {
		return nil
	}

	key := t.cfg.Tenant + "/" + t.name
	id, ok, err := t.opts.Checkpoints.Load(ctx, key)
	if errors.Is(err, checkpoint.ErrUnavailable) {
		return fmt.Errorf("load checkpoint of %s: %w", t.name, err)
	}

	if err != nil {
		return fmt.Errorf("load checkpoint of %s: %w: %w (move that file or bucket key away to start from STREAMD_START)", t.name, ErrCheckpoint, err)
	}

	t.tracker = checkpoint.NewTracker(t.opts.Checkpoints, key, t.opts.CheckpointEvery, t.opts.CheckpointInterval,
		func(at time.Time) {
			t.saveDue.Store(at.Add(t.opts.CheckpointInterval).UnixNano())
			t.opts.Metrics.Checkpointed(t.name, at)
		})
	t.wakeAfter.Store(int64(t.opts.CheckpointEvery))
	t.saveDue.Store(time.Now().Add(t.opts.CheckpointInterval).UnixNano())

	t.opts.Metrics.Checkpointed(t.name, time.Now()) // nothing is unsaved yet
	t.opts.Health.Set(t.checkpointPart(), true, "")

	if ok {
		t.log.Info("resuming after checkpoint", "message_id", id)
		t.resume = id
	}

	return nil
}

// startCheckpoints starts the checkpoint goroutine. The returned function
// stops it and writes the final position, returning why it could not.
// Saves, the final one included, run until hard ends: a graceful stop still
// checkpoints what it drained.
func (t *Topic) startCheckpoints(hard context.Context) (stop func() error) {
	if t.tracker == nil {
		return func() error { return nil }
	}

	t.advanced, t.unsaved = make(chan struct{}, 1), make(chan struct{}, 1)
	quit, done := make(chan struct{}), make(chan struct{})
	go t.checkpointLoop(hard, quit, done)
	return func() error {
		close(quit)
		<-done
		t.saveCheckpoint(hard)

		if err := t.tracker.Flush(hard); err != nil {
			t.log.Error("cannot write final checkpoint: a restart reads again what was delivered since the last one", "error", err)
			return fmt.Errorf("write final checkpoint of %s: %w", t.name, err)
		}

		return nil
	}
}

// advance records that a reader delivered n more frames up to and including
// id, at now. It wakes the checkpoint goroutine, without ever blocking, only when
// the Tracker would save: CheckpointEvery frames since its last save,
// CheckpointInterval since it began, or after a failed save (each batch
// retries). Otherwise the goroutine's flush timer, started by the first
// unsaved frames, passes the position on, so the checkpoints are written
// exactly when a wake-up per batch would write them, and a low rate costs
// no wake-up per batch.
func (t *Topic) advance(id string, n int, now time.Time) {
	t.pos.Store(&id)
	if t.tracker == nil {
		return
	}

	pending := t.pending.Add(int64(n))
	if pending == int64(n) {
		// The first frames since the checkpoint goroutine last took them:
		// it starts its flush timer.
		select {
		case t.unsaved <- struct{}{}:
		default:
		}
	}

	due := pending >= t.wakeAfter.Load() || now.UnixNano() >= t.saveDue.Load() || t.ckptFailed.Load()
	if !due {
		return
	}

	select {
	case t.advanced <- struct{}{}:
	default: // a wake-up is already pending; it will see this position
	}
}

// checkpointLoop saves positions as delivery advances, and flushes the
// newest one CheckpointInterval after the first unsaved delivery (and every
// interval while saves fail), until stop is closed.
func (t *Topic) checkpointLoop(ctx context.Context, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	flush := time.NewTimer(t.opts.CheckpointInterval)
	flush.Stop()
	defer flush.Stop()
	var armed bool
	for {
		select {
		case <-stop:
			return
		case <-t.advanced:
			t.saveCheckpoint(ctx)
		case <-t.unsaved:
		case <-flush.C:
			armed = false
			t.saveCheckpoint(ctx)
			t.timedSave(func() error { return t.tracker.Flush(ctx) })
			t.armWake()
		}

		// The flush timer runs only while a delivered position may be
		// unsaved: an idle topic costs no wake-up.
		if !armed && (t.pending.Load() > 0 || t.tracker.Unsaved()) {
			flush.Reset(t.opts.CheckpointInterval)
			armed = true
		}
	}
}

// saveCheckpoint passes the newest delivered position to the Tracker, which
// writes it when its count or interval trigger fires.
func (t *Topic) saveCheckpoint(ctx context.Context) {
	n := t.pending.Swap(0)
	p := t.pos.Load()
	if p == nil || n == 0 {
		return
	}
	t.timedSave(func() error { return t.tracker.Advance(ctx, *p, int(n)) })
	t.armWake()
}

// armWake tells advance how many more frames fire the Tracker's count
// trigger. Only the checkpoint goroutine calls it, after the Tracker heard.
func (t *Topic) armWake() {
	t.wakeAfter.Store(int64(t.opts.CheckpointEvery - t.tracker.Pending()))
}

// timedSave runs one save attempt and reports it, with a warning when it
// succeeded only after more than CheckpointInterval: meanwhile the stored
// checkpoint fell behind delivery, so a crash would have replayed more
// than the checkpoint window that a successor reports (max_replay_events).
// Delivery goes on during a slow save; the checkpoint-age metric shows the
// lag while it lasts.
func (t *Topic) timedSave(save func() error) {
	start := time.Now()
	err := save()
	took := time.Since(start)
	t.checkpointSaved(err)
	if err != nil || took < t.opts.CheckpointInterval {
		return
	}

	h := &t.ckpt
	if now := time.Now(); now.Sub(h.slowLogged) >= checkpointLogEvery {
		t.log.Warn("checkpoint save was slow: until it finished, a crash would have replayed more "+
			"than the checkpoint window", "took", took.Round(time.Millisecond).String(),
			"events_delivered_meanwhile", t.pending.Load(), "next_log_in", checkpointLogEvery)
		h.slowLogged = now
	}
}

func (t *Topic) checkpointPart() string { return "checkpoint " + t.name }

// checkpointSaved reports the result of a save attempt: a failure makes
// the health part not ready and is logged at most once per
// checkpointLogEvery; the first success after failures makes it ready
// again. (nil also means "nothing due", but not after a failure: after a
// failed save, of Advance or Flush, the Tracker retries on every call until
// one succeeds.)
func (t *Topic) checkpointSaved(err error) {
	h := &t.ckpt
	t.ckptFailed.Store(err != nil)
	if err == nil {
		if h.failures > 0 {
			t.log.Info("checkpoint written again", "failed_attempts", h.failures)
			t.opts.Health.Set(t.checkpointPart(), true, "")
			h.failures, h.logged = 0, time.Time{}
		}
		return
	}

	h.failures++
	t.opts.Health.Set(t.checkpointPart(), false, err.Error())

	if now := time.Now(); now.Sub(h.logged) >= checkpointLogEvery {
		t.log.Error("cannot write checkpoint; will retry (not ready until it works)",
			"error", err, "failed_attempts", h.failures, "next_log_in", checkpointLogEvery)
		h.logged = now
	}
}
