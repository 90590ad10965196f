package deadletter

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRemovedDuringWrite: the file is removed after the check before the
// record and before its write(2) returned. The record is then only in the
// unlinked file, so Write must fail (the message stays unacked), and the
// retry must put it into a file at the path.
func TestRemovedDuringWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()

	orig := w.write
	w.write = func(f *os.File, b []byte) (int, error) {
		w.write = orig
		if err := os.Remove(path); err != nil {
			t.Error(err)
		}
		return orig(f, b)
	}
	r := Record{Topic: "t", MessageID: "1", Reason: "r", Frame: "a"}
	if err := w.Write(ctx, r); err == nil {
		t.Fatal("Write into a file removed during the write = nil, want an error (the record is in no file)")
	}
	if err := w.Write(ctx, r); err != nil {
		t.Fatalf("retry: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 1 || !strings.Contains(string(b), `"messageId":"1"`) {
		t.Errorf("file = %q, want the one record", b)
	}
}
