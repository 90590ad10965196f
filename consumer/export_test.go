package consumer

import (
	"errors"
	"time"
)

// Unexported parts of the package, under the names the tests use (as
// coder/websocket does).

type (
	Frame          = frame
	PoisonError    = poisonError
	HandshakeError = handshakeError
)

const UnknownEventType = unknownEventType

var (
	DecodeFrame    = decodeFrame
	Classify       = classify
	Reason         = reason
	ErrPingTimeout = errPingTimeout
)

// IsPoison reports whether err marks an undeliverable payload.
func IsPoison(err error) bool {
	var p *PoisonError
	return errors.As(err, &p)
}

// InflightPeak is the most event bytes a session of t held at once.
func InflightPeak(t *Topic) int64 { return t.inflightPeak.Load() }

// RaceEnabled is true under -race.
const RaceEnabled = raceEnabled

// Rescues counts the readers of t that took over from a slow inline
// delivery (inline.go).
func Rescues(t *Topic) int64 { return t.rescues.Load() }

// Pace follows the gaps between a reader's frames (inline.go).
type Pace = pace

// Arrived is pace.arrived.
func (p *Pace) Arrived(began, now time.Time) bool { return p.arrived(began, now) }
