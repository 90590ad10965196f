package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"syscall"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
)

// emulateHelp is the paragraph of `streamd help emulate`.
const emulateHelp = `Serve an emulator of 8x8's Event Streaming proxy at STREAMD_EMULATOR_ADDR until
SIGTERM or SIGINT, publishing generated call and agent events on
persistent://TENANT/event-v1/all, for testing your own client or pipeline.

It answers like 8x8 where clients usually go wrong:
  - a tenant other than STREAMD_TENANT gets 401;
  - the credential is accepted in an X-API-Key header or an x-api-key query
    parameter; "Authorization: Basic" and ?token=Basic+... only carry Contact
    Center tokens (base64 of user:password); Bearer, and Basic with an eght_
    key, get 401;
  - with STREAMD_API_KEY or STREAMD_API_KEY_FILE set only that credential is
    accepted, else any;
  - a namespace other than event-v1 and agent-v1 gets 500;
  - on SIGTERM every client gets a close frame (1001) before the exit.
It logs every refused handshake with the reason, and every session opened and
closed (by whom, with the close code and reason, idle timeouts included).`

// emulatorConfig is the environment `emulate` reads; `demo` reads the rate.
type emulatorConfig struct {
	Addr       string        `envconfig:"STREAMD_EMULATOR_ADDR" default:"127.0.0.1:8765" desc:"listen address"`
	Rate       float64       `envconfig:"STREAMD_EMULATOR_RATE" default:"5" desc:"generated events per second (0: none)"`
	Retain     int           `envconfig:"STREAMD_EMULATOR_RETAIN" default:"5000" desc:"messages kept per topic, oldest dropped first (0: no count limit)"`
	RetainFor  time.Duration `envconfig:"STREAMD_EMULATOR_RETAIN_FOR" default:"1h" desc:"messages older than this are dropped (0: no age limit)"`
	Tenant     string        `envconfig:"STREAMD_TENANT" default:"demo" desc:"the tenant served; another gets 401"`
	APIKey     string        `envconfig:"STREAMD_API_KEY" desc:"the only credential accepted (eght_ key or CC token); unset accepts any"`
	APIKeyFile string        `envconfig:"STREAMD_API_KEY_FILE" desc:"file holding that credential; $CREDENTIALS_DIRECTORY/api_key is also read"`
	LogLevel   string        `envconfig:"STREAMD_LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	LogFmt     string        `envconfig:"STREAMD_LOG_FORMAT" default:"auto" desc:"auto (text on a terminal, else JSON), text or json"`
}

// emulatorVars lists the variables of emulatorConfig for help.
func emulatorVars() [][3]string { return varsOf(reflect.TypeFor[emulatorConfig]()) }

// emulatorAcks is how many acks per subscription the emulator remembers for
// pulsartest's Acked, which only tests read.
const emulatorAcks = 1000

// loadEmulatorConfig reads and checks the emulator's variables.
func loadEmulatorConfig() (emulatorConfig, error) {
	var ec emulatorConfig
	if err := processEnv(&ec); err != nil {
		return ec, err
	}

	switch {
	case ec.Rate < 0:
		return ec, badVar("EMULATOR_RATE", fmt.Sprint(ec.Rate), "must not be negative")
	case ec.Retain < 0:
		return ec, badVar("EMULATOR_RETAIN", fmt.Sprint(ec.Retain), "must not be negative")
	case ec.RetainFor < 0:
		return ec, badVar("EMULATOR_RETAIN_FOR", ec.RetainFor.String(), "must not be negative")
	}

	return ec, nil
}

// emulate runs the emulator alone until SIGTERM/SIGINT.
func (m *Main) emulate(ctx context.Context, _ []string, signals <-chan os.Signal) error {
	ec, err := loadEmulatorConfig()
	if err != nil {
		return err
	}

	sec, err := secretVar{name: "API_KEY", value: ec.APIKey, file: ec.APIKeyFile, cred: "api_key"}.load(m.Getenv)
	if err != nil {
		return err
	}

	key := sec.value
	if key != "" {
		if _, err := credentialKind(sec); err != nil {
			return err
		}
	}

	log := newLogger(m.Stderr, ec.LogFmt, ec.LogLevel)
	ln, err := net.Listen("tcp", ec.Addr)
	if err != nil {
		return badVar("EMULATOR_ADDR", ec.Addr, "cannot listen: "+err.Error())
	}

	ectx, cancel := context.WithCancel(ctx)
	_, done := startEmulator(ectx, ln, emulatorOptions{
		tenant:    ec.Tenant,
		key:       key,
		rate:      ec.Rate,
		retain:    ec.Retain,
		retainFor: ec.RetainFor,
		log:       log,
	})

	keyFrom := "any key accepted"
	if key != "" {
		keyFrom = "STREAMD_" + sec.source
	}

	log.Info("emulating 8x8's event streaming proxy",
		"url", fmt.Sprintf("ws://%s/ws/v2/reader/persistent/%s/event-v1/all", ln.Addr(), ec.Tenant),
		"tenant", ec.Tenant, "rate", ec.Rate, "key", keyFrom,
		"retain", ec.Retain, "retain_for", ec.RetainFor.String())

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

	log.Info("emulator stopped")

	return nil
}

// emulatorOptions configure startEmulator.
type emulatorOptions struct {
	tenant    string        // the only tenant served
	key       string        // the only credential accepted; "" accepts any
	rate      float64       // generated events per second; 0 publishes nothing
	retain    int           // messages kept per topic; 0: no count limit
	retainFor time.Duration // age past which messages are dropped; 0: no limit
	log       *slog.Logger  // the emulator's log; nil discards
}

// startEmulator serves an emulator on ln and publishes generated events
// until ctx is done; done yields Serve's result once every client got its
// close frame. The retention options bound its memory however long it runs.
func startEmulator(ctx context.Context, ln net.Listener, o emulatorOptions) (*pulsartest.Server, <-chan error) {
	cfg := pulsartest.Config{
		Tenants:        []string{o.tenant},
		Logger:         o.log,
		RetainMessages: o.retain,
		RetainFor:      o.retainFor,
		RetainAcks:     emulatorAcks,
	}
	if o.key != "" {
		cfg.Keys = []string{o.key}
	}

	emu := pulsartest.New(cfg)
	done := make(chan error, 1)
	go func() {
		var produced chan struct{}
		if o.rate > 0 {
			produced = make(chan struct{})
			go func() {
				defer close(produced)
				g := pulsartest.NewGenerator(o.tenant, time.Now().UnixNano())
				g.SetClock(time.Now)
				_ = emu.Produce(ctx, o.tenant, g, o.rate)
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
