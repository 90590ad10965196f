package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/streamd/streamd/consumer/pulsartest"
)

// demoKey is the credential the demo uses against its own emulator.
const demoKey = "eght_demo_key_not_a_secret"

// demo starts the emulator on loopback and runs the real pipeline against
// it: the same code path as `streamd run`, no 8x8 account needed.
func (m *Main) demo(ctx context.Context, _ []string, signals <-chan os.Signal) error {
	var ec emulatorConfig
	if err := envconfig.Process("streamd", &ec); err != nil {
		return &configError{msg: "invalid configuration: " + err.Error()}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start emulator: %w", err)
	}
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	emu, done := startEmulator(ectx, ln, "demo", nil, ec.Rate)
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

// emulatorConfig is the part of the environment `emulate` and `demo` read.
type emulatorConfig struct {
	Addr     string  `envconfig:"EMULATOR_ADDR" default:"127.0.0.1:8765"`
	Rate     float64 `envconfig:"EMULATOR_RATE" default:"5"`
	Tenant   string  `envconfig:"TENANT" default:"demo"`
	APIKey   string  `envconfig:"API_KEY"`
	LogLevel string  `envconfig:"LOG_LEVEL" default:"info"`
	LogFmt   string  `envconfig:"LOG_FORMAT" default:"auto"`
}

// emulate runs the emulator alone until SIGTERM/SIGINT.
func (m *Main) emulate(ctx context.Context, _ []string, signals <-chan os.Signal) error {
	var ec emulatorConfig
	if err := envconfig.Process("streamd", &ec); err != nil {
		return &configError{msg: "invalid configuration: " + err.Error()}
	}
	if ec.Rate < 0 {
		return badVar("EMULATOR_RATE", fmt.Sprint(ec.Rate), "must not be negative")
	}
	log := newLogger(m.Stderr, ec.LogFmt, ec.LogLevel)
	ln, err := net.Listen("tcp", ec.Addr)
	if err != nil {
		return badVar("EMULATOR_ADDR", ec.Addr, "cannot listen: "+err.Error())
	}
	var keys []string
	if ec.APIKey != "" {
		keys = []string{ec.APIKey}
	}
	ectx, cancel := context.WithCancel(ctx)
	_, done := startEmulator(ectx, ln, ec.Tenant, keys, ec.Rate)
	log.Info("emulating 8x8's event streaming proxy",
		"url", fmt.Sprintf("ws://%s/ws/v2/reader/persistent/%s/event-v1/all", ln.Addr(), ec.Tenant),
		"tenant", ec.Tenant, "rate", ec.Rate, "any_key", len(keys) == 0)
	for sig := range signals {
		if sig != syscall.SIGHUP {
			break
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		log.Error("emulator", "error", err)
		return reported(fmt.Errorf("run emulator: %w", err))
	}
	return nil
}

// startEmulator serves an emulator on ln and publishes generated events at
// rate per second until ctx is done; done yields Serve's result.
func startEmulator(ctx context.Context, ln net.Listener, tenant string, keys []string, rate float64) (*pulsartest.Server, <-chan error) {
	emu := pulsartest.New(pulsartest.Config{
		Keys:   keys,
		Logger: slog.New(slog.DiscardHandler),
	})
	done := make(chan error, 1)
	go func() {
		var produced chan struct{}
		if rate > 0 {
			produced = make(chan struct{})
			go func() {
				defer close(produced)
				g := pulsartest.NewGenerator(tenant, time.Now().UnixNano())
				g.SetClock(time.Now)
				_ = emu.Produce(ctx, tenant, g, rate)
			}()
		}
		err := emu.Serve(ctx, ln)
		if produced != nil {
			<-produced
		}
		done <- err
	}()
	return emu, done
}
