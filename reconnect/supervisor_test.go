package reconnect_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/streamd/streamd/reconnect"
)

func TestRunBackoffSequenceAndCap(t *testing.T) {
	h := &harness{}
	script := make([]step, 9)
	for i := range script {
		script[i] = step{time.Second, errNet}
	}
	h.run(t, h.supervisor(nil), script)
	want := secs(0.5, 1, 2, 4, 8, 16, 30, 30, 30)
	if !equalDurations(h.waits, want) {
		t.Fatalf("waits = %v, want %v", h.waits, want)
	}
	for i, r := range h.retries {
		if r.failures != i+1 || r.class != reconnect.Transient || r.reason != "read_error" || r.delay != want[i] {
			t.Fatalf("retry %d = %+v", i, r)
		}
	}
}

func TestRunResetAfterHealthySession(t *testing.T) {
	h := &harness{}
	script := []step{
		{time.Second, errNet}, {time.Second, errNet}, {time.Second, errNet},
		{30 * time.Second, errNet}, // healthy: resets
		{time.Second, errNet},
		{29 * time.Second, nil}, // not quite healthy; server close
	}
	h.run(t, h.supervisor(nil), script)
	if want := secs(0.5, 1, 2, 0.5, 1, 2); !equalDurations(h.waits, want) {
		t.Fatalf("waits = %v, want %v", h.waits, want)
	}
	var failures []int
	for _, r := range h.retries {
		failures = append(failures, r.failures)
	}
	if got, want := failures, []int{1, 2, 3, 1, 2, 3}; !equalInts(got, want) {
		t.Fatalf("failures = %v, want %v", got, want)
	}
	if got := h.retries[5].reason; got != "closed" {
		t.Fatalf("reason of nil session end = %q, want closed", got)
	}
}

func TestRunCredentialJumpsToMax(t *testing.T) {
	h := &harness{}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	script := []step{
		{0, errAuth}, {0, errAuth},
		{0, errNet},            // stays at the max
		{time.Minute, errNet},  // healthy: back to the start
		{time.Minute, errAuth}, // healthy but rejected: max at once
	}
	s := h.supervisor(logger)
	s.Policy.Rand = fixed(0.999999)
	h.run(t, s, script)
	for i, d := range h.waits {
		if i == 3 {
			if d > time.Second {
				t.Fatalf("wait %d after healthy session = %v, want < 1s", i, d)
			}
			continue
		}
		if d < 59*time.Second || d >= 60*time.Second {
			t.Fatalf("wait %d = %v, want just under the 60s max", i, d)
		}
	}
	if h.retries[0].class != reconnect.Credential || h.retries[0].reason != "handshake_401" {
		t.Fatalf("retry 0 = %+v", h.retries[0])
	}
	var lines []map[string]any // the session ends; info lines are recoveries
	for _, l := range logLines(t, &logs) {
		if l["level"] != "INFO" {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(script) {
		t.Fatalf("got %d log lines, want %d: %s", len(lines), len(script), logs.String())
	}
	first := lines[0]
	if first["level"] != "ERROR" || first["hint"] != "check STREAMD_API_KEY and the tenant name" ||
		first["session"] != "event-v1/all" || first["reason"] != "handshake_401" {
		t.Fatalf("credential log line = %v", first)
	}
	if lines[2]["level"] != "WARN" || lines[2]["hint"] != nil || lines[2]["error"] != errNet.Error() {
		t.Fatalf("transient log line = %v", lines[2])
	}
}

func TestRunNeverGivesUp(t *testing.T) {
	h := &harness{}
	script := make([]step, 5000)
	for i := range script {
		script[i] = step{0, errNet}
		if i%7 == 0 {
			script[i].err = errAuth
		}
	}
	h.run(t, h.supervisor(nil), script)
	if len(h.waits) != len(script) {
		t.Fatalf("waited %d times, want %d", len(h.waits), len(script))
	}
	for i, d := range h.waits {
		if d < 500*time.Millisecond || d > 60*time.Second {
			t.Fatalf("wait %d = %v out of range", i, d)
		}
	}
	if got := h.retries[len(h.retries)-1].failures; got != len(script) {
		t.Fatalf("last failures = %d, want %d", got, len(script))
	}
}

func TestRunStopClass(t *testing.T) {
	h := &harness{}
	calls := 0
	err := h.supervisor(nil).Run(context.Background(), "x", func(context.Context, func()) error {
		calls++
		if calls == 1 {
			return errNet
		}
		return errStop
	})
	if err != nil || calls != 2 || len(h.waits) != 1 {
		t.Fatalf("Run() = %v after %d calls and %d waits, want nil, 2, 1", err, calls, len(h.waits))
	}
}

func TestRunContextDoneBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := &reconnect.Supervisor{}
	err := s.Run(ctx, "x", func(context.Context, func()) error {
		t.Error("session called with a cancelled context")
		return nil
	})
	if err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
	if err := s.Run(context.Background(), "x", nil); err == nil {
		t.Fatal("Run(nil session) = nil, want error")
	}
}

func TestRunSessionErrorAfterCancelIsNotRetried(t *testing.T) {
	h := &harness{}
	ctx, cancel := context.WithCancel(context.Background())
	err := h.supervisor(nil).Run(ctx, "x", func(context.Context, func()) error {
		cancel()
		return errAuth
	})
	if err != nil || len(h.retries) != 0 || len(h.waits) != 0 {
		t.Fatalf("Run() = %v, retries %v, waits %v; want nil, none, none", err, h.retries, h.waits)
	}
}

func TestRunCancelDuringWait(t *testing.T) {
	waiting := make(chan time.Duration, 1)
	s := &reconnect.Supervisor{
		Policy: reconnect.Policy{Min: time.Hour, Max: time.Hour},
		After: func(d time.Duration) <-chan time.Time {
			waiting <- d
			return nil // never fires
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, "x", func(context.Context, func()) error { return errNet }) }()
	<-waiting
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run() = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel during the wait")
	}
}

