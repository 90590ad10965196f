package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/reconnect"
	"github.com/streamd/streamd/sink"
)

// DefaultIdle is the default Config.Idle.
const DefaultIdle = 10 * time.Second

// Errors of Run.
var (
	// ErrRetention: the first retained event is newer than Range.Since.
	ErrRetention = errors.New("replay: start is older than the retained events")
	// ErrUntilNotReached: the stream went quiet before Range.UntilID.
	ErrUntilNotReached = errors.New("replay: the --until message id was not reached")
	// ErrUntilBeforeRetention: the first retained event is already after
	// Range.UntilID, so the range ends before what the service retains.
	ErrUntilBeforeRetention = errors.New("replay: the -until message id is older than the retained events")
)

// Config describes one topic's replay.
type Config struct {
	// Source is the topic to read. Mode is forced to reader: a replay never
	// uses a durable subscription.
	Source consumer.Config
	Range  Range
	// SinceLabel is how Range.Since was given (e.g. "2h"), for messages.
	SinceLabel string
	// Types keeps only these event types; empty keeps every type.
	Types []string
	// Sink receives the events; the caller opens and closes it.
	Sink sink.Sink
	// DeadLetter, if set, also receives undecodable messages (they are
	// always logged and counted).
	DeadLetter consumer.DeadLetterWriter
	// Idle is the silence that means "caught up" (default DefaultIdle).
	Idle   time.Duration
	Policy reconnect.Policy
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Replay is one run of Config. Progress may be called while Run runs.
type Replay struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	gate  *gate
	start time.Time
	topic *consumer.Topic
}

// New prepares a replay; Run starts it.
func New(cfg Config) *Replay {
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultIdle
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Source.Mode = consumer.ModeReader
	r := &Replay{cfg: cfg, log: cfg.Logger.With("topic", cfg.Source.Name()), now: cfg.Now, start: cfg.Now()}
	r.gate = &gate{next: cfg.Sink, b: r.bounds(), now: cfg.Now, last: r.start}
	return r
}

func (r *Replay) bounds() bounds {
	rg := r.cfg.Range
	b := bounds{since: rg.Since, until: rg.Until, untilRaw: rg.UntilID, retention: !rg.Since.IsZero(), sinceLabel: r.cfg.SinceLabel}
	if b.sinceLabel == "" {
		b.sinceLabel = rg.Since.Format(time.RFC3339)
	}
	if rg.UntilID != "" {
		b.untilID, _ = consumer.ParseMessageID(rg.UntilID) // validated by Range.Validate
	} else if b.until.IsZero() {
		b.until, b.caughtUp = r.start, true
	}
	if len(r.cfg.Types) > 0 {
		b.types = make(map[string]bool, len(r.cfg.Types))
		for _, t := range r.cfg.Types {
			b.types[t] = true
		}
	}
	return b
}

// Run replays until the range ends, the stream goes quiet, or ctx is
// cancelled (a graceful stop: the batch in the sink finishes); hard aborts
// an unfinished batch. It returns what was done and nil, an error wrapping
// ErrRetention, ErrUntilNotReached or ErrRefused, ctx's error after an interrupt, or
// hard's error.
func (r *Replay) Run(ctx, hard context.Context) (Result, error) {
	if err := r.cfg.Range.Validate(); err != nil {
		return Result{}, err
	}
	if err := probe(ctx, r.cfg.Source); err != nil {
		return Result{}, err
	}
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	r.gate.halt = cancel
	r.topic = consumer.NewTopic(r.cfg.Source, consumer.Options{
		Sink:       r.gate,
		DeadLetter: &deadLetters{next: r.cfg.DeadLetter, gate: r.gate, log: r.log},
		Start:      r.cfg.Range.start(),
		Policy:     r.cfg.Policy,
		Logger:     r.cfg.Logger,
		OnConnect:  r.gate.touch,
	})
	r.log.Info("replay started", "start", r.cfg.Range.start(), "until", r.untilLabel())

	done := make(chan error, 1)
	go func() { done <- r.topic.Run(stop, hard) }()
	err := r.watch(done, cancel)

	res, failure := r.gate.result()
	switch {
	case hard.Err() != nil:
		return res, hard.Err()
	case failure != nil:
		return res, failure
	case res.Stop == StopCancelled:
		return res, ctx.Err()
	}
	return res, err
}

