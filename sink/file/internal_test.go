package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streamd/streamd/sink"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testBatch(n, offset int) []*sink.Event {
	out := make([]*sink.Event, n)
	for i := range out {
		out[i] = &sink.Event{
			MessageID: fmt.Sprintf("m%d", offset+i), Topic: "persistent://t/ns/all",
			Properties: []byte(`{}`), EventType: "X",
			Payload: fmt.Appendf(nil, `{"eventType":"X","id":%d}`, offset+i),
		}
	}
	return out
}

// failOnce makes the next write store only half of its buffer and fail.
func failOnce(s *Sink) {
	orig := s.write
	s.write = func(f *os.File, b []byte) (int, error) {
		s.write = orig
		n, _ := orig(f, b[:len(b)/2])
		return n, syscall.ENOSPC
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("%s does not end with a newline", path)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestPartialWriteIsTruncated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	s, err := Open(Config{Path: path, Format: sink.FormatEvent, Fsync: FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx := context.Background()
	if err := s.Write(ctx, testBatch(2, 0)); err != nil {
		t.Fatal(err)
	}
	failOnce(s)
	if err := s.Write(ctx, testBatch(3, 2)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err = %v, want ENOSPC", err)
	}
	if err := s.Write(ctx, testBatch(3, 2)); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5: %q", len(lines), lines)
	}
	for i, l := range lines {
		if want := fmt.Sprintf(`{"eventType":"X","id":%d}`, i); l != want {
			t.Errorf("line %d = %q, want %q", i, l, want)
		}
	}
}

// TestCopytruncateThenPartialWrite truncates the file from outside (as
// logrotate's copytruncate does), then fails a write half-way. The undo must
// use the file's real size: truncating to the size cached before the
// external truncation would fill the file with NUL bytes.
func TestCopytruncateThenPartialWrite(t *testing.T) {
	for _, when := range []string{"before the batch", "during the write"} {
		t.Run(when, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events.log")
			s, err := Open(Config{Path: path, Format: sink.FormatEvent, Fsync: FsyncNever})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			ctx := context.Background()
			if err := s.Write(ctx, testBatch(4, 0)); err != nil {
				t.Fatal(err)
			}

			copytruncate := func() {
				if err := os.Truncate(path, 0); err != nil {
					t.Fatal(err)
				}
			}
			if when == "before the batch" {
				copytruncate()
			}
			orig := s.write
			s.write = func(f *os.File, b []byte) (int, error) {
				s.write = orig
				if when == "during the write" {
					copytruncate()
				}
				n, _ := orig(f, b[:len(b)/2])
				return n, syscall.ENOSPC
			}
			if err := s.Write(ctx, testBatch(3, 4)); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("err = %v, want ENOSPC", err)
			}
			if err := s.Write(ctx, testBatch(3, 4)); err != nil {
				t.Fatal(err)
			}

			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsRune(string(b), 0) {
				t.Fatalf("file contains NUL bytes: %q", b)
			}
			lines := readLines(t, path)
			if len(lines) != 3 {
				t.Fatalf("%d lines, want 3: %q", len(lines), lines)
			}
			for i, l := range lines {
				if want := fmt.Sprintf(`{"eventType":"X","id":%d}`, 4+i); l != want {
					t.Errorf("line %d = %q, want %q", i, l, want)
				}
			}
		})
	}
}

