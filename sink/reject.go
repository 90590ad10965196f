package sink

import (
	"fmt"
	"slices"
	"strings"
)

// Rejected is one event that a sink can never accept: retrying the same
// event cannot help (it is too large for the server, its subject is
// invalid, ...). See RejectError.
type Rejected struct {
	// Index is the event's position in the batch passed to Write.
	Index int
	// Sink is the name of the rejecting target. Fanout sets it; a single
	// sink leaves it empty.
	Sink string
	// Reason says why, for the dead-letter record and logs, e.g.
	// "message of 1048600 bytes exceeds the server's max_payload of 1048576".
	Reason string
}

// RejectError is the error a Write returns when some events of the batch
// were rejected for good and every other event of the batch was accepted,
// as durably as a nil return would promise. The caller must not retry the
// rejected events (they would be rejected again): it records each one
// elsewhere (streamd dead-letters it with the reasons) and then treats the
// whole batch as done.
//
// Any other non-nil error from Write is transient: nothing of the batch
// counts as accepted and the whole batch is retried later.
//
// Detect it with errors.As:
//
//	var rej *sink.RejectError
//	if errors.As(err, &rej) {
//		for i, reason := range rej.ByEvent() { deadLetter(batch[i], reason) }
//		// then ack the whole batch
//	}
type RejectError struct {
	// Rejected lists the rejections sorted by Index, then Sink. An event
	// rejected by several sinks appears once per sink.
	Rejected []Rejected
}

// Error summarises the rejections: "2 events rejected for good: event 0 by
// sink nats: reason; ...".
func (e *RejectError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d events rejected for good:", len(e.ByEvent()))

	for i, r := range e.Rejected {
		if i > 0 {
			b.WriteByte(';')
		}

		fmt.Fprintf(&b, " event %d", r.Index)

		if r.Sink != "" {
			fmt.Fprintf(&b, " by sink %s", r.Sink)
		}

		b.WriteString(": " + r.Reason)
	}

	return b.String()
}

// ByEvent returns the reason per rejected batch index; the reasons of
// several sinks rejecting one event are joined as "sink a: r1; sink b: r2".
func (e *RejectError) ByEvent() map[int]string {
	out := make(map[int]string, len(e.Rejected))
	for _, r := range e.Rejected {
		reason := r.Reason
		if r.Sink != "" {
			reason = "sink " + r.Sink + ": " + reason
		}

		if prev, ok := out[r.Index]; ok {
			reason = prev + "; " + reason
		}

		out[r.Index] = reason
	}

	return out
}

// mapRejections converts the rejections of t's filtered batch to positions
// in batch, the batch given to Fanout.Write, naming t. It fails when the
// sink named an index outside the batch it was given; the caller treats
// that as a transient failure, so nothing is lost to a sink's bug.
func (t *target) mapRejections(rej *RejectError, batch []*Event, n int) ([]Rejected, error) {
	out := make([]Rejected, 0, len(rej.Rejected))
	for _, r := range rej.Rejected {
		if r.Index < 0 || r.Index >= n {
			return nil, fmt.Errorf("sink rejected event %d of a batch of %d", r.Index, n)
		}
		out = append(out, Rejected{
			Index:  t.batchIndex(batch, r.Index),
			Sink:   t.Name,
			Reason: r.Reason,
		})
	}
	return out, nil
}

// batchIndex returns the position in batch of the i-th event t's filter
// lets through.
func (t *target) batchIndex(batch []*Event, i int) int {
	if t.allow == nil {
		return i
	}

	for k, e := range batch {
		if _, ok := t.allow[e.EventType]; ok {
			if i == 0 {
				return k
			}
			i--
		}
	}

	return -1 // unreachable: i < len(t.filter(batch))
}

// rejectError returns nil for no rejections, else a *RejectError with them
// sorted.
func rejectError(rejected []Rejected) error {
	if len(rejected) == 0 {
		return nil
	}
	slices.SortFunc(rejected, func(a, b Rejected) int {
		if a.Index != b.Index {
			return a.Index - b.Index
		}
		return strings.Compare(a.Sink, b.Sink)
	})
	return &RejectError{Rejected: rejected}
}
