package consumer

// Reader checkpoints are written off the delivery path. A save is a write,
// two fsyncs and a rename; done inline it stalls delivery for milliseconds
// on every save, which is what a paced stream's p99 latency would see.
// Delivery publishes the position it reached (Topic.pos, always a message
// every sink accepted) and wakes the checkpoint goroutine, which hands the
// newest position to the Tracker. Positions only move forward in delivery
// order, so a checkpoint is never past an unaccepted message.

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

// checkpointLoop saves positions until stop is closed.
func (t *Topic) checkpointLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-stop:
			return
		case <-t.advanced:
			t.saveCheckpoint()
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
		t.log.Error("cannot write checkpoint; will retry", "err", err)
	}
}
