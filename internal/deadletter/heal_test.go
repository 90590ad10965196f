package deadletter_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/reconnect"
)

// TestPathLossIsNoticedBeforeRecording removes the dead-letter file, or its
// whole directory, while the writer runs: the next record must land in a
// file at the path (directory recreated, as Open creates it), never in the
// unlinked file.
func TestPathLossIsNoticedBeforeRecording(t *testing.T) {
	for name, lose := range map[string]func(path string) error{
		"file removed":      os.Remove,
		"file renamed":      func(path string) error { return os.Rename(path, path+".old") },
		"directory removed": func(path string) error { return os.RemoveAll(filepath.Dir(path)) },
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state", "dead.jsonl")
			w := open(t, path)
			write(t, w, deadletter.Record{Topic: "t", MessageID: "1", Reason: "r", Frame: "a"})
			if err := lose(path); err != nil {
				t.Fatal(err)
			}
			write(t, w, deadletter.Record{Topic: "t", MessageID: "2", Reason: "r", Frame: "b"})
			lines := readLines(t, path)
			if len(lines) != 1 {
				t.Fatalf("got %d lines, want 1: %q", len(lines), lines)
			}
			if r, _ := decode(t, lines[0]); r.MessageID != "2" {
				t.Fatalf("record = %+v, want message 2", r)
			}
		})
	}
}

// TestWriteRetryBlocksUntilPathUsable makes the directory's path a regular
// file, so the file cannot be recreated: WriteRetry must keep the record
// (and the ack) waiting, with the health part not ready naming the path,
// until the path is usable again.
func TestWriteRetryBlocksUntilPathUsable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "dead.jsonl")
	h := health.New()
	w, err := deadletter.OpenWith(path, deadletter.Options{Health: h,
		Retry: reconnect.Policy{Min: time.Millisecond, Max: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	if ready, _ := h.Ready(); !ready {
		t.Fatalf("not ready after Open: %v", h.NotReady())
	}

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- w.WriteRetry(context.Background(), deadletter.Record{Topic: "t", MessageID: "1", Reason: "r"})
	}()
	testutil.WaitFor(t, 5*time.Second, "dead letter not ready", func() bool { return len(h.NotReady()) == 1 })
	if nr := h.NotReady()[0]; !strings.HasPrefix(nr, deadletter.HealthPart+":") || !strings.Contains(nr, path) {
		t.Errorf("not ready reason %q does not name %s", nr, path)
	}
	select {
	case err := <-done:
		t.Fatalf("WriteRetry returned %v while the path is unusable", err)
	default:
	}

	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ready, _ := h.Ready(); !ready {
		t.Errorf("not ready after recovery: %v", h.NotReady())
	}
	if lines := readLines(t, path); len(lines) != 1 {
		t.Errorf("got %d lines, want 1", len(lines))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.WriteRetry(ctx, deadletter.Record{Topic: "t"}); err == nil {
		t.Error("WriteRetry with a cancelled ctx succeeded")
	}
}
