package file_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/file"
	"github.com/streamd/streamd/sink/sinktest"
)

func eventLine(id int) string {
	return fmt.Sprintf(`{"eventType":"InteractionCreated","id":%d}`, id)
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		t.Errorf("%s does not end with a newline", path)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func open(t *testing.T, cfg file.Config) *file.Sink {
	t.Helper()
	s, err := file.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func TestPoliciesWriteCompleteFiles(t *testing.T) {
	for _, policy := range []string{file.FsyncAlways, file.FsyncInterval, file.FsyncNever, ""} {
		t.Run("policy="+policy, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events.log")
			s, err := file.Open(file.Config{Path: path, Format: sink.FormatEnvelope, Fsync: policy,
				FsyncInterval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			for i := range 20 {
				b := sinktest.Events(5, i*5)
				if err := s.Write(context.Background(), b); err != nil {
					t.Fatal(err)
				}
				for _, e := range b {
					want = sink.AppendLine(want, sink.FormatEnvelope, e)
				}
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			goleak.VerifyNone(t) // the interval loop has stopped
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("file content differs:\n%s\nwant:\n%s", got, want)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm&^0o640 != 0 {
				t.Errorf("mode %v, want at most 0640", perm)
			}
			if err := s.Write(context.Background(), sinktest.Events(1, 0)); !errors.Is(err, sink.ErrClosed) {
				t.Errorf("Write after Close = %v, want ErrClosed", err)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Errorf("second Close = %v", err)
			}
		})
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	for _, cfg := range []file.Config{
		{Path: filepath.Join(dir, "x"), Fsync: "sometimes"},
		{Path: ""},
		{Path: filepath.Join(dir, "x"), MaxBytes: -1},
		{Path: filepath.Join(dir, "missing-dir", "x")},
	} {
		if s, err := file.Open(cfg); err == nil {
			s.Close(context.Background())
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.log")
	lineLen := int64(len(eventLine(10)) + 1) // ids 10..99 have the same length
	s := open(t, file.Config{Path: path, Format: sink.FormatEvent, Fsync: file.FsyncAlways,
		MaxBytes: 3 * lineLen, MaxBackups: 2})
	// A leftover from a larger MaxBackups must be removed.
	if err := os.WriteFile(path+".7", []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 21; i++ { // 11 events, 3 per file: 10-12 13-15 16-18 19-20
		if err := s.Write(context.Background(), sinktest.Events(1, i)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]int{"": {19, 20}, ".1": {16, 17, 18}, ".2": {13, 14, 15}}
	for suffix, ids := range want {
		lines := readLines(t, path+suffix)
		if len(lines) != len(ids) {
			t.Errorf("%s: %q, want ids %v", suffix, lines, ids)
			continue
		}
		for i, id := range ids {
			if lines[i] != eventLine(id) {
				t.Errorf("%s line %d = %s, want id %d", suffix, i, lines[i], id)
			}
		}
	}
	for _, gone := range []string{".3", ".7"} {
		if _, err := os.Stat(path + gone); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists (err %v)", gone, err)
		}
	}
	// A batch bigger than MaxBytes goes whole into a fresh file.
	if err := s.Write(context.Background(), sinktest.Events(5, 30)); err != nil {
		t.Fatal(err)
	}
	if n := len(readLines(t, path)); n != 5 {
		t.Errorf("big batch: %d lines in the current file, want 5", n)
	}
}

func TestRotationWithoutBackups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	lineLen := int64(len(eventLine(10)) + 1)
	s := open(t, file.Config{Path: path, Format: sink.FormatEvent, Fsync: file.FsyncNever, MaxBytes: 2 * lineLen})
	for i := 10; i < 15; i++ {
		if err := s.Write(context.Background(), sinktest.Events(1, i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(readLines(t, path), ","); got != eventLine(14) {
		t.Errorf("got %s, want only id 14", got)
	}
	if _, err := os.Stat(path + ".1"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf(".1 exists with MaxBackups=0")
	}
}

func TestReopenAfterExternalRename(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	s := open(t, file.Config{Path: path, Format: sink.FormatEvent, Fsync: file.FsyncInterval})
	ctx := context.Background()
	if err := s.Write(ctx, sinktest.Events(1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil { // logrotate
		t.Fatal(err)
	}
	if err := s.Reopen(); err != nil { // SIGHUP
		t.Fatal(err)
	}
	if err := s.Write(ctx, sinktest.Events(1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Reopen(); err != nil { // a second SIGHUP keeps the file
		t.Fatal(err)
	}
	if err := s.Write(ctx, sinktest.Events(1, 3)); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(readLines(t, path+".1"), ","), eventLine(1); got != want {
		t.Errorf("rotated file = %s, want %s", got, want)
	}
	if got, want := strings.Join(readLines(t, path), ","), eventLine(2)+","+eventLine(3); got != want {
		t.Errorf("new file = %s, want %s", got, want)
	}
}

// TestPathLossIsNoticedBeforeAccepting removes or replaces the file without
// a SIGHUP: the next batch must land in a file at Path, never in the
// unlinked one.
func TestPathLossIsNoticedBeforeAccepting(t *testing.T) {
	for name, lose := range map[string]func(path string) error{
		"removed": os.Remove,
		"replaced by rename": func(path string) error {
			if err := os.WriteFile(path+".new", []byte("other\n"), 0o640); err != nil {
				return err
			}
			return os.Rename(path+".new", path)
		},
		"replaced": func(path string) error {
			if err := os.Remove(path); err != nil {
				return err
			}
			return os.WriteFile(path, []byte("other\n"), 0o640)
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events.log")
			for _, policy := range []string{file.FsyncAlways, file.FsyncNever} {
				_ = os.Remove(path)
				s := open(t, file.Config{Path: path, Format: sink.FormatEvent, Fsync: policy})
				ctx := context.Background()
				if err := s.Write(ctx, sinktest.Events(1, 1)); err != nil {
					t.Fatal(err)
				}
				if err := lose(path); err != nil {
					t.Fatal(err)
				}
				if err := s.Write(ctx, sinktest.Events(2, 2)); err != nil {
					t.Fatal(err)
				}
				got := strings.Join(readLines(t, path), ",")
				want := eventLine(2) + "," + eventLine(3)
				if strings.HasPrefix(name, "replaced") {
					want = "other," + want
				}
				if got != want {
					t.Errorf("%s: file = %s, want %s", policy, got, want)
				}
			}
		})
	}
}

// TestUnwritablePathBlocksThenRecovers makes the file's directory a regular
// file (which blocks writes even for root), checks that the fan-out keeps
// retrying with the sink shown not ready, then fixes the path.
func TestUnwritablePathBlocksThenRecovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "events.log")
	s, err := file.Open(file.Config{Path: path, Format: sink.FormatEvent, Fsync: file.FsyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	h := health.New()
	f := sink.NewFanout(sink.FanoutConfig{Targets: []sink.Target{{Name: "file", Sink: s}}, Health: h,
		RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond})
	defer f.Close(context.Background())
	ctx := context.Background()
	if err := f.Write(ctx, sinktest.Events(1, 1)); err != nil {
		t.Fatal(err)
	}
	// Break the path: the directory becomes a regular file, then SIGHUP.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Reopen(); err == nil {
		t.Fatal("Reopen succeeded on an unwritable path")
	}
	done := make(chan error, 1)
	go func() { done <- f.Write(ctx, sinktest.Events(1, 2)) }()
	testutil.WaitFor(t, 5*time.Second, "sink not ready", func() bool { return len(h.NotReady()) == 1 })
	if nr := h.NotReady()[0]; !strings.Contains(nr, "sink file: open file sink:") {
		t.Errorf("reason = %q", nr)
	}
	select {
	case err := <-done:
		t.Fatalf("Write returned %v while the path is broken", err)
	default:
	}
	// Fix it.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ready, _ := h.Ready(); !ready {
		t.Errorf("not ready after recovery: %v", h.NotReady())
	}
	if got := strings.Join(readLines(t, path), ","); got != eventLine(2) {
		t.Errorf("file = %s, want id 2", got)
	}
}

// TestRemovedDirectoryBlocksUntilRecreated removes the file's whole
// directory while the sink runs, with no SIGHUP: the next batch must not be
// accepted (the sink is not ready, naming the path) until the directory is
// back, and then it lands in a new file at the path.
func TestRemovedDirectoryBlocksUntilRecreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "events.log")
	s, err := file.Open(file.Config{Path: path, Format: sink.FormatEvent, Fsync: file.FsyncInterval})
	if err != nil {
		t.Fatal(err)
	}
	h := health.New()
	f := sink.NewFanout(sink.FanoutConfig{Targets: []sink.Target{{Name: "file", Sink: s}}, Health: h,
		RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond})
	defer f.Close(context.Background())
	ctx := context.Background()
	if err := f.Write(ctx, sinktest.Events(1, 1)); err != nil {
		t.Fatal(err)
	}

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Write(ctx, sinktest.Events(1, 2)) }()
	testutil.WaitFor(t, 5*time.Second, "sink not ready", func() bool { return len(h.NotReady()) == 1 })
	if nr := h.NotReady()[0]; !strings.Contains(nr, path) {
		t.Errorf("reason %q does not name %s", nr, path)
	}
	select {
	case err := <-done:
		t.Fatalf("Write returned %v while the directory is missing", err)
	default:
	}

	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ready, _ := h.Ready(); !ready {
		t.Errorf("not ready after recovery: %v", h.NotReady())
	}
	if got := strings.Join(readLines(t, path), ","); got != eventLine(2) {
		t.Errorf("file = %s, want id 2", got)
	}
}

func BenchmarkFileWrite(b *testing.B) {
	for _, policy := range []string{file.FsyncAlways, file.FsyncInterval, file.FsyncNever} {
		for _, n := range []int{1, 100} {
			b.Run(fmt.Sprintf("fsync=%s/batch=%d", policy, n), func(b *testing.B) {
				s, err := file.Open(file.Config{Path: filepath.Join(b.TempDir(), "events.log"),
					Format: sink.FormatEnvelope, Fsync: policy})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close(context.Background())
				sinktest.BenchWrite(b, s, n)
			})
		}
	}
}
