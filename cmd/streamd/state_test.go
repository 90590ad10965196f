package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// readyz returns /readyz's status code and the reason of part ("" if
// absent or ready).
func readyz(t *testing.T, addr, part string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatalf("readyz: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Parts map[string]struct {
			Ready  bool
			Reason string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("readyz body: %v", err)
	}
	return resp.StatusCode, body.Parts[part].Reason
}

// countLogs counts the log lines containing substr.
func countLogs(p *proc, substr string) int {
	return strings.Count(p.stderr.String(), substr)
}

// TestCheckpointProblemVisible: a state directory that becomes unwritable
// (here its checkpoints directory replaced by a file) makes /readyz 503
// with a part naming the path, is logged once rather than per batch while
// delivery goes on, the checkpoint-age metric exists from the start, and a
// final checkpoint that cannot be written makes the exit status non-zero.
func TestCheckpointProblemVisible(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	out := filepath.Join(t.TempDir(), "events.jsonl")
	e := streamEnv(t, emu, out, "STREAMD_HTTP_ADDR", "127.0.0.1:0",
		"STREAMD_CHECKPOINT_EVERY", "1", "STREAMD_CHECKPOINT_INTERVAL", "50ms")
	ckpts := filepath.Join(e["STREAMD_STATE_DIR"], "checkpoints")
	p := start(t, e, "run")
	p.waitLog(20*time.Second, "ready: first handshake succeeded")
	addr := logField(t, p.stderr.String(), "serving metrics and health", "addr")
	if _, ok := scrape(t, "http://"+addr+"/metrics")["streamd_checkpoint_age_seconds"]; !ok {
		t.Errorf("streamd_checkpoint_age_seconds missing before the first checkpoint")
	}

	publishN(emu, 0, 10)
	testutil.WaitFor(t, 20*time.Second, "a checkpoint file", func() bool {
		m, _ := filepath.Glob(filepath.Join(ckpts, "*.ckpt"))
		return len(m) > 0 || p.exited()
	})
	if err := os.Rename(ckpts, ckpts+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ckpts, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	const total = 210
	for i := 10; i < total; i += 10 { // many batches, each one a save attempt
		publishN(emu, i, 10)
		testutil.WaitFor(t, 10*time.Second, "the batch in the file", func() bool { return countLines(out) >= i+10 || p.exited() })
	}
	var reason string
	testutil.WaitFor(t, 10*time.Second, "/readyz 503 with the checkpoint part", func() bool {
		var code int
		code, reason = readyz(t, addr, "checkpoint event-v1/all")
		return code == http.StatusServiceUnavailable && reason != "" || p.exited()
	})
	if !strings.Contains(reason, ckpts) {
		t.Errorf("checkpoint part's reason does not name %s: %q", ckpts, reason)
	}
	if n := countLogs(p, "cannot write checkpoint"); n < 1 || n > 2 {
		t.Errorf("%d log lines about the failing checkpoint over %d batches, want 1 or 2 (rate-limited)", n, total/10)
	}

	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code == exitOK {
		t.Fatalf("exit 0 although the final checkpoint could not be written")
	}
	if countLogs(p, "cannot write final checkpoint") == 0 {
		t.Errorf("no log line about the final checkpoint")
	}
}

// TestDeadLetterProblemVisible: a dead-letter file that cannot take a
// record (here /dev/full: every write is ENOSPC) makes /readyz 503 with a
// part naming the path, and the message stays unacked.
func TestDeadLetterProblemVisible(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	out := filepath.Join(t.TempDir(), "events.jsonl")
	e := streamEnv(t, emu, out, "STREAMD_HTTP_ADDR", "127.0.0.1:0", "STREAMD_DEAD_LETTER_PATH", "/dev/full",
		"STREAMD_MODE", "consumer", "STREAMD_SUBSCRIPTION", "streamd")
	p := start(t, e, "run")
	p.waitLog(20*time.Second, "ready: first handshake succeeded")
	addr := logField(t, p.stderr.String(), "serving metrics and health", "addr")

	emu.Publish(streamTopic, []byte("not json"))
	var reason string
	testutil.WaitFor(t, 20*time.Second, "/readyz 503 with the dead-letter part", func() bool {
		var code int
		code, reason = readyz(t, addr, "dead-letter")
		return code == http.StatusServiceUnavailable && reason != "" || p.exited()
	})
	if !strings.Contains(reason, "/dev/full") {
		t.Errorf("dead-letter part's reason does not name /dev/full: %q", reason)
	}
	if acked := emu.Acked(streamTopic, "streamd"); len(acked) != 0 {
		t.Errorf("acked %v although its dead letter was never written", acked)
	}
	p.signal(syscall.SIGTERM)
	p.waitLog(10*time.Second, "stopping: finishing in-flight events")
	p.signalAgain(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != exitFail {
		t.Errorf("exit %d after a second SIGTERM with an unwritten dead letter, want %d", code, exitFail)
	}
}

// publishN publishes events seq from..from+n-1 to streamTopic.
func publishN(emu *pulsartest.Server, from, n int) {
	for i := from; i < from+n; i++ {
		emu.Publish(streamTopic, fmt.Appendf(nil, `{"Interaction":{"event":"InteractionCreated","seq":%d}}`, i))
	}
}
