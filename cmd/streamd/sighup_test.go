package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// TestSIGHUPReopensFile: after the output file is renamed (logrotate),
// SIGHUP makes streamd write new events to a new file at STREAMD_FILE_PATH;
// together the two files hold every event once.
func TestSIGHUPReopensFile(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	out := filepath.Join(t.TempDir(), "events.jsonl")
	rotated := out + ".1"
	pub := func(from, to int) {
		for i := from; i < to; i++ {
			emu.Publish(streamTopic, fmt.Appendf(nil, `{"Interaction":{"event":"InteractionCreated","seq":%d}}`, i))
		}
	}
	pub(0, 10)
	p := start(t, streamEnv(t, emu, out, "STREAMD_LOG_LEVEL", "info"), "run")
	testutil.WaitFor(t, 20*time.Second, "10 events in the file", func() bool { return countLines(out) >= 10 || p.exited() })
	if err := os.Rename(out, rotated); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	p.waitLog(10*time.Second, "reopened file sink")
	pub(10, 25)
	testutil.WaitFor(t, 20*time.Second, "15 events in the new file", func() bool { return countLines(out) >= 15 || p.exited() })
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != exitOK {
		t.Fatalf("exit %d after SIGTERM, want 0", code)
	}
	if n := countLines(rotated); n != 10 {
		t.Errorf("rotated file has %d lines, want 10", n)
	}
	if n := countLines(out); n != 15 {
		t.Errorf("new file has %d lines, want 15", n)
	}
	settled(t, emu)
	if _, dups := compare(t, emu.Acked(streamTopic, ""), append(fileIDs(t, rotated), fileIDs(t, out)...)); dups != 0 {
		t.Errorf("%d duplicates across the rotation", dups)
	}
}
