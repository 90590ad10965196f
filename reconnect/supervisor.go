package reconnect

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Class is how a session ended.
type Class int

const (
	// Transient ends (network errors, server closes, 409/429/5xx) are retried
	// with exponential backoff. It is the zero value.
	Transient Class = iota
	// Credential ends (401/403, or configuration-shaped: wrong key, tenant
	// or topic) are retried at the maximum delay and logged at error level.
	Credential
	// Stop ends a clean shutdown: Run returns nil without retrying.
	Stop
)

// String returns "transient", "credential" or "stop".
func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Credential:
		return "credential"
	case Stop:
		return "stop"
	}
	return "unknown"
}

// errNilSession is returned by Run without a session function.
var errNilSession = errors.New("reconnect: nil session")

// Supervisor restarts a session until its context is done. Its fields are
// read-only once Run has been called; one Supervisor may run several sessions
// concurrently provided its function fields are safe for concurrent use.
type Supervisor struct {
	Policy Policy
	// Classify tells how a session ended; nil classifies every error as
	// Transient. It is not called for a nil error (a server close, which is
	// Transient) nor once the context of Run is done.
	Classify func(error) Class
	// Reason returns a short, low-cardinality reason for metrics and logs,
	// e.g. "handshake_401", "read_eof". nil (or an empty result) means
	// "error". A nil session error always has the reason "closed".
	Reason func(error) string
	// Hint returns what the operator should fix, logged with Credential ends.
	Hint func(error) string
	// Logger receives the supervisor's logs; nil discards them.
	Logger *slog.Logger
	// OnRetry is called after every session end that will be retried, before
	// the wait. failures is the number of consecutive failed sessions
	// (1-based) since the last healthy one; delay is the wait before the next.
	OnRetry func(class Class, reason string, failures int, delay time.Duration)
	// Now and After are the clock; nil means time.Now and a real timer.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// Run calls session repeatedly until ctx is done, then returns nil. It never
// gives up: after a Transient end it waits Policy.Delay(attempt) and
// increments attempt, first resetting attempt to 0 if the session ran for at
// least Policy.HealthyAfter; after a Credential end it logs the error and
// hint at error level and waits a delay at the maximum. A session ending with
// a Stop error also makes Run return nil. name identifies the session in logs.
//
// The session should call connected once its connection is established, so
// that a recovery is logged when it happens: after failed attempts it logs
// "reconnected" at info level, once per session. connected does not reset
// the backoff (only a session lasting Policy.HealthyAfter does), and is safe
// to call from any goroutine and more than once.
func (s *Supervisor) Run(ctx context.Context, name string, session func(ctx context.Context, connected func()) error) error {
	if session == nil {
		return errNilSession
	}

	log := s.logger().With("session", name)
	attempt, failures := 0, 0
	for ctx.Err() == nil {
		start := s.now()
		conn := &connState{
			log:      log,
			failures: failures,
		}
		err := session(ctx, conn.connected)

		if ctx.Err() != nil {
			return nil
		}

		class := s.classify(err)
		reason := s.reason(err)
		if class == Stop {
			log.Info("session stopped", "reason", reason)
			return nil
		}

		if s.now().Sub(start) >= s.Policy.healthyAfter() {
			conn.connected() // logs a recovery not yet reported
			attempt, failures = 0, 0
		}

		failures++

		if class == Credential {
			attempt = max(attempt, s.Policy.MaxAttempt())
		}

		delay := s.Policy.Delay(attempt)
		s.logEnd(log, class, reason, err, failures, delay)

		if s.OnRetry != nil {
			s.OnRetry(class, reason, failures, delay)
		}

		if attempt < s.Policy.MaxAttempt() {
			attempt++
		}

		if !s.wait(ctx, delay) {
			return nil
		}
	}

	return nil
}

func (s *Supervisor) logEnd(log *slog.Logger, class Class, reason string, err error, failures int, delay time.Duration) {
	attrs := []any{"reason", reason, "failures", failures, "retry_in", delay.Round(time.Millisecond)}
	if err != nil {
		attrs = append(attrs, "error", err)
	}

	if class != Credential {
		log.Warn("session ended", attrs...)
		return
	}

	if s.Hint != nil {
		if h := s.Hint(err); h != "" {
			attrs = append(attrs, "hint", h)
		}
	}

	log.Error("session rejected, check credentials and configuration", attrs...)
}

// wait reports whether d elapsed before ctx was done.
func (s *Supervisor) wait(ctx context.Context, d time.Duration) bool {
	var c <-chan time.Time
	if s.After != nil {
		c = s.After(d)
	} else {
		t := time.NewTimer(d)
		defer t.Stop()
		c = t.C
	}

	select {
	case <-c:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}

func (s *Supervisor) classify(err error) Class {
	if err == nil || s.Classify == nil {
		return Transient
	}
	return s.Classify(err)
}

func (s *Supervisor) reason(err error) string {
	if err == nil {
		return "closed"
	}
	if s.Reason != nil {
		if r := s.Reason(err); r != "" {
			return r
		}
	}
	return "error"
}

func (s *Supervisor) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Supervisor) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// connState belongs to one session run; failures is fixed at its start.
type connState struct {
	once     sync.Once
	log      *slog.Logger
	failures int
}

// connected logs a recovery once per session, if the session follows failed
// attempts.
func (c *connState) connected() {
	c.once.Do(func() {
		if c.failures > 0 {
			c.log.Info("reconnected", "failed_attempts", c.failures)
		}
	})
}
