package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// TestDeadLetterHeals: a dead-letter path that cannot be written (its
// directory replaced by a regular file) makes /readyz 503 naming the path
// and keeps the message unacked and uncounted; once the path is usable again
// the write is retried (STREAMD_RECONNECT_MIN/MAX backoff), the record
// written, counted and the message acked, and /readyz is 200 again.
func TestDeadLetterHeals(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	out := filepath.Join(t.TempDir(), "events.jsonl")
	dir := filepath.Join(t.TempDir(), "dl")
	path := filepath.Join(dir, "dead-letter.jsonl")
	p := start(t, streamEnv(t, emu, out, "STREAMD_HTTP_ADDR", "127.0.0.1:0", "STREAMD_DEAD_LETTER_PATH", path,
		"STREAMD_MODE", "consumer", "STREAMD_SUBSCRIPTION", "streamd"), "run")
	p.waitLog(20*time.Second, "ready: first handshake succeeded")
	addr := logField(t, p.stderr.String(), "serving metrics and health", "addr")
	metricsURL := "http://" + addr + "/metrics"

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	emu.Publish(streamTopic, []byte("not json"))
	var reason string
	testutil.WaitFor(t, 20*time.Second, "/readyz 503 naming the dead-letter path", func() bool {
		var code int
		code, reason = readyz(t, addr, "dead-letter")
		return code == http.StatusServiceUnavailable && strings.Contains(reason, path) || p.exited()
	})
	if acked := emu.Acked(streamTopic, "streamd"); len(acked) != 0 {
		t.Errorf("acked %v before its dead letter was written", acked)
	}
	if n := sampleValue(t, metricsURL, "streamd_dead_letters_total"); n != 0 {
		t.Errorf("streamd_dead_letters_total %v before the record was written, want 0", n)
	}

	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 20*time.Second, "the ack after the path healed", func() bool {
		return len(emu.Acked(streamTopic, "streamd")) == 1 || p.exited()
	})
	if code, reason := readyz(t, addr, "dead-letter"); code != http.StatusOK {
		t.Errorf("/readyz %d (%q) after the dead letter was written, want 200", code, reason)
	}
	if n := sampleValue(t, metricsURL, "streamd_dead_letters_total"); n != 1 {
		t.Errorf("streamd_dead_letters_total %v after one record, want 1", n)
	}
	if data, err := os.ReadFile(path); err != nil || strings.Count(string(data), "\n") != 1 {
		t.Errorf("dead-letter file: %v, %q; want one record", err, data)
	}
}
