package deadletter

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// WriteRetry writes r like Write, retrying while the file cannot be written
// (disk full, directory unwritable, path lost and not recreatable), with the
// backoff of Options.Retry, until it succeeds or ctx is done. The message r
// describes must not be acked before WriteRetry returns nil. The first
// failure of a streak is logged at error level, later ones at most once per
// Options.Retry.Max; the health part stays not ready meanwhile.
//
// It returns nil, an error wrapping ctx.Err(), or ErrClosed (wrapped) after
// Close.
func (w *Writer) WriteRetry(ctx context.Context, r Record) error {
	var logged time.Time
	for attempt := 0; ; attempt++ {
		err := w.Write(ctx, r)
		if err == nil || errors.Is(err, ErrClosed) {
			return err
		}

		if ctx.Err() != nil {
			return fmt.Errorf("write dead letter: %w", ctx.Err())
		}

		if time.Since(logged) >= w.opts.Retry.Max {
			w.opts.Logger.Error("cannot write dead letter; retrying (the message stays unacked)",
				"path", w.path, "message_id", r.MessageID, "attempt", attempt+1, "error", err)
			logged = time.Now()
		}

		timer := time.NewTimer(w.opts.Retry.Delay(attempt))
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("write dead letter: %w", ctx.Err())
		case <-timer.C:
		}
	}
}
