package statelock_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamd/streamd/internal/statelock"
)

// OFD locks belong to an open file description, so two Acquire calls in
// one process conflict like two processes do (the process tests in
// cmd/streamd cover separate processes and kill -9).
func TestAcquireProbeRelease(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if held, _, err := statelock.Probe(dir); held || err != nil {
		t.Fatalf("Probe of a missing dir: held %v, %v", held, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Probe created the dir: %v", err)
	}

	l, err := statelock.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	held, pid, err := statelock.Probe(dir)
	if !held || pid != os.Getpid() || err != nil {
		t.Fatalf("Probe while held: held %v, pid %d (want %d), %v", held, pid, os.Getpid(), err)
	}

	_, err = statelock.Acquire(dir)
	var he *statelock.HeldError
	if !errors.As(err, &he) || he.PID != os.Getpid() || he.Dir != dir {
		t.Fatalf("second Acquire: %v, want a HeldError naming %s and pid %d", err, dir, os.Getpid())
	}

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if held, _, _ := statelock.Probe(dir); held {
		t.Fatal("Probe after Release: still held")
	}
	l2, err := statelock.Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	_ = l2.Release()
}

func TestAcquireUnusableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := statelock.Acquire(file)
	var he *statelock.HeldError
	if err == nil || errors.As(err, &he) {
		t.Fatalf("Acquire on a regular file: %v, want a plain error", err)
	}
}
