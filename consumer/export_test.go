package consumer

import "errors"

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
