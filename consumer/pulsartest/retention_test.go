package pulsartest_test

import (
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// TestRetainMessages: past the count limit the oldest messages are gone;
// "earliest" and a resume after a dropped id start at the oldest retained
// one, a resume after a retained id stays exclusive, and memory stays at
// the limit however much is published.
func TestRetainMessages(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{RetainMessages: 3})
	ids := publishN(s, allTopic, 6) // ids[3:] retained

	for _, tc := range []struct{ start, want string }{
		{"earliest", ids[3]},
		{ids[0], ids[3]}, // dropped: the oldest retained
		{ids[3], ids[4]}, // retained: exclusive resume
	} {
		cl := dial(t, s, readerP, url.Values{"messageId": {tc.start}})
		if f := cl.next(); f.MessageID != tc.want {
			t.Errorf("start %s: first %s, want %s", tc.start, f.MessageID, tc.want)
		}
	}

	publishN(s, allTopic, 1000)
	if n := s.Stats().Retained; n != 3 {
		t.Errorf("%d messages retained after 1006 publishes, want 3", n)
	}
}

// TestRetainMessagesDurableCursor: a subscription whose cursor fell behind
// the retained range while its consumer was away continues at the oldest
// retained message, with no gap inside the range.
func TestRetainMessagesDurableCursor(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{RetainMessages: 3})
	q := url.Values{"subscriptionInitialPosition": {"Earliest"}}
	cl := dial(t, s, consumerP, q)
	first := publishN(s, allTopic, 1)[0]
	if f := cl.next(); f.MessageID != first {
		t.Fatalf("got %s, want %s", f.raw, first)
	}
	cl.ack(first)
	cl.endOfTopic()
	_ = cl.c.CloseNow()
	cl.closed()
	if err := s.WaitSessions(testutil.Context(t, wait), 0); err != nil {
		t.Fatal(err)
	}

	ids := publishN(s, allTopic, 5) // ids[2:] retained
	cl2 := dial(t, s, consumerP, q)
	for _, want := range ids[2:] {
		f := cl2.next()
		if f.MessageID != want {
			t.Fatalf("after the cursor fell behind got %s, want %s", f.raw, want)
		}
		cl2.ack(f.MessageID)
	}
	cl2.endOfTopic()
	if n := s.Backlog(allTopic, "streamd"); n != 0 {
		t.Errorf("backlog %d", n)
	}
}

// TestRetainFor: each publish drops the topic's messages published more
// than RetainFor before it.
func TestRetainFor(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
	s := pulsartest.Start(t, pulsartest.Config{RetainFor: time.Minute, Now: clock})

	var ids []string
	for range 4 {
		ids = append(ids, publishN(s, allTopic, 1)...)
		advance(25 * time.Second)
	}
	// Published at 0, 25, 50, 75 s: at 75 s the first is older than a minute.
	cl := dial(t, s, readerP, url.Values{"messageId": {"earliest"}})
	for _, want := range ids[1:] {
		if f := cl.next(); f.MessageID != want {
			t.Fatalf("got %s, want %s", f.MessageID, want)
		}
	}
	if n := s.Stats().Retained; n != 3 {
		t.Errorf("%d retained, want 3", n)
	}

	advance(time.Hour) // nothing ages out without a publish...
	if n := s.Stats().Retained; n != 3 {
		t.Errorf("%d retained before the next publish, want 3", n)
	}
	last := publishN(s, allTopic, 1)[0] // ...which drops the rest
	if n := s.Stats().Retained; n != 1 {
		t.Errorf("%d retained after an hour, want 1", n)
	}
	if f := cl.next(); f.MessageID != last {
		t.Fatalf("got %s, want %s", f.MessageID, last)
	}
}

// TestRetainAcks: Acked remembers the last RetainAcks ids.
func TestRetainAcks(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{RetainAcks: 2})
	ids := publishN(s, allTopic, 4)
	cl := dial(t, s, consumerP, url.Values{"subscriptionInitialPosition": {"Earliest"}})
	for range ids {
		cl.ack(cl.next().MessageID)
	}
	cl.endOfTopic() // every ack was handled
	if got := s.Acked(allTopic, "streamd"); !slices.Equal(got, ids[2:]) {
		t.Errorf("Acked = %q, want %q", got, ids[2:])
	}
}
