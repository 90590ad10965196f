package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// TestStopWithFIFOFileSink is STREAMD_FILE_PATH naming a named pipe into a
// collector that reads: a SIGTERM stops run with exit 0 (fsync's EINVAL on
// the pipe is not a failure), no batch is taken for a copytruncate (a
// FIFO's size is always 0), and every acked event is in the pipe.
func TestStopWithFIFOFileSink(t *testing.T) {
	t.Parallel()
	const n = 100 // small enough for the pipe's buffer: the test reads after the exit
	emu := pulsartest.Start(t, pulsartest.Config{})
	publishN(emu, 0, n)
	fifo := filepath.Join(t.TempDir(), "events.jsonl")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	p := start(t, pipeEnv(t, emu, "STREAMD_SINKS", "file", "STREAMD_FILE_PATH", fifo,
		"STREAMD_FILE_FSYNC_INTERVAL", "10ms", "STREAMD_RECEIVER_QUEUE_SIZE", "10"), "run")
	testutil.WaitFor(t, 20*time.Second, "every event acked", func() bool {
		return len(emu.Acked(streamTopic, "streamd")) == n || p.exited()
	})

	p.signal(syscall.SIGTERM)
	if code := p.wait(15 * time.Second); code != exitOK {
		t.Fatalf("exit %d after SIGTERM with a FIFO file sink, want %d:\n%s", code, exitOK, tail(p.stderr.String(), 4000))
	}
	if logs := p.stderr.String(); strings.Contains(logs, "truncated") || strings.Contains(logs, "fsync") {
		t.Errorf("logged a truncation or fsync failure on a FIFO:\n%s", tail(logs, 4000))
	}

	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	written := lineIDs(t, data)
	for _, id := range emu.Acked(streamTopic, "streamd") {
		if !written[id] {
			t.Fatalf("acked %s, which the sink never wrote (%d written)", id, len(written))
		}
	}
	t.Logf("%d events, %d bytes through the FIFO", len(written), len(data))
}