// TestRenameWithoutSighup renames the file away, as logrotate's create mode
// does when its postrotate SIGHUP is missing: batches keep going to the
// renamed file (nothing is lost: it still has a name) until the next check
// by path, and from then on to a new file at Path.
func TestRenameWithoutSighup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	s, err := Open(Config{Path: path, Format: sink.FormatEvent, Fsync: FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx := context.Background()
	if err := s.Write(ctx, testBatch(1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, testBatch(1, 1)); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.pathChecked = time.Time{} // the path check is due
	s.mu.Unlock()
	if err := s.Write(ctx, testBatch(1, 2)); err != nil {
		t.Fatal(err)
	}

	if got := strings.Join(readLines(t, path+".1"), ","); got != `{"eventType":"X","id":0},{"eventType":"X","id":1}` {
		t.Errorf("renamed file = %s, want ids 0 and 1", got)
	}
	if got := strings.Join(readLines(t, path), ","); got != `{"eventType":"X","id":2}` {
		t.Errorf("new file = %s, want id 2", got)
	}
}

func TestPartialWriteFallbackNewline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	s, err := Open(Config{Path: path, Format: sink.FormatEvent, Fsync: FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	s.truncate = func(*os.File, int64) error { return syscall.EIO }
	ctx := context.Background()
	failOnce(s)
	if err := s.Write(ctx, testBatch(3, 0)); err == nil {
		t.Fatal("want error")
	}
	if err := s.Write(ctx, testBatch(3, 0)); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	// Complete line 0, a torn fragment of line 1, then the whole batch.
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5: %q", len(lines), lines)
	}
	for i, l := range lines {
		if valid := json.Valid([]byte(l)); valid == (i == 1) {
			t.Errorf("line %d valid=%v: %q", i, valid, l)
		}
	}
}

func TestTornTailAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.log")
	if err := os.WriteFile(path, []byte("{\"a\":1}\n{\"b\""), 0o640); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Config{Path: path, Format: sink.FormatEvent, Fsync: FsyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), testBatch(1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(readLines(t, path), "|")
	if want := `{"a":1}|{"b"|{"eventType":"X","id":0}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// countSyncs replaces s.fsync with a counting wrapper; read the count with
// the returned function.
func countSyncs(s *Sink) func() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n atomic.Int32
	orig := s.fsync
	s.fsync = func(f *os.File) error {
		n.Add(1)
		return orig(f)
	}
	return func() int { return int(n.Load()) }
}

func TestFsyncPolicies(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		policy         string
		wantAfter3     func(int) bool
		wantAfterClose int
	}{
		{FsyncAlways, func(n int) bool { return n == 3 }, 4},
		{FsyncNever, func(n int) bool { return n == 0 }, 0},
	} {
		s, err := Open(Config{Path: filepath.Join(t.TempDir(), "e.log"), Fsync: tc.policy})
		if err != nil {
			t.Fatal(err)
		}
		syncs := countSyncs(s)
		for i := range 3 {
			if err := s.Write(ctx, testBatch(1, i)); err != nil {
				t.Fatal(err)
			}
		}
		if n := syncs(); !tc.wantAfter3(n) {
			t.Errorf("%s: %d fsyncs after 3 writes", tc.policy, n)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if n := syncs(); n != tc.wantAfterClose {
			t.Errorf("%s: %d fsyncs after Close, want %d", tc.policy, n, tc.wantAfterClose)
		}
	}
}

func TestFsyncIntervalLoop(t *testing.T) {
	ctx := context.Background()
	s, err := Open(Config{Path: filepath.Join(t.TempDir(), "e.log"), FsyncInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	syncs := countSyncs(s)
	if err := s.Write(ctx, testBatch(1, 0)); err != nil {
		t.Fatal(err)
	}
	if n := syncs(); n != 0 {
		t.Errorf("interval policy fsynced in Write (%d)", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	poll := time.NewTicker(time.Millisecond)
	for syncs() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the loop never fsynced")
		}
		<-poll.C
	}
	poll.Stop()
	// Nothing written since: clean ticks must not fsync again.
	before := syncs()
	tick := time.NewTicker(time.Millisecond)
	for range 20 {
		<-tick.C
	}
	tick.Stop()
	if n := syncs(); n != before {
		t.Errorf("%d fsyncs without new data", n-before)
	}
	// A write after the idle spell starts the interval again.
	if err := s.Write(ctx, testBatch(1, 1)); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	poll = time.NewTicker(time.Millisecond)
	for syncs() == before {
		if time.Now().After(deadline) {
			t.Fatal("the loop never fsynced the write after an idle spell")
		}
		<-poll.C
	}
	poll.Stop()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t)
}
