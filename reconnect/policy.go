// Package reconnect keeps a session (one WebSocket connection to the proxy)
// running for the life of the daemon: it restarts the session after every
// end, waiting an exponentially growing, jittered delay between attempts, and
// it never gives up. Credential and configuration errors are retried too, but
// only at the maximum delay, and are logged at error level with a hint for the
// operator.
package reconnect

import (
	"math/rand/v2"
	"time"
)

// Defaults used for zero fields of Policy.
const (
	DefaultMin          = time.Second
	DefaultMax          = 60 * time.Second
	DefaultHealthyAfter = 30 * time.Second
)

// Policy is exponential backoff with jitter. It is a pure value; the zero
// value uses the defaults above.
//
// The delay for attempt n (0, 1, 2, ...) has the ceiling
// c = min(Max, Min·2ⁿ) and is drawn uniformly from [c/2, c) ("equal jitter").
// Full jitter ([0, c)) would spread reconnecting clients a little more, but it
// can produce delays near zero at any attempt, including at the maximum, so a
// daemon that keeps being rejected for bad credentials could reconnect in a
// hot loop. With equal jitter every delay is at least Min/2 and a delay at the
// maximum is at least Max/2.
type Policy struct {
	// Min is the ceiling of the first delay (default 1s).
	Min time.Duration
	// Max caps the ceiling of every delay (default 60s).
	Max time.Duration
	// HealthyAfter is how long a session must have run for its end to reset
	// the attempt count (default 30s).
	HealthyAfter time.Duration
	// Rand returns a number in [0, 1); nil means math/rand/v2.Float64. Values
	// outside [0, 1) are clamped.
	Rand func() float64
}

func (p Policy) bounds() (lo, hi time.Duration) {
	lo, hi = p.Min, p.Max
	if lo <= 0 {
		lo = DefaultMin
	}
	if hi <= 0 {
		hi = DefaultMax
	}
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

func (p Policy) healthyAfter() time.Duration {
	if p.HealthyAfter <= 0 {
		return DefaultHealthyAfter
	}
	return p.HealthyAfter
}

// Ceiling returns min(Max, Min·2^attempt) without overflowing for any
// attempt. Negative attempts count as 0.
func (p Policy) Ceiling(attempt int) time.Duration {
	c, hi := p.bounds()
	for i := 0; i < attempt && c < hi; i++ {
		if c > hi/2 {
			return hi
		}
		c *= 2
	}
	return c
}

// MaxAttempt returns the smallest attempt whose ceiling is Max.
func (p Policy) MaxAttempt() int {
	c, hi := p.bounds()
	n := 0
	for c < hi {
		n++
		if c > hi/2 {
			break
		}
		c *= 2
	}
	return n
}

// Delay returns the wait before reconnect attempt number attempt (0-based):
// uniform in [c/2, c) where c = Ceiling(attempt).
func (p Policy) Delay(attempt int) time.Duration {
	c := p.Ceiling(attempt)
	r := rand.Float64
	if p.Rand != nil {
		r = p.Rand
	}

	f := r()
	if !(f >= 0) { // also catches NaN
		f = 0
	}

	if f >= 1 {
		f = 0.999999
	}

	half := c / 2
	return half + time.Duration(float64(c-half)*f)
}
