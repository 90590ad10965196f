package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// TestConsumerSIGTERMLeavesNothingUnacked: in consumer mode, after SIGTERM
// and exit 0 every event written to the sink was acked exactly once and
// nothing else was; once everything was written, the backlog is zero.
func TestConsumerSIGTERMLeavesNothingUnacked(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	out := filepath.Join(t.TempDir(), "events.jsonl")
	e := streamEnv(t, emu, out, "STREAMD_MODE", "consumer", "STREAMD_SUBSCRIPTION", "streamd", "STREAMD_RECEIVER_QUEUE_SIZE", "50")
	const total = 2000

	// Mid-stream: the test keeps publishing while the daemon stops.
	first := start(t, e, "run")
	first.waitLog(20*time.Second, "ready: first handshake succeeded")
	pub := publish(t, emu, total, 5, 4*time.Millisecond)
	testutil.WaitFor(t, 20*time.Second, "first events in the file", func() bool { return countLines(out) >= total/10 || first.exited() })
	first.signal(syscall.SIGTERM)
	if code := first.wait(20 * time.Second); code != exitOK {
		t.Fatalf("exit %d after SIGTERM, want 0", code)
	}
	settled(t, emu)
	written := fileIDs(t, out)
	acked := emu.Acked(streamTopic, "streamd")
	if !slices.Equal(acked, written) {
		t.Fatalf("after SIGTERM mid-stream: %d acked, %d written; acks must be exactly the written ids in order", len(acked), len(written))
	}
	t.Logf("first run: %d written and acked, %d published", len(written), len(pub.published()))

	// Restart, let the publisher finish and everything arrive, then stop:
	// nothing may stay unacked.
	second := start(t, e, "run")
	testutil.WaitFor(t, 30*time.Second, "publisher done", pub.finished)
	testutil.WaitFor(t, 30*time.Second, "every event in the file", func() bool { return holdsAll(out, pub.published()) || second.exited() })
	second.signal(syscall.SIGTERM)
	if code := second.wait(20 * time.Second); code != exitOK {
		t.Fatalf("second run: exit %d after SIGTERM, want 0", code)
	}
	settled(t, emu)
	if n := emu.Backlog(streamTopic, "streamd"); n != 0 {
		t.Errorf("backlog %d after a graceful stop with everything written, want 0", n)
	}
	published, got := pub.published(), fileIDs(t, out)
	missing, dups := compare(t, published, got)
	if missing != 0 || dups != 0 {
		t.Errorf("consumer restart: %d lines, %d missing, %d duplicates; want %d, 0, 0", len(got), missing, dups, total)
	}
	acked = emu.Acked(streamTopic, "streamd")
	if !slices.Equal(acked, got) {
		t.Errorf("acked ids (%d) differ from written ids (%d)", len(acked), len(got))
	}
}

// TestSecondSignalWhileSinkBlocked: with the only sink unable to accept
// (NATS URL pointing at nothing), SIGTERM waits for the in-flight batch, a
// second SIGTERM exits non-zero at once, and nothing was acked.
func TestSecondSignalWhileSinkBlocked(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	for i := range 20 {
		emu.Publish(streamTopic, fmt.Appendf(nil, `{"Interaction":{"event":"InteractionCreated","seq":%d}}`, i))
	}
	e := baseEnv(t).with(
		"STREAMD_TENANT", "acme", "STREAMD_API_KEY", testKey, "STREAMD_ENDPOINT", emu.URL(),
		"STREAMD_STATE_DIR", t.TempDir(), "STREAMD_START", "earliest", "STREAMD_MODE", "consumer",
		"STREAMD_SINKS", "nats", "STREAMD_NATS_URL", "nats://127.0.0.1:1", "STREAMD_LOG_LEVEL", "info",
		"STREAMD_SHUTDOWN_TIMEOUT", "1m",
	)
	p := start(t, e, "run")
	p.waitLog(20*time.Second, "sink write failed, retrying")
	p.signal(syscall.SIGTERM)
	p.waitLog(10*time.Second, "stopping: finishing in-flight events")
	if p.exited() {
		t.Fatalf("exited (%d) after one SIGTERM with a blocked sink", p.code)
	}
	began := time.Now()
	p.signalAgain(syscall.SIGTERM)
	code := p.wait(10 * time.Second)
	t.Logf("second SIGTERM: exit %d after %v", code, time.Since(began).Round(time.Millisecond))
	if code == exitOK {
		t.Fatalf("exit 0 after a second SIGTERM with undelivered events")
	}
	settled(t, emu)
	if acked := emu.Acked(streamTopic, "streamd"); len(acked) != 0 {
		t.Errorf("%d messages acked that no sink accepted", len(acked))
	}
	if n := emu.Backlog(streamTopic, "streamd"); n != 20 {
		t.Errorf("backlog %d, want 20", n)
	}
}

// TestShutdownTimeout: with a blocked sink, STREAMD_SHUTDOWN_TIMEOUT forces
// a non-zero exit without acking.
func TestShutdownTimeout(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	emu.Publish(streamTopic, []byte(`{"Interaction":{"event":"InteractionCreated"}}`))
	e := baseEnv(t).with(
		"STREAMD_TENANT", "acme", "STREAMD_API_KEY", testKey, "STREAMD_ENDPOINT", emu.URL(),
		"STREAMD_STATE_DIR", t.TempDir(), "STREAMD_START", "earliest", "STREAMD_MODE", "consumer",
		"STREAMD_SINKS", "nats", "STREAMD_NATS_URL", "nats://127.0.0.1:1", "STREAMD_LOG_LEVEL", "info",
		"STREAMD_SHUTDOWN_TIMEOUT", "300ms",
	)
	p := start(t, e, "run")
	p.waitLog(20*time.Second, "sink write failed, retrying")
	p.signal(syscall.SIGTERM)
	if code := p.wait(10 * time.Second); code != exitFail {
		t.Fatalf("exit %d after the shutdown timeout, want %d", code, exitFail)
	}
	settled(t, emu)
	if acked := emu.Acked(streamTopic, "streamd"); len(acked) != 0 {
		t.Errorf("%d messages acked that no sink accepted", len(acked))
	}
}
