package checkpoint

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Backend persists one message id per key. *Store keeps them in files of a
// local directory; *KV keeps them in a NATS JetStream key-value bucket. A
// Save that returns nil is durable; Load of a key never saved returns
// ok=false and a nil error, and an untrustworthy value an error wrapping
// ErrCorrupt. Calls may block (disk, network): they end when ctx ends (a
// network backend also bounds each call with its own timeout; file I/O checks
// ctx before it starts).
type Backend interface {
	Load(ctx context.Context, key string) (id string, ok bool, err error)
	Save(ctx context.Context, key, id string) error
}

// Tracker bounds how often one key's position is written. Call Advance after
// each batch that every sink accepted, and Flush at session end and shutdown
// (Flush is cheap when nothing is pending, so it may also run on a ticker to
// bound staleness on an idle topic). Safe for concurrent use.
type Tracker struct {
	store    Backend
	key      string
	every    int
	interval time.Duration
	onSave   func(time.Time)
	now      func() time.Time

	mu       sync.Mutex
	pos      string    // last advanced position
	saved    string    // last saved position
	pending  int       // messages advanced since the last save
	lastSave time.Time // last save, or the creation of the Tracker
	failed   bool      // the last save attempt failed: the next Advance retries
}

// NewTracker returns a Tracker that saves key when at least every messages,
// or at least interval, have passed since the last save (the interval counts
// from creation until the first save). every <= 0 or interval <= 0 disables
// that trigger; with both disabled every Advance saves. onSave, if not nil,
// is called after each successful save with the time that save began, which
// is when the stored position was current (e.g. for the checkpoint-age
// metric).
func NewTracker(b Backend, key string, every int, interval time.Duration, onSave func(time.Time)) *Tracker {
	return &Tracker{
		store:    b,
		key:      key,
		every:    every,
		interval: interval,
		onSave:   onSave,
		now:      time.Now,
		lastSave: time.Now(),
	}
}

// Advance records that n more messages were delivered, up to and including
// id, and saves if a trigger fired. A failed save (here or in Flush) returns
// the error and is retried by the next Advance or Flush, trigger or not, so
// that nil means the position is stored or not yet due. ctx bounds the
// save.
func (t *Tracker) Advance(ctx context.Context, id string, n int) error {
	if id == "" {
		return errors.New("advance checkpoint: empty message id")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pos = id
	t.pending += max(n, 0)
	if !t.due() {
		return nil
	}
	return t.saveLocked(ctx)
}

func (t *Tracker) due() bool {
	byCount := t.every > 0 && t.pending >= t.every
	byTime := t.interval > 0 && t.now().Sub(t.lastSave) >= t.interval
	return byCount || byTime || t.failed || (t.every <= 0 && t.interval <= 0)
}

// Flush saves the latest position if it has not been saved. ctx bounds the
// save.
func (t *Tracker) Flush(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pos == "" || t.pos == t.saved {
		return nil
	}
	return t.saveLocked(ctx)
}

// saveLocked writes the position. The save counts from when it began: the
// stored position is as old as that however long the write took (a bucket
// electing a leader), so the age reported and the next interval trigger
// include the time it hung.
func (t *Tracker) saveLocked(ctx context.Context) error {
	began := t.now()
	if err := t.store.Save(ctx, t.key, t.pos); err != nil {
		t.failed = true
		return err
	}
	t.saved, t.pending, t.lastSave, t.failed = t.pos, 0, began, false
	if t.onSave != nil {
		t.onSave(t.lastSave)
	}
	return nil
}

// Pending returns how many messages were advanced since the last save: the
// count trigger fires when it reaches every.
func (t *Tracker) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pending
}

// Unsaved reports whether the last advanced position is not stored yet
// (not due, or its save failed).
func (t *Tracker) Unsaved() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pos != t.saved
}

// Position returns the last advanced message ID, saved or not ("" if none).
func (t *Tracker) Position() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pos
}