// watch waits for the topic to stop, ending the range on silence or an
// interrupt. It returns the topic's error or ErrUntilNotReached.
func (r *Replay) watch(done <-chan error, cancel context.CancelFunc) error {
	tick := time.NewTicker(min(r.cfg.Idle/4, time.Second))
	defer tick.Stop()
	var notReached error
	for {
		select {
		case err := <-done:
			if errors.Is(err, context.Canceled) {
				err = nil
			}
			r.gate.finish(StopCancelled) // an interrupt, unless the range ended
			if err == nil {
				err = notReached
			}
			return err
		case <-tick.C:
			if !r.quiet() {
				continue
			}
			if r.gate.finish(StopIdle) {
				if r.cfg.Range.UntilID != "" {
					notReached = fmt.Errorf("%w: no event for %s after message id %s", ErrUntilNotReached, r.cfg.Idle, r.lastID())
				}
				cancel()
			}
		}
	}
}

// quiet reports whether the stream has been silent for Idle after the
// Until time, while connected and not writing.
func (r *Replay) quiet() bool {
	last, idle := r.gate.idleSince()
	now := r.now()
	if !idle || !r.topic.Connected() || now.Sub(last) < r.cfg.Idle {
		return false
	}
	return r.gate.b.until.IsZero() || !now.Before(r.gate.b.until)
}

func (r *Replay) lastID() string {
	res, _ := r.gate.result()
	if res.Last == "" {
		return "(none delivered)"
	}
	return res.Last
}

func (r *Replay) untilLabel() string {
	if r.gate.b.untilRaw != "" {
		return r.gate.b.untilRaw
	}
	return r.gate.b.until.Format(time.RFC3339Nano)
}

// Progress returns a snapshot for progress reports.
func (r *Replay) Progress() Progress {
	res, _ := r.gate.result()
	p := Progress{Result: res, Elapsed: r.now().Sub(r.start), To: r.gate.b.until}
	p.From = r.cfg.Range.Since
	if p.From.IsZero() {
		p.From = p.Oldest
	}
	return p
}

func retentionError(label string, since time.Time, ev *sink.Event) error {
	return fmt.Errorf("%w: the oldest retained event (message id %s) was published at %s, after -since %s (%s); "+
		"8x8 no longer keeps what was published before it (or nothing was published in between). "+
		"Replay what is retained with -from earliest",
		ErrRetention, ev.MessageID, ev.Published.UTC().Format(time.RFC3339Nano), label, since.UTC().Format(time.RFC3339Nano))
}

func untilRetentionError(until string, ev *sink.Event) error {
	return fmt.Errorf("%w: the oldest retained event (message id %s, published at %s) comes after -until %s; "+
		"8x8 no longer keeps that range, so nothing was replayed. "+
		"Replay what is retained with -from earliest",
		ErrUntilBeforeRetention, ev.MessageID, ev.Published.UTC().Format(time.RFC3339Nano), until)
}

// deadLetters logs and counts undecodable messages and passes them on.
type deadLetters struct {
	next consumer.DeadLetterWriter
	gate *gate
	log  *slog.Logger
}

func (d *deadLetters) WriteRetry(ctx context.Context, rec deadletter.Record) error {
	d.gate.deadLettered()
	d.log.Error("undecodable message is not replayed", "message_id", rec.MessageID, "reason", rec.Reason)
	if d.next == nil {
		return nil
	}
	if err := d.next.WriteRetry(ctx, rec); err != nil {
		return fmt.Errorf("write dead letter: %w", err)
	}
	return nil
}
