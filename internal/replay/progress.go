package replay

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress is a snapshot of a running replay.
type Progress struct {
	Result
	Elapsed time.Duration
	// From and To bound the replay in publish time when known: From is
	// Range.Since or else the first event's publish time; To is Range.Until
	// or the moment the replay started. Either may be zero.
	From, To time.Time
}

// Rate is delivered events per second of elapsed time.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Delivered) / p.Elapsed.Seconds()
}

// Percent is how far Position is through [From, To], 0..100, and false
// when either end or the position is unknown.
func (p Progress) Percent() (float64, bool) {
	if p.From.IsZero() || p.To.IsZero() || p.Position.IsZero() || !p.To.After(p.From) {
		return 0, false
	}
	f := float64(p.Position.Sub(p.From)) / float64(p.To.Sub(p.From)) * 100
	return min(max(f, 0), 100), true
}

// String renders the snapshot for a log line or a bar's description.
func (p Progress) String() string {
	s := fmt.Sprintf("%d events, %.0f/s", p.Delivered, p.Rate())
	if p.Skipped > 0 {
		s += fmt.Sprintf(", %d skipped", p.Skipped)
	}
	if p.Filtered > 0 {
		s += fmt.Sprintf(", %d filtered", p.Filtered)
	}
	if !p.Position.IsZero() {
		s += ", at " + p.Position.UTC().Format(time.DateTime)
	}
	return s
}

// Watch calls report with snapshot() every interval until ctx is done.
func Watch(ctx context.Context, every time.Duration, snapshot func() Progress, report func(Progress)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			report(snapshot())
		}
	}
}

// LogReport returns a report function that logs one line per call, for
// output that is not a terminal.
func LogReport(log *slog.Logger, topic string) func(Progress) {
	return func(p Progress) {
		attrs := []any{"topic", topic, "delivered", p.Delivered, "skipped", p.Skipped, "filtered", p.Filtered,
			"events_per_second", int(p.Rate())}
		if !p.Position.IsZero() {
			attrs = append(attrs, "position", p.Position.UTC().Format(time.RFC3339Nano))
		}
		if pct, ok := p.Percent(); ok {
			attrs = append(attrs, "percent", int(pct))
		}
		log.Info("replay progress", attrs...)
	}
}

// Bar is a progress bar on a terminal: percent of the time range when both
// ends are known, a spinner otherwise, with events, events/s and the
// position in its description. It is not safe for concurrent use.
type Bar struct {
	bar   *progressbar.ProgressBar
	topic string
	known bool // the bar shows a percentage (else a spinner)
}

// NewBar draws a bar for topic on w (a terminal, usually stderr).
func NewBar(w io.Writer, topic string) *Bar {
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(topic),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSpinnerType(14),
	)
	return &Bar{bar: bar, topic: topic}
}

// Report updates the bar; it is a report function for Watch.
func (b *Bar) Report(p Progress) {
	pct, ok := p.Percent()
	if ok && !b.known {
		b.known = true
		b.bar.ChangeMax64(100)
	}
	b.bar.Describe(b.topic + ": " + p.String())
	if b.known {
		_ = b.bar.Set64(int64(pct))
		return
	}
	_ = b.bar.Add64(1) // turns the spinner
}

// Finish draws the final state and ends the bar's line.
func (b *Bar) Finish(p Progress) {
	b.Report(p)
	if p.Stop != StopCancelled && b.known {
		_ = b.bar.Finish()
	}
	_ = b.bar.Exit()
}
