package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
)

// demoKey is the credential the demo uses against its own emulator.
const demoKey = "eght_demo_key_not_a_secret"

// demo starts the emulator on loopback and runs the real pipeline against
// it: the same code path as `streamd run`, no 8x8 account needed.
func (m *Main) demo(ctx context.Context, _ []string, signals <-chan os.Signal) error {
	ec, err := loadEmulatorConfig()
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start emulator: %w", err)
	}

	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	emu, done := startEmulator(ectx, ln, emulatorOptions{
		tenant:    "demo",
		key:       demoKey,
		rate:      ec.Rate,
		retain:    ec.Retain,
		retainFor: ec.RetainFor,
	})

	defer func() { cancel(); <-done }()
	// A short backlog so events appear at once.
	g := pulsartest.NewGenerator("demo", time.Now().UnixNano())
	g.SetClock(time.Now)
	for range 12 {
		ev, typ := g.Next()
		emu.PublishEvent("demo", ev, typ)
	}

	state, err := os.MkdirTemp("", "streamd-demo-")
	if err != nil {
		return fmt.Errorf("demo state dir: %w", err)
	}

	defer os.RemoveAll(state)

	return m.runDaemon(ctx, signals, func(c *Config) {
		c.Endpoint, c.Region = "ws://"+ln.Addr().String(), ""
		c.Tenant, c.APIKey, c.APIKeyFile = "demo", demoKey, ""
		c.Start = "earliest"
		c.StateDir, c.DeadLetterPath = state, ""
		if m.Getenv("STREAMD_HTTP_ADDR") == "" {
			c.HTTPAddr = ""
		}
	})
}
