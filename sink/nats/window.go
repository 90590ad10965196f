package nats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// window tracks one Write's unacknowledged JetStream publishes.
type window struct {
	s       *Sink
	ctx     context.Context
	lost    <-chan struct{} // closed when the connection drops
	timer   *time.Timer     // bounds each PubAck wait; nil until the first
	pending []published     // oldest first; each holds a slot
	rej     rejections
}

// published is a publish awaiting its PubAck.
type published struct {
	f     jetstream.PubAckFuture
	index int // in the batch
}

// acquire takes a slot. While the window is full it first waits for this
// Write's own oldest ack, so Writes never hold slots while blocked on each
// other; a Write with nothing pending waits for a free slot.
func (w *window) acquire() error {
	for {
		select {
		case w.s.slots <- struct{}{}:
			return nil
		default:
		}

		if len(w.pending) > 0 {
			if err := w.waitOldest(); err != nil {
				return err
			}
			continue
		}

		select {
		case w.s.slots <- struct{}{}:
			return nil
		case <-w.ctx.Done():
			return fmt.Errorf("wait for jetstream publish window: %w", w.ctx.Err())
		}
	}
}

// waitOldest waits for the oldest pending PubAck and frees its slot. The
// wait ends after AckTimeout, or at once when the connection drops (that
// ack will never come); either fails the Write, and a timeout makes the next
// Write ask the server for the stream, which may have been deleted while a
// plain subscriber on its subjects swallows the publishes.
func (w *window) waitOldest() error {
	p := w.pending[0]
	timeout := w.s.cfg.AckTimeout
	if w.timer == nil {
		w.timer = time.NewTimer(timeout)
	} else {
		w.timer.Reset(timeout)
	}

	var err error
	select {
	case <-p.f.Ok():
	case err = <-p.f.Err():
		err = w.ackError(p, err)
	case <-w.timer.C:
		w.s.streamReady.Store(false)
		err = fmt.Errorf("publish %s: no PubAck within %v", p.f.Msg().Header.Get(HeaderMsgID), timeout)
	case <-w.lost:
		err = fmt.Errorf("publish %s: connection lost before the PubAck", p.f.Msg().Header.Get(HeaderMsgID))
	case <-w.ctx.Done():
		return fmt.Errorf("wait for jetstream ack: %w", w.ctx.Err())
	}

	w.pending = w.pending[1:]
	<-w.s.slots

	return err
}

// ackError classifies a negative PubAck: a message the stream can never
// store is rejected for good (nil is returned), anything else fails the
// Write.
func (w *window) ackError(p published, err error) error {
	if isAPIError(err, jetstream.JSErrCodeStreamMessageExceedsMaximum) {
		w.rej.add(p.index, "stream rejected the message: "+err.Error())
		return nil
	}
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		w.s.streamReady.Store(false) // the stream may have been deleted
	}
	return fmt.Errorf("publish %s: %w", p.f.Msg().Header.Get(HeaderMsgID), err)
}

// release frees the slots of publishes nobody waits for any more.
func (w *window) release() {
	for range w.pending {
		<-w.s.slots
	}
	w.pending = nil
	if w.timer != nil {
		w.timer.Stop()
	}
}

// isAPIError reports whether err carries the JetStream API error code.
func isAPIError(err error, code jetstream.ErrorCode) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == code
	}
	var jsErr jetstream.JetStreamError
	return errors.As(err, &jsErr) && jsErr.APIError() != nil && jsErr.APIError().ErrorCode == code
}
