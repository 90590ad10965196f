package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/reconnect"
	"github.com/streamd/streamd/sink"
)

// TailConfig describes a tail: fresh readers on Sources, printing to Sink.
type TailConfig struct {
	// Sources are the topics to follow; Mode is forced to reader.
	Sources []consumer.Config
	// Since, if set, starts at "earliest" and skips events published before
	// it; zero starts at "latest" (only events published from now on).
	Since time.Time
	// Types keeps only these event types; empty keeps every type.
	Types []string
	// Sink prints the events, usually a *Printer.
	Sink   sink.Sink
	Policy reconnect.Policy
	Logger *slog.Logger
}

// Tail follows every source until ctx is cancelled, then returns nil. It
// never acks into a durable subscription and never writes state. A refused
// handshake fails at once with ErrRefused; a topic that stops with an error
// ends the tail with that error.
func Tail(ctx context.Context, cfg TailConfig) error {
	if len(cfg.Sources) == 0 {
		return fmt.Errorf("tail: %w", errors.New("no topic"))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for _, src := range cfg.Sources {
		if err := probe(ctx, src); err != nil {
			return err
		}
	}
	start := "latest"
	if !cfg.Since.IsZero() {
		start = "earliest"
	}
	b := bounds{since: cfg.Since}
	if len(cfg.Types) > 0 {
		b.types = make(map[string]bool, len(cfg.Types))
		for _, t := range cfg.Types {
			b.types[t] = true
		}
	}

	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan error, len(cfg.Sources))
	for _, src := range cfg.Sources {
		src.Mode = consumer.ModeReader
		log := cfg.Logger.With("topic", src.Name())
		g := &gate{next: cfg.Sink, b: b, now: time.Now, halt: func() {}}
		t := consumer.NewTopic(src, consumer.Options{
			Sink:       g,
			DeadLetter: &deadLetters{gate: g, log: log},
			Start:      start,
			Policy:     cfg.Policy,
			Logger:     cfg.Logger,
		})
		go func() { results <- t.Run(stop, stop) }()
	}

	var first error
	for range cfg.Sources {
		err := <-results
		if err != nil && !errors.Is(err, context.Canceled) && first == nil {
			first = err
			cancel()
		}
	}
	return first
}
