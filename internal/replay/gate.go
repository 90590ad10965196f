package replay

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/sink"
)

// Why a replay ended (Result.Stop).
const (
	StopUntil     = "reached -until"             // an event published after Until
	StopUntilID   = "reached -until message id"  // the UntilID event (or a later one)
	StopCaughtUp  = "caught up"                  // an event published after the replay started
	StopIdle      = "caught up (no more events)" // silence after the Until time
	StopCancelled = "interrupted"
)

// Result counts what a replay did. Skipped, Filtered and Delivered add up
// to the events read, excluding the one that ended the range.
type Result struct {
	Delivered    int64     // events every sink accepted
	Skipped      int64     // events published before Since
	Filtered     int64     // events of other types than Config.Types
	DeadLettered int64     // undecodable messages, logged and not replayed
	First, Last  string    // message ids of the first and last delivered event
	Oldest       time.Time // publish time of the first event read
	Position     time.Time // publish time of the last event read
	Stop         string    // why the replay ended, one of the Stop constants
}

// bounds are the gate's decisions, fixed before the first event.
type bounds struct {
	since      time.Time
	until      time.Time // zero: never ends by time (tail)
	caughtUp   bool      // until is the moment the replay started
	untilRaw   string
	untilID    consumer.MessageID
	types      map[string]bool // nil keeps every type
	retention  bool            // fail if the first event is newer than since
	sinceLabel string          // how since was given, for ErrRetention
}

// gate is the sink the Topic delivers to: it skips, filters and ends the
// range, and forwards the rest to next. The Topic calls Write from one
// goroutine at a time; the mutex is for snapshots taken meanwhile.
type gate struct {
	next sink.Sink
	b    bounds
	now  func() time.Time
	halt func() // called once the range ended from inside

	mu   sync.Mutex
	res  Result
	err  error // why the range failed (ErrRetention)
	done bool
	busy bool
	last time.Time // last sign of life: a connect, a batch, a dead letter
}

var _ sink.Sink = (*gate)(nil)

// tally is one batch's effect, committed only once the sink accepted it.
type tally struct {
	delivered, skipped, filtered int64
	first, last                  string
	oldest, position             time.Time
	stop                         string
	err                          error
}

// Write forwards the events of batch that are inside the range. After the
// range ended it accepts and drops everything: the reader's acks only free
// the proxy's window, and the Topic is stopping.
func (g *gate) Write(ctx context.Context, batch []*sink.Event) error {
	if !g.begin() {
		return nil
	}
	defer g.end()

	keep := make([]*sink.Event, 0, len(batch))
	t := g.sort(batch, &keep)
	if t.err == nil && len(keep) > 0 {
		if err := g.next.Write(ctx, keep); err != nil {
			return fmt.Errorf("write replayed events: %w", err)
		}
	}

	g.commit(t)
	if t.stop != "" || t.err != nil {
		g.halt()
	}
	return nil
}

// sort decides each event's fate in order, stopping at the range's end.
func (g *gate) sort(batch []*sink.Event, keep *[]*sink.Event) tally {
	var t tally
	g.mu.Lock()
	seen := !g.res.Oldest.IsZero()
	first := g.res.Delivered+g.res.Skipped+g.res.Filtered == 0 && g.res.Stop == ""
	g.mu.Unlock()

	for _, ev := range batch {
		pub := ev.Published
		if !seen && !pub.IsZero() {
			seen, t.oldest = true, pub
			if g.b.retention && pub.After(g.b.since) {
				t.err = retentionError(g.b.sinceLabel, g.b.since, ev)
				return t
			}
		}
		if stop := g.beyond(ev); stop != "" {
			if stop == StopUntilID && first {
				// The range ended before the first retained event.
				t.err = untilRetentionError(g.b.untilRaw, ev)
				return t
			}
			t.stop = stop
			return t
		}
		first = false
		if !pub.IsZero() {
			t.position = pub
		}
		switch {
		case !pub.IsZero() && pub.Before(g.b.since):
			t.skipped++
		case g.b.types != nil && !g.b.types[ev.EventType]:
			t.filtered++
		default:
			*keep = append(*keep, ev)
			t.delivered++
			if t.first == "" {
				t.first = ev.MessageID
			}
			t.last = ev.MessageID
		}
		if g.isUntilID(ev) {
			t.stop = StopUntilID
			return t
		}
	}
	return t
}

// beyond returns why ev is past the range's end, or "".
func (g *gate) beyond(ev *sink.Event) string {
	if !g.b.until.IsZero() && !ev.Published.IsZero() && ev.Published.After(g.b.until) {
		if g.b.caughtUp {
			return StopCaughtUp
		}
		return StopUntil
	}
	if g.b.untilRaw == "" || ev.MessageID == g.b.untilRaw {
		return ""
	}
	id, err := consumer.ParseMessageID(ev.MessageID)
	if err == nil && id.Partition == g.b.untilID.Partition && id.Compare(g.b.untilID) > 0 {
		return StopUntilID
	}
	return ""
}

func (g *gate) isUntilID(ev *sink.Event) bool {
	if g.b.untilRaw == "" {
		return false
	}
	if ev.MessageID == g.b.untilRaw {
		return true
	}
	id, err := consumer.ParseMessageID(ev.MessageID)
	return err == nil && id.Partition == g.b.untilID.Partition && id.Compare(g.b.untilID) == 0
}

func (g *gate) begin() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done {
		return false
	}
	g.busy = true
	return true
}

func (g *gate) end() {
	g.mu.Lock()
	g.busy = false
	g.last = g.now()
	g.mu.Unlock()
}

func (g *gate) commit(t tally) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := &g.res
	r.Delivered += t.delivered
	r.Skipped += t.skipped
	r.Filtered += t.filtered
	if r.First == "" {
		r.First = t.first
	}
	if t.last != "" {
		r.Last = t.last
	}
	if r.Oldest.IsZero() {
		r.Oldest = t.oldest
	}
	if !t.position.IsZero() {
		r.Position = t.position
	}
	if t.stop != "" || t.err != nil {
		g.done, g.err = true, t.err
		r.Stop = t.stop
	}
}

// touch records a sign of life that is not a batch.
func (g *gate) touch() {
	g.mu.Lock()
	g.last = g.now()
	g.mu.Unlock()
}

func (g *gate) deadLettered() {
	g.mu.Lock()
	g.res.DeadLettered++
	g.last = g.now()
	g.mu.Unlock()
}

// idleSince returns when the gate last saw activity, and false while a
// batch is being written.
func (g *gate) idleSince() (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last, !g.busy && !g.done
}

// finish ends the range from outside (silence or an interrupt); it reports
// false if the range had already ended.
func (g *gate) finish(reason string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done {
		return false
	}
	g.done, g.res.Stop = true, reason
	return true
}

func (g *gate) result() (Result, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.res, g.err
}

// Close closes nothing: the caller owns next.
func (g *gate) Close(context.Context) error { return nil }
