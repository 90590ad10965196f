package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
)

// dirNames lists dir's entries, recursively, as relative paths.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		rel, _ := filepath.Rel(dir, p)
		names = append(names, rel)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestOneOwnerPerStateDir: a second `run` on a state directory a daemon
// owns exits 78 naming the directory and the owner's PID, without touching
// the directory; `check` reports the owner without taking the lock; and a
// kill -9 of the owner frees the directory for the next start.
func TestOneOwnerPerStateDir(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	out := filepath.Join(t.TempDir(), "events.jsonl")
	e := streamEnv(t, emu, out)
	state := e["STREAMD_STATE_DIR"]

	first := start(t, e, "run")
	first.waitLog(20*time.Second, "ready: first handshake succeeded")
	owner := fmt.Sprintf("pid %d", first.cmd.Process.Pid)
	before := dirNames(t, state)

	second := run(t, e, "run")
	if second.code != exitConfig {
		t.Fatalf("second run on the same state dir: exit %d, want %d", second.code, exitConfig)
	}
	msg := second.stderr.String()
	if !strings.Contains(msg, "STREAMD_STATE_DIR") || !strings.Contains(msg, state) || !strings.Contains(msg, owner) {
		t.Errorf("second run's error names neither the variable, the dir %s nor the owner's %s:\n%s", state, owner, msg)
	}

	chk := run(t, e, "check")
	line := ""
	for l := range strings.Lines(chk.stdout.String()) {
		if strings.HasPrefix(l, "state dir") {
			line = l
		}
	}
	if !strings.Contains(line, "FAIL") || !strings.Contains(line, owner) {
		t.Errorf("check's state dir line does not report the owner's %s: %q", owner, line)
	}
	if after := dirNames(t, state); !slices.Equal(before, after) {
		t.Errorf("the state dir changed under its owner: %v, then %v", before, after)
	}
	if pid, _ := os.ReadFile(filepath.Join(state, "streamd.lock")); strings.TrimSpace(string(pid)) != fmt.Sprint(first.cmd.Process.Pid) {
		t.Errorf("lock file holds %q, want the owner's pid %d", pid, first.cmd.Process.Pid)
	}

	first.signal(syscall.SIGKILL)
	first.wait(10 * time.Second)
	third := start(t, e, "run")
	third.waitLog(20*time.Second, "ready: first handshake succeeded")
	third.signal(syscall.SIGTERM)
	if code := third.wait(20 * time.Second); code != exitOK {
		t.Fatalf("run after the owner was killed: exit %d, want 0", code)
	}
}
