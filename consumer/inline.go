package consumer

import (
	"time"
)

// Delivering on the reading goroutine.
//
// At low rates every frame is a batch of one, and handing it from the
// reading goroutine to the delivering one costs a wake-up: the Go scheduler
// readies the delivering goroutine and wakes a second thread to run it. At
// 1000 events/s that hand-off was a third of streamd's wake-ups per event
// (docs/performance.md). So a frame that arrives after a quiet spell, while
// nothing is queued and the sinks took their last batch quickly, is
// delivered by the reader itself (deliverInline).
//
// The reader must go on reading while a sink is slow: the proxy's pongs and
// close frames arrive on the socket, a sink outage should find the session
// buffering up to its byte budget, and the ping must not blame the peer for
// a pong nobody read. So an inline delivery arms the session's rescue timer;
// if the delivery has not finished within rescueAfter, the timer's goroutine
// takes over the reading role (read) and the delivering goroutine queues
// behind the inline batch (deliverMu), in order. The goroutine stuck in the
// sink finishes its batch and returns without reading again. Exactly one
// goroutine reads at a time: the rescuer starts only once the timer fired,
// and the inline deliverer reads again only if it stopped the timer first.

// Which frames the reader delivers itself: one it waited for longer than
// inlineAfter (the first after a quiet spell), and any while the average
// gap between frames is longer than inlineGap (a low rate, however bursty).
// Other frames go to the queue, where the delivering goroutine batches
// them: at high rates delivering one frame at a time on the reader would
// serialise reading and delivering and cost a sink write per event.
const (
	inlineAfter = 200 * time.Microsecond
	inlineGap   = 500 * time.Microsecond
	maxGap      = 4 * inlineGap // caps the average, so a burst after a long silence is soon batched
)

// pace follows the gaps between a reader's frames.
type pace struct {
	last time.Time     // when the previous frame arrived
	gap  time.Duration // moving average (1/8 weight per frame) of the gaps, at most maxGap
}

// arrived records a frame that the reader began waiting for at began and
// had at now, and reports whether it arrived slowly enough to be delivered
// inline.
func (p *pace) arrived(began, now time.Time) bool {
	if p.last.IsZero() {
		p.gap = maxGap // a new reader: slow until frames come faster
	} else {
		p.gap += (min(now.Sub(p.last), maxGap) - p.gap) / 8
	}
	p.last = now
	return now.Sub(began) > inlineAfter || p.gap > inlineGap
}

// inlineSinkMax is the longest the sinks may have taken over their last
// batch for the next frame to be delivered inline. A sink that needs a
// round trip per write (NATS: a PING/PONG or the PubAck) is better served by
// the delivering goroutine, which batches what arrives meanwhile, and a slow
// or failing sink is left to it while the reader keeps reading.
const inlineSinkMax = 100 * time.Microsecond

// rescueAfter bounds how long an inline delivery keeps the socket unread:
// half the ping timeout, so that a pong that arrives meanwhile is still read
// in time, and at most a second. A timer further out than the runtime's next
// one (streamd's 1 s ticks) costs no wake-up when it is re-armed per frame.
func rescueAfter(pingTimeout time.Duration) time.Duration {
	return max(min(pingTimeout/2, time.Second), time.Millisecond)
}

// inline reports whether the reader may deliver the frame it just read
// itself: the frame came slowly (see pace) and the sinks are fast. The caller then
// still needs deliverInline to find nothing queued and the delivery lock
// free.
func (s *session) inline(slow bool) bool {
	return slow && s.sinksFast.Load() && s.queued.Load() == 0
}

// inlineResult is what the reader does after trying an inline delivery.
type inlineResult int

const (
	inlineQueue      inlineResult = iota // not delivered: queue it like any other frame
	inlineReadOn                         // delivered (or left unacked: the session is closing)
	inlineHandedOver                     // the rescuer reads now: this goroutine stops
	inlineFailed                         // the delivery failed the session: stop reading
)

// deliverInline delivers it on the reading goroutine as a batch of one,
// unless the delivering goroutine holds the delivery lock (inlineQueue).
//
// It runs only when nothing is queued, and holds deliverMu, so it never
// overtakes an older frame nor runs beside the delivering goroutine; after
// that goroutine returned (the session is closing) the frame is left
// unacked, like any frame read after a graceful stop.
func (s *session) deliverInline(it item) inlineResult {
	if !s.deliverMu.TryLock() {
		return inlineQueue
	}

	defer s.deliverMu.Unlock()
	if s.deliverDone {
		return inlineReadOn
	}

	s.rescue.Reset(s.rescueAfter)
	s.one[0] = it
	err := s.deliverBatch(s.one[:], s.oneEvent[:0])
	s.one[0] = item{}
	rescued := !s.rescue.Stop()

	if err != nil {
		s.fail(err)
	}

	switch {
	case rescued:
		return inlineHandedOver // the rescuer's read ends with the session
	case err != nil:
		return inlineFailed
	}

	return inlineReadOn
}

// takeOver is the rescue timer's function: an inline delivery is taking
// longer than rescueAfter, so this goroutine becomes the reader.
func (s *session) takeOver() {
	s.t.rescues.Add(1)
	s.read()
}
