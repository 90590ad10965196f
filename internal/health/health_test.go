package health

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable time source for State.now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newState() (*State, *clock) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	s := New()
	s.now = c.now
	return s, c
}

func TestReady(t *testing.T) {
	s, _ := newState()
	if ok, parts := s.Ready(); ok || len(parts) != 0 {
		t.Fatalf("empty state: ready=%v parts=%v, want not ready", ok, parts)
	}
	s.Set("topic event-v1/all", false, "connecting")
	s.Set("sink nats", true, "")
	if ok, _ := s.Ready(); ok {
		t.Fatal("ready with a part down")
	}
	if got, want := s.NotReady(), []string{"topic event-v1/all: connecting"}; !reflect.DeepEqual(got, want) {
		t.Errorf("NotReady() = %q, want %q", got, want)
	}
	s.Set("topic event-v1/all", true, "")
	if ok, parts := s.Ready(); !ok || len(parts) != 2 {
		t.Fatalf("all up: ready=%v parts=%v", ok, parts)
	}
	if got := s.NotReady(); len(got) != 0 {
		t.Errorf("NotReady() = %q, want none", got)
	}
}

func TestNotReadySorted(t *testing.T) {
	s, _ := newState()
	s.Set("topic b", false, "401 from proxy")
	s.Set("sink nats", false, "no servers")
	s.Set("topic a", false, "dial")
	want := []string{"sink nats: no servers", "topic a: dial", "topic b: 401 from proxy"}
	if got := s.NotReady(); !reflect.DeepEqual(got, want) {
		t.Errorf("NotReady() = %q, want %q", got, want)
	}
}

func TestSinceChangesOnTransitionOnly(t *testing.T) {
	s, c := newState()
	t0 := c.t
	s.Set("sink nats", false, "connecting")
	c.t = c.t.Add(time.Second)
	s.Set("sink nats", false, "no servers") // same state, new reason
	_, parts := s.Ready()
	if p := parts["sink nats"]; !p.Since.Equal(t0) || p.Reason != "no servers" {
		t.Errorf("after reason change: %+v, want since %v", p, t0)
	}
	c.t = c.t.Add(time.Second)
	s.Set("sink nats", true, "")
	_, parts = s.Ready()
	if p := parts["sink nats"]; !p.Since.Equal(c.t) || p.Reason != "" {
		t.Errorf("after transition: %+v, want since %v", p, c.t)
	}
}

func TestReadyReturnsCopy(t *testing.T) {
	s, _ := newState()
	s.Set("sink nats", true, "")
	_, parts := s.Ready()
	parts["sink nats"] = Part{Ready: false}
	if ok, _ := s.Ready(); !ok {
		t.Fatal("mutating the returned map changed the state")
	}
}

func TestBeat(t *testing.T) {
	s, c := newState()
	if !s.LastBeat().IsZero() {
		t.Fatal("LastBeat before Beat is not zero")
	}
	s.Beat()
	if !s.LastBeat().Equal(c.t) {
		t.Errorf("LastBeat() = %v, want %v", s.LastBeat(), c.t)
	}
}

func TestNilState(t *testing.T) {
	var s *State
	s.Set("x", true, "")
	s.Beat()
	if ok, parts := s.Ready(); ok || parts != nil {
		t.Errorf("nil Ready() = %v %v", ok, parts)
	}
	if got := s.NotReady(); got != nil {
		t.Errorf("nil NotReady() = %v", got)
	}
	if !s.LastBeat().IsZero() {
		t.Error("nil LastBeat() not zero")
	}
}

func TestConcurrent(t *testing.T) {
	s := New()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				s.Set("part", (i+j)%2 == 0, "r")
				s.Beat()
				s.Ready()
				s.NotReady()
				s.LastBeat()
			}
		}()
	}
	wg.Wait()
}
