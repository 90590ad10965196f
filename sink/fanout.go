package sink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/metrics"
	"github.com/streamd/streamd/internal/redact"
	"github.com/streamd/streamd/reconnect"
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
	// Retry is the backoff between attempts at a failing target, the one
	// backoff of streamd (equal jitter, see reconnect.Policy). A zero Min or
	// Max is taken from RetryMin / RetryMax, else DefaultRetryMin (100ms) /
	// DefaultRetryMax (30s).
	Retry reconnect.Policy
	// RetryMin and RetryMax are the older way to set Retry.Min and Retry.Max.
	RetryMin, RetryMax time.Duration
}

// Fanout delivers every batch to all its targets and reports success only
// when each of them accepted it. It implements Sink and is safe for
// concurrent use.
type Fanout struct {
	targets []*target
	metrics *metrics.Metrics
	health  *health.State
	log     *slog.Logger
	retry   reconnect.Policy

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
		retry:   retryPolicy(cfg),
		closed:  make(chan struct{}),
	}

	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}

	for _, t := range cfg.Targets {
		tg := &target{
			Target: t,
			health: "sink " + t.Name,
		}
		if len(t.Events) > 0 {
			tg.allow = make(map[string]struct{}, len(t.Events))
			for _, e := range t.Events {
				tg.allow[e] = struct{}{}
			}
		}

		f.health.Set(tg.health, true, "")
		f.metrics.InitSink(t.Name)
		f.targets = append(f.targets, tg)
	}

	return f
}

// retryPolicy fills the zero bounds of cfg.Retry.
func retryPolicy(cfg FanoutConfig) reconnect.Policy {
	p := cfg.Retry
	if p.Min <= 0 {
		p.Min = cmp.Or(max(cfg.RetryMin, 0), DefaultRetryMin)
	}
	if p.Max <= 0 {
		p.Max = cmp.Or(max(cfg.RetryMax, 0), DefaultRetryMax)
	}
	return p
}

// job is one target's share of a batch.
type job struct {
	t     *target
	batch []*Event
}

// Write delivers batch to every target concurrently, each receiving only the
// events its filter allows (a target whose filter leaves nothing is not
// called). A failing target is retried with the Retry backoff until it
// accepts or ctx is done; targets that already accepted are not called
// again.
//
// Write returns nil when every target accepted every event. It returns a
// *RejectError when targets rejected some events for good (see
// RejectError): the listed events (Index into batch, Sink named) must not be
// retried, and every other event was accepted by every target. Otherwise it
// returns an error wrapping ctx.Err() (or ErrClosed after Close), and
// nothing of the batch counts as accepted.
func (f *Fanout) Write(ctx context.Context, batch []*Event) error {
	select {
	case <-f.closed:
		return ErrClosed
	default:
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

	var rejected []Rejected
	errs := make([]error, len(pending))
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return f.gaveUp(err, pending[0].t.Name, errs[0])
		}

		f.attemptAll(ctx, pending, errs)

		// Keep only the targets that failed; collect permanent rejections.
		n := 0
		for i, j := range pending {
			var rej *RejectError
			if errors.As(errs[i], &rej) {
				r, err := j.t.mapRejections(rej, batch, len(j.batch))
				rejected, errs[i] = append(rejected, r...), err
			}

			if errs[i] != nil {
				pending[n], errs[n] = j, errs[i]
				n++
			}
		}

		pending, errs = pending[:n], errs[:n]

		if n == 0 {
			return rejectError(rejected)
		}

		timer := time.NewTimer(f.retry.Delay(attempt))
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

// attemptAll makes one attempt at each pending target, concurrently when
// there are several, storing each result in errs.
func (f *Fanout) attemptAll(ctx context.Context, pending []job, errs []error) {
	if len(pending) == 1 {
		errs[0] = f.attempt(ctx, pending[0].t, pending[0].batch)
		return
	}
	var wg sync.WaitGroup
	for i, j := range pending {
		wg.Go(func() { errs[i] = f.attempt(ctx, j.t, j.batch) })
	}
	wg.Wait()
}

func (f *Fanout) gaveUp(ctxErr error, name string, last error) error {
	if last == nil || errors.Is(last, ctxErr) {
		return fmt.Errorf("deliver to sink %s: %w", name, ctxErr)
	}
	return fmt.Errorf("deliver to sink %s: %w (last error: %s)", name, ctxErr, reason(last.Error()))
}

// attempt makes one Write call to t and updates metrics, health and logs. A
// *RejectError is a successful call: the sink works and accepted the rest.
func (f *Fanout) attempt(ctx context.Context, t *target, batch []*Event) error {
	start := time.Now()
	err := t.Sink.Write(ctx, batch)
	if err != nil && ctx.Err() != nil {
		return err // cancelled: not a sink failure
	}

	var rej *RejectError
	accepted, failure := len(batch), err
	if errors.As(err, &rej) {
		accepted, failure = len(batch)-len(rej.Rejected), nil

		for _, r := range rej.Rejected {
			id := ""
			if r.Index >= 0 && r.Index < len(batch) {
				id = batch[r.Index].MessageID
			}
			f.log.Warn("sink rejected an event for good", "sink", t.Name, "message_id", id, "reason", reason(r.Reason))
		}
	}

	f.metrics.SinkWrite(t.Name, accepted, time.Since(start), failure)

	t.mu.Lock()
	defer t.mu.Unlock()

	if failure != nil {
		why := reason(failure.Error())
		t.failures++

		if t.failures == 1 {
			t.since = start
			f.log.Warn("sink write failed, retrying", "sink", t.Name, "error", why)
		}

		f.health.Set(t.health, false, why)
		f.metrics.SinkReady(t.Name, false)

		return err
	}

	if t.failures > 0 {
		f.log.Info("sink recovered", "sink", t.Name, "failed_attempts", t.failures,
			"downtime", time.Since(t.since).Round(time.Millisecond))
		t.failures = 0
		f.health.Set(t.health, true, "")
		f.metrics.SinkReady(t.Name, true)
	}

	return err
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

// maxReason bounds the length of an error shown in health and logs.
const maxReason = 300

// reason returns s fit for health output and logs: URL credentials removed
// (internal/redact) and shortened to maxReason bytes plus "…".
func reason(s string) string {
	s = redact.String(s)
	if len(s) > maxReason {
		n := maxReason
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return s
}
