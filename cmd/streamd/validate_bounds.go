package main

import (
	"fmt"
	"time"
)

const day = 24 * time.Hour

// durationBound is the accepted range of a duration variable; zero is
// accepted only where it means "off".
type durationBound struct {
	name     string
	v        time.Duration
	min, max time.Duration
	zeroOff  bool // 0 disables the feature
}

// intBound is the accepted range of a count or size variable.
type intBound struct {
	name     string
	v        int64
	min, max int64
	zeroOff  bool
}

// validateBounds rejects durations, sizes and counts outside what streamd
// can honour: negative, zero, or so large that they mean "never" or "no
// limit" without saying so (READ_LIMIT=9223372036854775807). The ranges are
// wide: they catch nonsense, not taste.
func (c *Config) validateBounds() error {
	for _, b := range []durationBound{
		{"RECONNECT_MIN", c.ReconnectMin, time.Millisecond, 10 * time.Minute, false},
		{"RECONNECT_MAX", c.ReconnectMax, time.Millisecond, day, false},
		{"HANDSHAKE_TIMEOUT", c.HandshakeTimeout, 100 * time.Millisecond, 10 * time.Minute, false},
		{"PING_INTERVAL", c.PingInterval, 100 * time.Millisecond, time.Hour, false},
		{"PING_TIMEOUT", c.PingTimeout, 100 * time.Millisecond, 10 * time.Minute, false},
		{"CHECKPOINT_INTERVAL", c.CheckpointPeriod, time.Millisecond, day, false},
		{"SHUTDOWN_TIMEOUT", c.ShutdownTimeout, time.Millisecond, time.Hour, false},
		{"FILE_FSYNC_INTERVAL", c.FileFsyncInterval, time.Millisecond, time.Hour, false},
		{"NATS_DUPLICATE_WINDOW", c.NATSDuplicateWindow, time.Second, 7 * day, false},
		{"NATS_ACK_TIMEOUT", c.NATSAckTimeout, time.Millisecond, 5 * time.Minute, false},
		{"NO_EVENTS_WARNING", c.NoEventsWarning, time.Second, 30 * day, true},
	} {
		if err := b.check(); err != nil {
			return err
		}
	}

	if c.ReconnectMax < c.ReconnectMin {
		return badVar("RECONNECT_MAX", c.ReconnectMax.String(), "must not be below STREAMD_RECONNECT_MIN")
	}

	for _, b := range []intBound{
		{"READ_LIMIT", c.ReadLimit, 1 << 16, 256 << 20, false},
		{"INFLIGHT_BYTES", c.InflightBytes, 1 << 20, 16 << 30, false},
		{"CHECKPOINT_EVERY", int64(c.CheckpointEvery), 1, 100_000_000, false},
		{"NATS_MAX_INFLIGHT", int64(c.NATSMaxInflight), 1, 1 << 16, false},
		{"NATS_MAX_CONTROL_LINE", int64(c.NATSMaxControlLine), 256, 1 << 20, false},
		{"FILE_MAX_BYTES", c.FileMaxBytes, 1 << 10, 1 << 50, true},
		{"FILE_MAX_BACKUPS", int64(c.FileMaxBackups), 0, 10_000, false},
	} {
		if err := b.check(); err != nil {
			return err
		}
	}

	return nil
}

func (b durationBound) check() error {
	if b.zeroOff && b.v == 0 || b.v >= b.min && b.v <= b.max {
		return nil
	}
	why := fmt.Sprintf("want %s to %s", b.min, b.max)
	if b.zeroOff {
		why += ", or 0 to disable"
	}
	return badVar(b.name, b.v.String(), why)
}

func (b intBound) check() error {
	if b.zeroOff && b.v == 0 || b.v >= b.min && b.v <= b.max {
		return nil
	}
	why := fmt.Sprintf("want %d to %d", b.min, b.max)
	if b.zeroOff {
		why += ", or 0 for none"
	}
	return badVar(b.name, fmt.Sprint(b.v), why)
}
