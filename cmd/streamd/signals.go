package main

import "time"

// repeatWindow is how soon after the first stop signal another one is the
// same request rather than a second one. timeout(1) without --foreground
// sends its SIGTERM to the command and then to its whole process group, and
// supervisors that signal a process and its group do the same: the copies
// arrive microseconds apart. Taken as a second signal, they would abort a
// stop that was meant to be graceful (exit 1, the final checkpoint not
// written). A person pressing Ctrl-C again to force the stop is slower.
const repeatWindow = 500 * time.Millisecond

// stopRequest remembers when the first stop signal came. The zero value
// has seen none.
type stopRequest struct{ first time.Time }

// begin records a first stop signal received at now.
func (s *stopRequest) begin(now time.Time) { s.first = now }

// repeated reports whether a stop signal received at now, after begin, is
// a copy of the first one (within repeatWindow) rather than a second
// request.
func (s *stopRequest) repeated(now time.Time) bool {
	return !s.first.IsZero() && now.Sub(s.first) < repeatWindow
}
