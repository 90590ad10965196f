// Package sinktest provides fakes of sink.Sink for tests: Recorder, which
// records what it accepts and can be made to fail or block, and Func, which
// adapts a function.
package sinktest

import (
	"bytes"
	"context"
	"sync"

	"github.com/streamd/streamd/sink"
)

var (
	_ sink.Sink = (*Recorder)(nil)
	_ sink.Sink = Func(nil)
)

// Func adapts a function to sink.Sink; Close does nothing.
type Func func(ctx context.Context, batch []*sink.Event) error

// Write calls f.
func (f Func) Write(ctx context.Context, batch []*sink.Event) error { return f(ctx, batch) }

// Close returns nil.
func (f Func) Close(context.Context) error { return nil }

// Recorder is a sink.Sink that records a copy of every event it accepts. It
// is safe for concurrent use; the zero value is ready to use.
type Recorder struct {
	mu      sync.Mutex
	events  []sink.Event
	fail    error
	block   chan struct{} // non-nil while blocked; closed by Unblock
	changed chan struct{} // closed and replaced whenever events grow
	calls   int
	closed  bool
	reject  func(*sink.Event) string
}

// Write records a copy of batch, or returns the error set by Fail. Events
// that the function set by Reject rejects are not recorded, and Write then
// returns a *sink.RejectError naming them. While blocked (see Block) it
// waits for Unblock or ctx. After Close it returns sink.ErrClosed.
func (r *Recorder) Write(ctx context.Context, batch []*sink.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++

	for r.block != nil {
		ch := r.block
		r.mu.Unlock()

		select {
		case <-ch:
		case <-ctx.Done():
			r.mu.Lock()
			return ctx.Err()
		}

		r.mu.Lock()
	}

	switch {
	case r.closed:
		return sink.ErrClosed
	case r.fail != nil:
		return r.fail
	case ctx.Err() != nil:
		return ctx.Err()
	}

	var rejected []sink.Rejected
	for i, e := range batch {
		if r.reject != nil {
			if reason := r.reject(e); reason != "" {
				rejected = append(rejected, sink.Rejected{
					Index:  i,
					Reason: reason,
				})
				continue
			}
		}

		c := *e
		c.Properties = bytes.Clone(e.Properties)
		c.Payload = bytes.Clone(e.Payload)
		r.events = append(r.events, c)
	}

	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}

	if rejected != nil {
		return &sink.RejectError{Rejected: rejected}
	}

	return nil
}

// Reject makes following Writes reject, for good, every event for which
// reason returns a non-empty reason (nil rejects nothing), as a sink does
// with an event too large for its server.
func (r *Recorder) Reject(reason func(*sink.Event) string) {
	r.mu.Lock()
	r.reject = reason
	r.mu.Unlock()
}

// Close marks the recorder closed and releases blocked writers. Idempotent.
func (r *Recorder) Close(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.block != nil {
		close(r.block)
		r.block = nil
	}
	return nil
}

// Fail makes every following Write return err (nil is the same as Heal).
func (r *Recorder) Fail(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

// Heal undoes Fail.
func (r *Recorder) Heal() { r.Fail(nil) }

// Block makes Write wait until Unblock (or its ctx is done), simulating a
// slow sink.
func (r *Recorder) Block() {
	r.mu.Lock()
	if r.block == nil {
		r.block = make(chan struct{})
	}
	r.mu.Unlock()
}

// Unblock releases writers waiting because of Block.
func (r *Recorder) Unblock() {
	r.mu.Lock()
	if r.block != nil {
		close(r.block)
		r.block = nil
	}
	r.mu.Unlock()
}

// Events returns copies of the accepted events in order of acceptance.
func (r *Recorder) Events() []sink.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sink.Event(nil), r.events...)
}

// IDs returns the MessageIDs of the accepted events in order.
func (r *Recorder) IDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, len(r.events))
	for i, e := range r.events {
		ids[i] = e.MessageID
	}
	return ids
}

// Count returns the number of accepted events.
func (r *Recorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// Calls returns the number of Write calls, failed ones included.
func (r *Recorder) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// WaitCount waits until at least n events have been accepted or ctx is done.
func (r *Recorder) WaitCount(ctx context.Context, n int) error {
	for {
		r.mu.Lock()

		if len(r.events) >= n {
			r.mu.Unlock()
			return nil
		}

		if r.changed == nil {
			r.changed = make(chan struct{})
		}

		ch := r.changed
		r.mu.Unlock()

		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
