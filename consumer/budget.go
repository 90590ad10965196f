package consumer

import (
	"context"
	"sync/atomic"
)

// budget bounds the bytes of events a session read but the sinks have not
// accepted yet (Config.InflightBytes). Only the goroutine holding the
// reading role takes bytes (take), so the check and the add in take cannot
// race with another taker; whoever delivers a batch gives them back (give:
// the delivering goroutine, or the reader delivering inline). While take
// waits, the socket is not read: the proxy's TCP window fills and it stops
// sending, which bounds memory by bytes where the proxy's window
// (receiverQueueSize) only bounds it by messages.
type budget struct {
	limit    int64
	used     atomic.Int64
	peak     *atomic.Int64 // the Topic's high-water mark, for tests and figures
	released chan struct{} // capacity 1: wakes a waiting take
	// waits counts take's waits, +1 on entry and +1 on exit: odd while the
	// reader is parked, so that a ping it could not answer is not blamed
	// on the peer.
	waits atomic.Int64
	// waitBegin and waitEnd mark the Topic as waiting for its sinks
	// (see Topic.Waiting).
	waitBegin, waitEnd func()
}

// take reserves n bytes, waiting while the budget is spent (an item is
// always admitted when nothing else is held). It returns false when ctx or
// stop ends first.
func (b *budget) take(ctx, stop context.Context, n int64) bool {
	for {
		used := b.used.Load()
		if used == 0 || used+n <= b.limit {
			b.peakAt(b.used.Add(n))
			return true
		}

		b.waits.Add(1)
		b.waitBegin()

		select {
		case <-b.released:
			b.waits.Add(1)
			b.waitEnd()
		case <-ctx.Done():
			b.waits.Add(1)
			b.waitEnd()
			return false
		case <-stop.Done():
			b.waits.Add(1)
			b.waitEnd()
			return false
		}
	}
}

// give returns n bytes once the sinks accepted (or the dead letter
// recorded) what held them.
func (b *budget) give(n int64) {
	if n == 0 {
		return
	}
	b.used.Add(-n)
	select {
	case b.released <- struct{}{}:
	default:
	}
}

func (b *budget) peakAt(used int64) {
	for {
		p := b.peak.Load()
		if used <= p || b.peak.CompareAndSwap(p, used) {
			return
		}
	}
}

// paused returns the wait counter: a ping started and ended with the same
// even value saw the reader reading throughout.
func (b *budget) paused() int64 { return b.waits.Load() }
