package main

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/internal/testutil"
)

// envelope is the envelope line format, for decoding in tests.
type envelope struct {
	MessageID       string            `json:"messageId"`
	Topic           string            `json:"topic"`
	PublishTime     string            `json:"publishTime"`
	RedeliveryCount *int              `json:"redeliveryCount"`
	Properties      map[string]string `json:"properties"`
	Key             string            `json:"key"`
	EventType       string            `json:"eventType"`
	Event           json.RawMessage   `json:"event"`
}

// TestDemo: `streamd demo` prints realistic 8x8 events on stdout within
// seconds, logs only JSON on stderr, and stops with exit 0 on SIGTERM.
func TestDemo(t *testing.T) {
	t.Parallel()
	p := start(t, baseEnv(t).with("STREAMD_LOG_LEVEL", "info"), "demo")
	const want = 12 // the demo's initial backlog
	testutil.WaitFor(t, 15*time.Second, "demo events on stdout", func() bool {
		return len(p.stdout.Lines()) >= want || p.exited()
	})
	p.signal(syscall.SIGTERM)
	if code := p.wait(15 * time.Second); code != exitOK {
		t.Fatalf("exit %d after SIGTERM, want 0", code)
	}
	types := map[string]int{}
	for i, line := range p.stdout.Lines() {
		var env envelope
		if err := json.Unmarshal([]byte(line), &env); err != nil {
			t.Fatalf("stdout line %d is not JSON: %v\n%s", i, err, line)
		}
		var ev map[string]json.RawMessage
		if err := json.Unmarshal(env.Event, &ev); err != nil || len(ev) == 0 {
			t.Fatalf("line %d: event is not a JSON object: %s", i, line)
		}
		if env.EventType == "" || env.MessageID == "" || env.RedeliveryCount == nil || env.PublishTime == "" ||
			!strings.HasPrefix(env.Topic, "persistent://demo/event-v1/all") {
			t.Fatalf("line %d: incomplete envelope: %s", i, line)
		}
		types[env.EventType]++
	}
	if len(types) < 2 {
		t.Errorf("demo printed a single event type: %v", types)
	}
	t.Logf("demo event types: %v", types)
	for _, line := range p.stderr.Lines() {
		var rec struct {
			Level, Msg string
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Level == "" || rec.Msg == "" {
			t.Errorf("stderr line is not a JSON log record: %q", line)
		}
		if strings.Contains(line, demoKey) {
			t.Errorf("stderr shows the demo key: %s", line)
		}
	}
}

// TestVersion prints the version on stdout.
func TestVersion(t *testing.T) {
	t.Parallel()
	p := run(t, baseEnv(t), "version")
	if p.code != exitOK || !strings.HasPrefix(p.stdout.String(), "streamd ") {
		t.Fatalf("exit %d, stdout %q", p.code, p.stdout.String())
	}
}

// TestEmulateRetention: `emulate` bounds its memory with
// STREAMD_EMULATOR_RETAIN and STREAMD_EMULATOR_RETAIN_FOR, says so at start,
// and rejects negative values with exit 78 naming the variable.
func TestEmulateRetention(t *testing.T) {
	t.Parallel()
	for _, bad := range [][2]string{{"STREAMD_EMULATOR_RETAIN", "-1"}, {"STREAMD_EMULATOR_RETAIN_FOR", "-1s"}} {
		p := run(t, baseEnv(t).with("STREAMD_EMULATOR_ADDR", "127.0.0.1:0", bad[0], bad[1]), "emulate")
		if p.code != exitConfig || !strings.Contains(p.stderr.String(), bad[0]) {
			t.Errorf("%s=%s: exit %d, want %d naming the variable:\n%s", bad[0], bad[1], p.code, exitConfig, p.stderr.String())
		}
	}

	p := start(t, baseEnv(t).with("STREAMD_EMULATOR_ADDR", "127.0.0.1:0", "STREAMD_LOG_FORMAT", "json",
		"STREAMD_EMULATOR_RETAIN", "7", "STREAMD_EMULATOR_RETAIN_FOR", "90s"), "emulate")
	p.waitLog(15*time.Second, `"retain":7,"retain_for":"1m30s"`)
	p.signal(syscall.SIGTERM)
	if code := p.wait(15 * time.Second); code != exitOK {
		t.Fatalf("exit %d after SIGTERM, want 0", code)
	}
}
