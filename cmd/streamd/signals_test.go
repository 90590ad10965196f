package main

import (
	"io"
	"os"
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
	publishBig(emu, 1000)

	// stdout is a pipe the test does not read yet, so the drain the first
	// SIGTERM starts cannot finish before the copy arrives (with a file
	// sink it finished in ~2 ms and the copy found no process).
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := startTo(t, pipeEnv(t, emu, "STREAMD_SHUTDOWN_TIMEOUT", "1m"), w, "run")
	_ = w.Close()
	testutil.WaitFor(t, 20*time.Second, "a write(2) to stdout that blocks", func() bool { return blockedOnStdout(t, p.cmd.Process.Pid) || p.exited() })

	p.signal(syscall.SIGTERM)
	p.waitLog(10*time.Second, "stopping: finishing in-flight events")
	p.signal(syscall.SIGTERM)
	p.waitLog(10*time.Second, "same stop request")

	// Now let the drain finish: read stdout until streamd exits.
	drained := make(chan []byte, 1)
	go func() {
		data, _ := io.ReadAll(r)
		drained <- data
	}()
	if code := p.wait(60 * time.Second); code != exitOK {
		t.Fatalf("exit %d after one SIGTERM delivered twice, want 0; stderr:\n%s", code, p.stderr.String())
	}
	if strings.Contains(p.stderr.String(), "second signal") {
		t.Errorf("the copy of the signal was taken as a second signal:\n%s", p.stderr.String())
	}

	written := lineIDs(t, <-drained)
	for _, id := range emu.Acked(streamTopic, "streamd") {
		if !written[id] {
			t.Fatalf("acked %s, which the sink never wrote", id)
		}
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
