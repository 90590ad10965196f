package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/metrics"
)

var _ Sink = (*Fanout)(nil)

// Default retry backoff bounds of a Fanout.
const (
	DefaultRetryMin = 100 * time.Millisecond
	DefaultRetryMax = 30 * time.Second
)

// Target is one configured output of a Fanout.
type Target struct {
	// Name identifies the sink in metrics, health ("sink <Name>") and logs.
	Name string
	Sink Sink
	// Events is an allow-list of event types; empty means all. Events that
	// are filtered out count as accepted by this target.
	Events []string
}

// FanoutConfig configures NewFanout. Metrics, Health and Logger may be nil.
type FanoutConfig struct {
	Targets []Target
	Metrics *metrics.Metrics
	Health  *health.State
	Logger  *slog.Logger
	// RetryMin and RetryMax bound the exponential backoff (full jitter)
	// between attempts at a failing target. Defaults 100ms and 30s.
	RetryMin, RetryMax time.Duration
}

// Fanout delivers every batch to all its targets and reports success only
// when each of them accepted it. It implements Sink and is safe for
// concurrent use.
type Fanout struct {
	targets  []*target
	metrics  *metrics.Metrics
	health   *health.State
	log      *slog.Logger
	min, max time.Duration

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error
}

type target struct {
	Target
	allow  map[string]struct{} // nil: all event types
	health string              // health part name

	mu       sync.Mutex
	failures int       // consecutive failed attempts; 0 when healthy
	since    time.Time // first failure of the current streak
}

// NewFanout returns a Fanout over cfg.Targets and marks each target ready in
// cfg.Health.
func NewFanout(cfg FanoutConfig) *Fanout {
	f := &Fanout{
		metrics: cfg.Metrics,
		health:  cfg.Health,
		log:     cfg.Logger,
		min:     cfg.RetryMin,
		max:     cfg.RetryMax,
		closed:  make(chan struct{}),
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.min <= 0 {
		f.min = DefaultRetryMin
	}
	if f.max <= 0 {
		f.max = DefaultRetryMax
	}
	if f.max < f.min {
		f.max = f.min
	}
	for _, t := range cfg.Targets {
		tg := &target{Target: t, health: "sink " + t.Name}
		if len(t.Events) > 0 {
			tg.allow = make(map[string]struct{}, len(t.Events))
			for _, e := range t.Events {
				tg.allow[e] = struct{}{}
			}
		}
		f.health.Set(tg.health, true, "")
		f.targets = append(f.targets, tg)
	}
	return f
}

// Write delivers batch to every target concurrently, each receiving only the
// events its filter allows (a target whose filter leaves nothing is not
// called). A failing target is retried with exponential backoff and full
// jitter until it accepts or ctx is done; targets that already accepted are
// not called again. Write returns nil only when every target accepted, and
// otherwise an error wrapping ctx.Err() (or ErrClosed after Close).
func (f *Fanout) Write(ctx context.Context, batch []*Event) error {
	select {
	case <-f.closed:
		return ErrClosed
	default:
	}
	type job struct {
		t     *target
		batch []*Event
	}
	pending := make([]job, 0, len(f.targets))
	for _, t := range f.targets {
		if b := t.filter(batch); len(b) > 0 {
			pending = append(pending, job{t, b})
		}
	}
	if len(pending) == 0 {
		return nil
	}
	errs := make([]error, len(pending))
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return f.gaveUp(err, pending[0].t.Name, errs[0])
		}
		if len(pending) == 1 {
			errs[0] = f.attempt(ctx, pending[0].t, pending[0].batch)
		} else {
			var wg sync.WaitGroup
			for i, j := range pending {
				wg.Go(func() { errs[i] = f.attempt(ctx, j.t, j.batch) })
			}
			wg.Wait()
		}
		// Keep only the targets that failed.
		n := 0
		for i, j := range pending {
			if errs[i] != nil {
				pending[n], errs[n] = j, errs[i]
				n++
			}
		}
		pending, errs = pending[:n], errs[:n]
		if n == 0 {
			return nil
		}
		timer := time.NewTimer(f.backoff(attempt))
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return f.gaveUp(ctx.Err(), pending[0].t.Name, errs[0])
		case <-f.closed:
			timer.Stop()
			return fmt.Errorf("deliver to sink %s: %w", pending[0].t.Name, ErrClosed)
		}
	}
}

func (f *Fanout) gaveUp(ctxErr error, name string, last error) error {
	if last == nil || errors.Is(last, ctxErr) {
		return fmt.Errorf("deliver to sink %s: %w", name, ctxErr)
	}
	return fmt.Errorf("deliver to sink %s: %w (last error: %s)", name, ctxErr, Redact(last.Error()))
}

// attempt makes one Write call to t and updates metrics, health and logs.
func (f *Fanout) attempt(ctx context.Context, t *target, batch []*Event) error {
	start := time.Now()
	err := t.Sink.Write(ctx, batch)
	if err != nil && ctx.Err() != nil {
		return err // cancelled: not a sink failure
	}
	f.metrics.SinkWrite(t.Name, len(batch), time.Since(start), err)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		reason := Redact(err.Error())
		t.failures++
		if t.failures == 1 {
			t.since = start
			f.log.Warn("sink write failed, retrying", "sink", t.Name, "error", reason)
		}
		f.health.Set(t.health, false, reason)
		return err
	}
	if t.failures > 0 {
		f.log.Info("sink recovered", "sink", t.Name, "failed_attempts", t.failures,
			"downtime", time.Since(t.since).Round(time.Millisecond))
		t.failures = 0
		f.health.Set(t.health, true, "")
	}
	return nil
}

// backoff returns a random delay in [0, min(max, min·2^attempt)].
func (f *Fanout) backoff(attempt int) time.Duration {
	d := f.max
	if attempt < 32 {
		if e := f.min << attempt; e > 0 && e < d {
			d = e
		}
	}
	return rand.N(d + 1)
}

// filter returns the events of batch that t accepts; batch itself when it
// has no filter or every event passes.
func (t *target) filter(batch []*Event) []*Event {
	if t.allow == nil {
		return batch
	}
	var out []*Event
	for i, e := range batch {
		if _, ok := t.allow[e.EventType]; ok {
			if out != nil {
				out = append(out, e)
			}
			continue
		}
		if out == nil {
			out = make([]*Event, i, len(batch)-1)
			copy(out, batch[:i])
		}
	}
	if out == nil {
		return batch
	}
	return out
}

// Close closes every target concurrently, stops retries in progress and
// returns the joined errors. It is idempotent.
func (f *Fanout) Close(ctx context.Context) error {
	f.closeOnce.Do(func() {
		close(f.closed)
		errs := make([]error, len(f.targets))
		var wg sync.WaitGroup
		for i, t := range f.targets {
			wg.Go(func() {
				if err := t.Sink.Close(ctx); err != nil {
					errs[i] = fmt.Errorf("close sink %s: %w", t.Name, err)
				}
			})
		}
		wg.Wait()
		f.closeErr = errors.Join(errs...)
	})
	return f.closeErr
}

// userinfo matches credentials embedded in URLs ("scheme://user:pass@").
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@`)

// maxReason bounds the length of an error shown in health and logs.
const maxReason = 300

// Redact removes URL credentials from s and shortens it, so that an error
// message can be shown in health output and logs.
func Redact(s string) string {
	s = userinfo.ReplaceAllString(s, "${1}REDACTED@")
	if len(s) > maxReason {
		n := maxReason
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return s
}
