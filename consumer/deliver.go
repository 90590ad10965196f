package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/sink"
)

// deliver hands batches to the sinks in arrival order and releases their
// acks only after every sink accepted them.
func (s *session) deliver() {
	defer func() {
		s.deliverMu.Lock()
		s.deliverDone = true // no inline delivery after this
		s.deliverMu.Unlock()
	}()

	t := s.t
	// Grown on demand up to ReceiverQueueSize: a topic at a low rate keeps
	// small batches (memory per topic matters with many topics).
	batch := make([]item, 0, min(t.cfg.ReceiverQueueSize, 16))
	events := make([]*sink.Event, 0, min(t.cfg.ReceiverQueueSize, 16))
	for {
		if s.connCtx.Err() != nil {
			// The connection failed: whatever is still queued can no
			// longer be acked on it. It comes again on the next session
			// (reader: from the checkpoint; consumer: redelivered).
			return
		}

		var more bool
		if batch, more = s.nextBatch(batch[:0]); !more {
			return
		}

		if cap(events) < len(batch) {
			events = make([]*sink.Event, 0, cap(batch))
		}

		s.deliverMu.Lock()
		err := s.deliverBatch(batch, events[:0])
		s.queued.Add(-int64(len(batch)))
		s.deliverMu.Unlock()

		if err != nil {
			s.fail(err)
			return
		}
	}
}

// nextBatch waits for the first queued item, then takes whatever else is
// already queued, up to ReceiverQueueSize items. It returns false when there is
// nothing more to deliver: the queue is closed, or a graceful stop found it
// empty.
func (s *session) nextBatch(batch []item) ([]item, bool) {
	select {
	case it, ok := <-s.queue:
		if !ok {
			return batch, false
		}
		batch = append(batch, it)
	case <-s.stop.Done():
		// Graceful stop: finish what was already received.
		select {
		case it, ok := <-s.queue:
			if !ok {
				return batch, false
			}
			batch = append(batch, it)
		default:
			return batch, false
		}
	}

	for len(batch) < s.t.cfg.ReceiverQueueSize {
		select {
		case it, ok := <-s.queue:
			if !ok {
				return batch, true
			}
			batch = append(batch, it)
		default:
			return batch, true
		}
	}

	return batch, true
}

// deliverBatch dead-letters the poison items, writes the events to the sink,
// and only then acks the ids and advances a reader's position.
func (s *session) deliverBatch(batch []item, events []*sink.Event) error {
	t := s.t
	began := time.Now()
	ids := make([]string, 0, len(batch))
	var published time.Time
	var last string // last id that a reader may resume after
	var size int64
	for _, it := range batch {
		size += it.size

		switch {
		case it.poison != nil:
			if err := t.deadLetter(s.hard, it.poison); err != nil {
				return err
			}
		case it.ev != nil:
			events = append(events, it.ev)
			published = it.ev.Published
		}

		if it.idOK {
			last = it.id
		}
		// A reader frees a window slot for any frame; a consumer closes the
		// session on an ack whose id it cannot decode, so none is sent.
		if it.idOK || t.cfg.Mode == ModeReader {
			ids = append(ids, it.id)
		}
	}

	if err := s.writeSinks(events); err != nil {
		return err
	}

	// Dead letters and sinks together: either may make inline delivery slow.
	now := time.Now()
	s.sinksFast.Store(now.Sub(began) < inlineSinkMax)
	s.budget.give(size)
	s.writeAcks(ackBatch{ids: ids, frames: len(batch), published: published}, now)

	if last != "" && t.cfg.Mode == ModeReader {
		t.advance(last, len(batch), now)
		t.met.ReaderBehind(t.behind.accepted(last))
	}

	return s.leak(len(batch) - len(ids))
}

// writeSinks hands events to the sinks and returns once every sink accepted
// them, or once the ones it rejected for good are dead-lettered.
func (s *session) writeSinks(events []*sink.Event) error {
	if len(events) == 0 {
		return nil
	}

	// The batch is finished even if the connection drops meanwhile (only
	// the hard context abandons it): a reader then checkpoints it and
	// resumes after it instead of reading it again, and a sink that is
	// failing is not raced by a new session it cannot serve.
	t := s.t
	t.waitBegin()
	err := t.opts.Sink.Write(s.hard, events)
	t.waitEnd()

	var rej *sink.RejectError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &rej):
		return fmt.Errorf("deliver batch: %w", err)
	}

	// Every other event was accepted; the rejected ones are recorded,
	// then the whole batch is acked.
	return t.deadLetterRejected(s.hard, events, rej)
}

// leak counts n more frames that hold a window slot because no ack can
// free it (a consumer cannot ack a frame without a decodable id). Once they
// hold half the window it ends the session with errWindowLeak: the proxy
// would soon stop sending, and a new session starts with a full window.
func (s *session) leak(n int) error {
	s.leaked += n
	if limit := max(1, s.t.cfg.ReceiverQueueSize/2); s.leaked >= limit {
		return fmt.Errorf("%d frames without an ackable id hold window slots: %w", s.leaked, errWindowLeak)
	}
	return nil
}

// deadLetter records a poison message durably, retrying with the dead-letter
// writer's backoff while its file cannot be written: the message must not be
// acked before it is safely recorded, and it counts as dead-lettered only
// then.
func (t *Topic) deadLetter(ctx context.Context, r *deadletter.Record) error {
	t.waitBegin()
	err := t.opts.DeadLetter.WriteRetry(ctx, *r)
	t.waitEnd()
	if err != nil {
		return err // "write dead letter: ..."
	}
	t.opts.Metrics.DeadLetter(t.name)
	return nil
}
