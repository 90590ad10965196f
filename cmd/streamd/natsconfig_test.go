package main

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	natssink "github.com/streamd/streamd/sink/nats"
)

// TestNATSAckTimeoutAndControlLine: STREAMD_NATS_ACK_TIMEOUT and
// STREAMD_NATS_MAX_CONTROL_LINE reach the nats sink's Config, default to the
// sink's own defaults, and values out of bounds are configuration errors
// naming the variable.
func TestNATSAckTimeoutAndControlLine(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	c, err := loadConfigFrom(t, validEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	nc := c.natsConfig(log)
	if nc.AckTimeout != natssink.DefaultAckTimeout || nc.MaxControlLine != natssink.DefaultMaxControlLine {
		t.Errorf("defaults: AckTimeout %v, MaxControlLine %d; want the sink's %v, %d",
			nc.AckTimeout, nc.MaxControlLine, natssink.DefaultAckTimeout, natssink.DefaultMaxControlLine)
	}

	c, err = loadConfigFrom(t, validEnv(t).with("STREAMD_NATS_ACK_TIMEOUT", "750ms", "STREAMD_NATS_MAX_CONTROL_LINE", "1024"))
	if err != nil {
		t.Fatal(err)
	}
	nc = c.natsConfig(log)
	if nc.AckTimeout != 750*time.Millisecond || nc.MaxControlLine != 1024 {
		t.Errorf("set: AckTimeout %v, MaxControlLine %d; want 750ms, 1024", nc.AckTimeout, nc.MaxControlLine)
	}

	for _, kv := range [][2]string{
		{"STREAMD_NATS_ACK_TIMEOUT", "0s"},
		{"STREAMD_NATS_ACK_TIMEOUT", "-2s"},
		{"STREAMD_NATS_ACK_TIMEOUT", "6m"},
		{"STREAMD_NATS_MAX_CONTROL_LINE", "0"},
		{"STREAMD_NATS_MAX_CONTROL_LINE", "100"},
		{"STREAMD_NATS_MAX_CONTROL_LINE", "2000000"},
	} {
		_, err := loadConfigFrom(t, validEnv(t).with(kv[0], kv[1]))
		var cerr *configError
		if !errors.As(err, &cerr) || !strings.Contains(err.Error(), kv[0]+"=") || !strings.Contains(err.Error(), "want ") {
			t.Errorf("%s=%s: %v; want a configuration error naming it and the range", kv[0], kv[1], err)
		}
	}
}
