// Package health tracks whether streamd is alive and ready: every topic
// session and every sink reports its state here, and the HTTP handlers,
// systemd notifications and `streamd check` read it.
package health

import (
	"sort"
	"sync"
	"time"
)

// Part is the state of one component, e.g. "topic event-v1/all" or "sink nats".
type Part struct {
	Ready  bool      `json:"ready"`
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since"`
}

// State is safe for concurrent use. The zero value is not usable; use New.
type State struct {
	mu    sync.Mutex
	parts map[string]Part
	beat  time.Time
	stall []string
	now   func() time.Time
}

// New returns an empty State.
func New() *State {
	return &State{
		parts: make(map[string]Part),
		now:   time.Now,
	}
}

// Set records the state of a component; Since changes only on transitions.
// A nil *State ignores the call.
func (s *State) Set(name string, ready bool, reason string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.parts[name]
	if !ok || p.Ready != ready {
		p.Since = s.now()
	}
	p.Ready, p.Reason = ready, reason
	s.parts[name] = p
}

// Ready reports whether all components are ready, with a copy of each one's
// state. No components (or a nil *State) means not ready.
func (s *State) Ready() (bool, map[string]Part) {
	if s == nil {
		return false, nil
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	parts := make(map[string]Part, len(s.parts))
	ready := len(s.parts) > 0
	for k, p := range s.parts {
		parts[k] = p
		ready = ready && p.Ready
	}

	return ready, parts
}

// NotReady lists the components that are not ready, sorted, as "name: reason".
func (s *State) NotReady() []string {
	_, parts := s.Ready()
	var out []string
	for k, p := range parts {
		if !p.Ready {
			out = append(out, k+": "+p.Reason)
		}
	}
	sort.Strings(out)
	return out
}

// Beat records that the main loop is making progress.
func (s *State) Beat() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.beat = s.now()
	s.mu.Unlock()
}

// LastBeat returns when Beat was last called (zero before the first call or
// for a nil *State).
func (s *State) LastBeat() time.Time {
	if s == nil {
		return time.Time{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.beat
}

// SetStalled records the parts that are alive but make no progress, each
// as "name: reason" (e.g. "topic event-v1/all: no frame, ack or pong for
// 1m25s"); nil or empty clears them. /healthz answers 503 while any is set.
func (s *State) SetStalled(parts []string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.stall = append([]string(nil), parts...)
	s.mu.Unlock()
}

// Stalled returns a copy of what SetStalled last recorded (nil for none or
// a nil *State).
func (s *State) Stalled() []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.stall) == 0 {
		return nil
	}
	return append([]string(nil), s.stall...)
}
