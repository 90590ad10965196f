package replay

import (
	"errors"
	"fmt"
	"time"

	"github.com/streamd/streamd/consumer"
)

// Range selects the events of a replay. Its zero value means "from the
// oldest retained event until caught up".
type Range struct {
	// From is "earliest" (the default) or a base64 message id to start
	// after (exclusive, as the proxy's reader does; a daemon checkpoint is
	// such an id). It must be empty or "earliest" when Since is set.
	From string
	// Since skips every event published before it; the read starts at
	// "earliest" because the proxy cannot seek by time. Zero: no skipping.
	Since time.Time
	// Until ends the range at the first event published after it. Zero,
	// with UntilID empty, means the moment Run starts ("caught up").
	Until time.Time
	// UntilID is the message id of the last event to deliver (inclusive).
	UntilID string
}

// Errors of ParseSince, ParseUntil and Range.Validate.
var (
	errEmpty   = errors.New("empty value")
	errNotTime = errors.New("want a duration such as 2h30m or an RFC 3339 time such as 2025-10-15T09:30:00Z")
)

// ParseSince parses a --since value: a Go duration counted back from now
// ("90m", "2h") or an RFC 3339 time ("2025-10-15T09:30:00Z",
// "2025-10-15T09:30:00+02:00").
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("parse since: %w", errEmpty)
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("parse since %q: %w", s, errors.New("duration must be positive"))
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse since %q: %w", s, errNotTime)
	}
	return t, nil
}

// ParseUntil parses an --until value: an RFC 3339 time, a duration counted
// back from now, or a base64 message id. Exactly one of the results is set.
func ParseUntil(s string, now time.Time) (time.Time, string, error) {
	if s == "" {
		return time.Time{}, "", fmt.Errorf("parse until: %w", errEmpty)
	}
	if t, err := ParseSince(s, now); err == nil {
		return t, "", nil
	}
	if _, err := consumer.ParseMessageID(s); err != nil {
		return time.Time{}, "", fmt.Errorf("parse until %q: %w", s, errors.New("want an RFC 3339 time, a duration ago or a base64 message id"))
	}
	return time.Time{}, s, nil
}

// Validate checks the combination of fields.
func (r Range) Validate() error {
	if r.From != "" && r.From != "earliest" {
		if _, err := consumer.ParseMessageID(r.From); err != nil {
			return fmt.Errorf("check from %q: %w", r.From, errors.New("want earliest or a base64 message id"))
		}
		if !r.Since.IsZero() {
			return errors.New("check range: from a message id and since a time exclude each other")
		}
	}
	if !r.Until.IsZero() && r.UntilID != "" {
		return errors.New("check range: until a time and until a message id exclude each other")
	}
	if !r.Since.IsZero() && !r.Until.IsZero() && !r.Until.After(r.Since) {
		return errors.New("check range: until must be after since")
	}
	return nil
}

// start is the reader's start position.
func (r Range) start() string {
	if r.From == "" || !r.Since.IsZero() {
		return "earliest"
	}
	return r.From
}
