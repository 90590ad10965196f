package checkpoint

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// newTracker returns a Tracker on a fresh store with a fake clock, and the
// list of times passed to onSave.
func newTracker(t *testing.T, every int, interval time.Duration) (*Tracker, *clock, *[]time.Time) {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s.now = c.now
	var saves []time.Time
	tr := NewTracker(s, "acme/event-v1/all", every, interval, func(at time.Time) { saves = append(saves, at) })
	tr.now, tr.lastSave = c.now, c.now()
	return tr, c, &saves
}

func saved(t *testing.T, tr *Tracker) string {
	t.Helper()
	id, _, err := tr.store.Load(t.Context(), tr.key)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func advance(t *testing.T, tr *Tracker, id string, n int) {
	t.Helper()
	if err := tr.Advance(t.Context(), id, n); err != nil {
		t.Fatalf("Advance(%q, %d): %v", id, n, err)
	}
}

func TestTrackerSavesOnCount(t *testing.T) {
	tr, c, saves := newTracker(t, 3, 0)
	advance(t, tr, "a", 1)
	advance(t, tr, "b", 1)
	if got := saved(t, tr); got != "" || len(*saves) != 0 {
		t.Fatalf("saved %q (%d saves) before 3 messages", got, len(*saves))
	}
	c.advance(time.Hour) // no interval trigger
	advance(t, tr, "c", 1)
	if got := saved(t, tr); got != "c" || len(*saves) != 1 || !(*saves)[0].Equal(c.t) {
		t.Fatalf("saved %q, saves %v; want c at %v", got, *saves, c.t)
	}
	advance(t, tr, "d", 5) // one batch larger than every
	if got := saved(t, tr); got != "d" {
		t.Fatalf("saved %q, want d", got)
	}
	advance(t, tr, "e", 2)
	if got, pos := saved(t, tr), tr.Position(); got != "d" || pos != "e" {
		t.Fatalf("saved %q position %q, want d and e", got, pos)
	}
}

func TestTrackerSavesOnInterval(t *testing.T) {
	tr, c, saves := newTracker(t, 0, 10*time.Second)
	advance(t, tr, "a", 100)
	c.advance(9 * time.Second)
	advance(t, tr, "b", 100)
	if got := saved(t, tr); got != "" {
		t.Fatalf("saved %q before the interval", got)
	}
	c.advance(time.Second) // 10s since creation
	advance(t, tr, "c", 1)
	if got := saved(t, tr); got != "c" || len(*saves) != 1 {
		t.Fatalf("saved %q after %d saves, want c after 1", got, len(*saves))
	}
	c.advance(9 * time.Second)
	advance(t, tr, "d", 1)
	c.advance(time.Second)
	advance(t, tr, "e", 1)
	if got := saved(t, tr); got != "e" || len(*saves) != 2 {
		t.Fatalf("saved %q after %d saves, want e after 2", got, len(*saves))
	}
}

func TestTrackerCountOrInterval(t *testing.T) {
	tr, c, saves := newTracker(t, 100, time.Minute)
	advance(t, tr, "a", 100) // count
	c.advance(time.Minute)
	advance(t, tr, "b", 1) // interval
	if len(*saves) != 2 || saved(t, tr) != "b" {
		t.Fatalf("saves %v, saved %q; want 2 saves ending at b", *saves, saved(t, tr))
	}
}

func TestTrackerNoTriggersSavesEveryAdvance(t *testing.T) {
	tr, _, saves := newTracker(t, 0, 0)
	advance(t, tr, "a", 1)
	advance(t, tr, "b", 0)
	if len(*saves) != 2 || saved(t, tr) != "b" {
		t.Fatalf("saves %v, saved %q; want 2 saves ending at b", *saves, saved(t, tr))
	}
}

func TestTrackerFlush(t *testing.T) {
	tr, _, saves := newTracker(t, 1000, time.Hour)
	if err := tr.Flush(t.Context()); err != nil || len(*saves) != 0 {
		t.Fatalf("Flush with no position = %v after %d saves", err, len(*saves))
	}
	if _, err := os.Stat(tr.store.(*Store).Path(tr.key)); !os.IsNotExist(err) {
		t.Fatalf("Flush with no position wrote a file: %v", err)
	}
	advance(t, tr, "a", 1)
	if err := tr.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Flush(t.Context()); err != nil { // nothing new: no write
		t.Fatal(err)
	}
	if len(*saves) != 1 || saved(t, tr) != "a" {
		t.Fatalf("saves %v, saved %q; want one save of a", *saves, saved(t, tr))
	}
	if err := tr.Advance(t.Context(), "", 1); err == nil {
		t.Fatal("Advance with empty id = nil, want error")
	}
}

func TestTrackerRetriesFailedSave(t *testing.T) {
	tr, _, saves := newTracker(t, 1, 0)
	dir := tr.store.(*Store).dir
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := tr.Advance(t.Context(), "a", 1); err == nil {
		t.Fatal("Advance with the dir removed = nil, want error")
	}
	if err := os.MkdirAll(filepath.Clean(dir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := tr.Flush(t.Context()); err != nil {
		t.Fatalf("Flush after the dir is back: %v", err)
	}
	if len(*saves) != 1 || saved(t, tr) != "a" {
		t.Fatalf("saves %v, saved %q; want one save of a", *saves, saved(t, tr))
	}
}

// TestTrackerRetriesFailedFlushOnAdvance: after a Flush failed, the next
// Advance saves even though no trigger is due. Otherwise it returned nil
// with the position unsaved, and a caller reporting "nil = stored" (the
// consumer's checkpoint health) flapped back to ready.
func TestTrackerRetriesFailedFlushOnAdvance(t *testing.T) {
	tr, _, saves := newTracker(t, 100, time.Hour)
	dir := tr.store.(*Store).dir
	advance(t, tr, "a", 1)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := tr.Flush(t.Context()); err == nil {
		t.Fatal("Flush with the dir removed = nil, want error")
	}
	if err := tr.Advance(t.Context(), "b", 1); err == nil {
		t.Fatal("Advance after a failed Flush, dir still removed = nil, want the retry's error")
	}
	if err := os.MkdirAll(filepath.Clean(dir), 0o700); err != nil {
		t.Fatal(err)
	}
	advance(t, tr, "c", 1)
	if len(*saves) != 1 || saved(t, tr) != "c" {
		t.Fatalf("saves %v, saved %q; want one save of c", *saves, saved(t, tr))
	}
	advance(t, tr, "d", 1) // no trigger due any more
	if len(*saves) != 1 {
		t.Fatalf("saves %v after a successful retry; want no save of d yet", *saves)
	}
}

// slowBackend is a Backend whose Save takes d on the fake clock.
type slowBackend struct {
	Backend
	c *clock
	d time.Duration
}

func (b slowBackend) Save(ctx context.Context, key, id string) error {
	b.c.advance(b.d)
	return b.Backend.Save(ctx, key, id)
}

// A save that hangs (a bucket electing a leader) stores the position as of
// its start: the age passed on counts from then, and the interval trigger
// fires again at once instead of one interval after the late success.
func TestTrackerSlowSaveCountsFromItsStart(t *testing.T) {
	tr, c, saves := newTracker(t, 0, time.Second)
	tr.store = slowBackend{Backend: tr.store, c: c, d: 2 * time.Second}
	c.advance(time.Second)
	began := c.now()
	advance(t, tr, "a", 1)
	if len(*saves) != 1 || !(*saves)[0].Equal(began) {
		t.Fatalf("saves %v, want one at %v (when the save began)", *saves, began)
	}
	advance(t, tr, "b", 1)
	if len(*saves) != 2 || saved(t, tr) != "b" {
		t.Fatalf("saves %v, saved %q: the save after a 2s save must not wait another interval", *saves, saved(t, tr))
	}
}
