//go:build unix

package file_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/file"
	"github.com/streamd/streamd/sink/sinktest"
)

// fifoWithReader creates a FIFO and opens its read end without blocking,
// so that the sink's open for writing does not wait.
func fifoWithReader(t *testing.T) (string, *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return path, r
}

// readAll reads r until EOF, which a FIFO reads once its last writer closed
// (and also while it never had one: call it after the sink opened it).
func readAll(r *os.File) <-chan []byte {
	out := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		out <- b
	}()
	return out
}

// TestFIFOWithReader is STREAMD_FILE_PATH naming a named pipe into a local
// collector: no batch is taken for a copytruncate (a FIFO's size is always
// 0), nothing is rotated, every event arrives, and Close does not fail on
// fsync's EINVAL.
func TestFIFOWithReader(t *testing.T) {
	for _, policy := range []string{file.FsyncAlways, file.FsyncInterval, file.FsyncNever} {
		t.Run(policy, func(t *testing.T) {
			path, r := fifoWithReader(t)
			var logs testutil.SyncBuffer
			s, err := file.Open(file.Config{Path: path, Format: sink.FormatEnvelope, Fsync: policy,
				FsyncInterval: 1, MaxBytes: 100, MaxBackups: 1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(r)

			var want []byte
			for i := range 200 {
				b := sinktest.Events(3, i*3)
				if err := s.Write(context.Background(), b); err != nil {
					t.Fatalf("batch %d: %v", i, err)
				}
				for _, e := range b {
					want = sink.AppendLine(want, sink.FormatEnvelope, e)
				}
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatalf("close: %v", err)
			}

			if b := <-got; string(b) != string(want) {
				t.Errorf("the reader got %d bytes, want %d", len(b), len(want))
			}
			if l := logs.String(); l != "" {
				t.Errorf("logged on a FIFO:\n%s", l)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Type() != fs.ModeNamedPipe {
				t.Errorf("path after the run: %v %v, want the FIFO", fi, err)
			}
			if _, err := os.Stat(path + ".1"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a FIFO was rotated: %v", err)
			}
		})
	}
}

// TestRemovedFIFOIsNotRecreated: when the FIFO disappears the sink is not
// ready, with an error naming the path, and no regular file appears there
// (not after a batch, not after a SIGHUP's Reopen); a new FIFO heals it.
func TestRemovedFIFOIsNotRecreated(t *testing.T) {
	path, _ := fifoWithReader(t)
	s := open(t, file.Config{Path: path, Format: sink.FormatEnvelope, Fsync: file.FsyncNever})
	if err := s.Write(context.Background(), sinktest.Events(1, 0)); err != nil {
		t.Fatal(err)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	err := s.Write(context.Background(), sinktest.Events(1, 1))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("write after the FIFO was removed: %v, want an error naming %s", err, path)
	}
	if err := s.Reopen(); err == nil {
		t.Fatal("reopen of a removed FIFO succeeded")
	}
	if err := s.Write(context.Background(), sinktest.Events(1, 1)); err == nil {
		t.Fatal("write after a failed reopen succeeded")
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the removed FIFO's path: %v, want it absent", err)
	}

	path2, r := fifoWithReader(t)
	if err := os.Rename(path2, path); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), sinktest.Events(1, 1)); err != nil {
		t.Fatalf("write once a FIFO is back: %v", err)
	}
	got := readAll(r)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !strings.Contains(string(b), `"m1"`) {
		t.Errorf("the new FIFO got %q", b)
	}
}

// TestCharacterDevice is STREAMD_FILE_PATH=/dev/null (as /dev/stdout is a
// device): fsync's EINVAL there is not a failure.
func TestCharacterDevice(t *testing.T) {
	s, err := file.Open(file.Config{Path: os.DevNull, Format: sink.FormatEnvelope, Fsync: file.FsyncAlways, MaxBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.Write(context.Background(), sinktest.Events(2, i*2)); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	if err := s.Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
