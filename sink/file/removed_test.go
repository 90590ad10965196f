package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamd/streamd/sink"
)

// TestRemovedDuringWrite: the file is removed after the check before the
// batch and before the batch's write(2) returned (logrotate, an operator's
// rm, racing the sink). The batch landed in the unlinked file only, so it
// must not be accepted: Write fails, and the retry puts it into the file
// Path names again.
func TestRemovedDuringWrite(t *testing.T) {
	for _, fsync := range []string{FsyncNever, FsyncAlways} {
		t.Run(fsync, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events.log")
			s, err := Open(Config{Path: path, Format: sink.FormatEvent, Fsync: fsync})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			ctx := context.Background()
			if err := s.Write(ctx, testBatch(1, 0)); err != nil {
				t.Fatal(err)
			}

			orig := s.write
			s.write = func(f *os.File, b []byte) (int, error) {
				s.write = orig
				if err := os.Remove(path); err != nil {
					t.Error(err)
				}
				return orig(f, b)
			}
			if err := s.Write(ctx, testBatch(1, 1)); err == nil {
				t.Fatal("Write into a file removed during the write = nil, want an error (the batch is in no file)")
			}
			if err := s.Write(ctx, testBatch(1, 1)); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if got := strings.Join(readLines(t, path), ","); got != `{"eventType":"X","id":1}` {
				t.Errorf("file = %s, want id 1", got)
			}
		})
	}
}