func TestRunRealTimerCancelDuringWait(t *testing.T) {
	s := &reconnect.Supervisor{Policy: reconnect.Policy{Min: time.Hour, Max: time.Hour}}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, "x", func(context.Context, func()) error { close(started); return errNet })
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run() = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel during a real-timer wait")
	}
}

func TestRunRealTimerRetries(t *testing.T) {
	s := &reconnect.Supervisor{Policy: reconnect.Policy{Min: time.Millisecond, Max: 2 * time.Millisecond}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err := s.Run(ctx, "x", func(context.Context, func()) error {
		if calls++; calls == 4 {
			cancel()
		}
		return errNet
	})
	if err != nil || calls != 4 {
		t.Fatalf("Run() = %v after %d calls, want nil after 4", err, calls)
	}
}

func TestConnectedLogsRecovery(t *testing.T) {
	h := &harness{}
	var logs bytes.Buffer
	s := h.supervisor(slog.New(slog.NewJSONHandler(&logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	_ = s.Run(ctx, "x", func(ctx context.Context, connected func()) error {
		calls++
		switch calls {
		case 1:
			connected() // first connect: nothing to recover from
			return errNet
		case 2, 3:
			return errNet
		}
		connected()
		connected() // once per session
		cancel()
		return nil
	})
	var infos []map[string]any
	for _, l := range logLines(t, &logs) {
		if l["level"] == "INFO" {
			infos = append(infos, l)
		}
	}
	if len(infos) != 1 || infos[0]["msg"] != "reconnected" || infos[0]["failed_attempts"] != 3.0 {
		t.Fatalf("info lines = %v, want one reconnected with failed_attempts 3", infos)
	}
}

func TestHealthyEndLogsUnreportedRecovery(t *testing.T) {
	h := &harness{}
	var logs bytes.Buffer
	s := h.supervisor(slog.New(slog.NewJSONHandler(&logs, nil)))
	h.run(t, s, []step{{0, errNet}, {time.Hour, errNet}})
	lines := logLines(t, &logs)
	if len(lines) != 3 || lines[1]["msg"] != "reconnected" || lines[1]["failed_attempts"] != 1.0 {
		t.Fatalf("log lines = %v", lines)
	}
}

func TestClassString(t *testing.T) {
	for c, want := range map[reconnect.Class]string{
		reconnect.Transient: "transient", reconnect.Credential: "credential",
		reconnect.Stop: "stop", reconnect.Class(42): "unknown",
	} {
		if got := c.String(); got != want {
			t.Errorf("Class(%d).String() = %q, want %q", c, got, want)
		}
	}
}
