package reconnect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamd/streamd/reconnect"
)

var (
	errNet  = errors.New("read: unexpected EOF")
	errAuth = errors.New("handshake: 401 Unauthorized")
	errStop = errors.New("shutdown")
)

// step is one scripted session: how long it runs and how it ends.
type step struct {
	ran time.Duration
	err error
}

type retry struct {
	class    reconnect.Class
	reason   string
	failures int
	delay    time.Duration
}

// harness is a fake clock plus a scripted session. After advances the clock
// and fires at once, so Run loops without real waiting.
type harness struct {
	mu      sync.Mutex
	now     time.Time
	waits   []time.Duration
	retries []retry
	calls   int
}

func (h *harness) Now() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

func (h *harness) After(d time.Duration) <-chan time.Time {
	h.mu.Lock()
	h.waits = append(h.waits, d)
	h.mu.Unlock()
	h.advance(d)
	c := make(chan time.Time, 1)
	c <- h.Now()
	return c
}

func (h *harness) supervisor(logger *slog.Logger) *reconnect.Supervisor {
	return &reconnect.Supervisor{
		Policy: reconnect.Policy{Min: time.Second, Max: 60 * time.Second, HealthyAfter: 30 * time.Second, Rand: fixed(0)},
		Classify: func(err error) reconnect.Class {
			switch {
			case errors.Is(err, errAuth):
				return reconnect.Credential
			case errors.Is(err, errStop):
				return reconnect.Stop
			}
			return reconnect.Transient
		},
		Reason: func(err error) string {
			if errors.Is(err, errAuth) {
				return "handshake_401"
			}
			return "read_error"
		},
		Hint:   func(error) string { return "check STREAMD_API_KEY and the tenant name" },
		Logger: logger,
		OnRetry: func(c reconnect.Class, reason string, failures int, d time.Duration) {
			h.retries = append(h.retries, retry{c, reason, failures, d})
		},
		Now:   h.Now,
		After: h.After,
	}
}

// run plays the script, then cancels the context from the next session.
func (h *harness) run(t *testing.T, s *reconnect.Supervisor, script []step) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := s.Run(ctx, "event-v1/all", func(ctx context.Context, _ func()) error {
		h.calls++
		if h.calls > len(script) {
			cancel()
			return ctx.Err()
		}
		st := script[h.calls-1]
		h.advance(st.ran)
		return st.err
	})
	if err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
	if h.calls != len(script)+1 {
		t.Fatalf("session called %d times, want %d", h.calls, len(script)+1)
	}
}

func secs(ds ...float64) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = time.Duration(d * float64(time.Second))
	}
	return out
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func logLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}
