package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// TestRepeatedSignalIsOneStop is `timeout 1h streamd run`: timeout(1)
// sends SIGTERM to streamd and then to its process group, so the signal
// arrives twice at once. That is one graceful stop (exit 0, the final
// checkpoint written), not a second signal that abandons the drain.
func TestRepeatedSignalIsOneStop(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	for i := range 20 {
		emu.Publish(streamTopic, fmt.Appendf(nil, `{"Interaction":{"event":"InteractionCreated","seq":%d}}`, i))
	}
	out := filepath.Join(t.TempDir(), "events.jsonl")
	p := start(t, streamEnv(t, emu, out), "run")
	testutil.WaitFor(t, 20*time.Second, "20 events in the file", func() bool { return countLines(out) >= 20 || p.exited() })

	p.signal(syscall.SIGTERM)
	p.waitLog(10*time.Second, "stopping: finishing in-flight events")
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != exitOK {
		t.Fatalf("exit %d after one SIGTERM delivered twice, want 0; stderr:\n%s", code, p.stderr.String())
	}
	stderr := p.stderr.String()
	if strings.Contains(stderr, "second signal") || !strings.Contains(stderr, "same stop request") {
		t.Errorf("the copy of the signal was not taken as the same stop request:\n%s", stderr)
	}
}

// TestStopRequestWindow: a stop signal within repeatWindow of the first is
// a copy; one after it, or with no first, is not.
func TestStopRequestWindow(t *testing.T) {
	var req stopRequest
	now := time.Now()
	if req.repeated(now) {
		t.Error("repeated before any stop signal")
	}
	req.begin(now)
	if !req.repeated(now.Add(time.Millisecond)) {
		t.Error("a copy 1ms after the first is not repeated")
	}
	if req.repeated(now.Add(repeatWindow)) {
		t.Error("a signal repeatWindow after the first is repeated")
	}
}
