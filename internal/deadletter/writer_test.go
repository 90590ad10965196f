package deadletter_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streamd/streamd/internal/deadletter"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t testing.TB, path string) *deadletter.Writer {
	t.Helper()
	w, err := deadletter.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func write(t testing.TB, w *deadletter.Writer, r deadletter.Record) {
	t.Helper()
	if err := w.Write(context.Background(), r); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// readLines returns the raw lines of the file.
func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("file does not end with a newline: %q", b)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

func decode(t *testing.T, line []byte) (deadletter.Record, map[string]any) {
	t.Helper()
	var r deadletter.Record
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	raw := map[string]any{}
	if err := json.Unmarshal(line, &raw); err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	return r, raw
}

func TestFramesVerbatim(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "dead.jsonl")
	w := open(t, path)
	at := time.Date(2026, 3, 4, 5, 6, 7, 890, time.UTC)
	frames := []struct {
		name, frame string
		base64      bool
	}{
		{"json", `{"messageId":"CAAQAw==","payload":"eyJhIjoxfQ==","properties":{}}`, false},
		{"html and escapes", "<a href=\"x\">&amp;</a>\n\t\\ \u2028 ü 🙂", false},
		{"empty", "", false},
		{"invalid utf8", "{\"payload\":\"\xff\xfe\xc3\x28\"}", true},
		{"binary", string([]byte{0, 1, 2, 0x80, 0xff, '\n', 0}), true},
		{"truncated rune", "abc\xe2\x82", true},
	}
	for i, f := range frames {
		write(t, w, deadletter.Record{Time: at, Topic: "persistent://acme/event-v1/all",
			MessageID: fmt.Sprint(i), Reason: "decode_payload", Frame: f.frame})
	}
	lines := readLines(t, path)
	if len(lines) != len(frames) {
		t.Fatalf("got %d lines, want %d", len(lines), len(frames))
	}
	for i, f := range frames {
		r, raw := decode(t, lines[i])
		if r.Frame != f.frame {
			t.Errorf("%s: frame = %q, want %q", f.name, r.Frame, f.frame)
		}
		_, hasFrame := raw["frame"]
		_, hasB64 := raw["frameBase64"]
		if hasB64 != f.base64 || hasFrame == f.base64 {
			t.Errorf("%s: line %s: want frameBase64=%v", f.name, lines[i], f.base64)
		}
		if !r.Time.Equal(at) || r.Topic != "persistent://acme/event-v1/all" ||
			r.MessageID != fmt.Sprint(i) || r.Reason != "decode_payload" {
			t.Errorf("%s: record = %+v", f.name, r)
		}
	}
	if !bytes.Contains(lines[1], []byte(`<a href=\"x\">&amp;</a>`)) {
		t.Errorf("frame not stored readably: %s", lines[1])
	}
}

func TestRecordJSONRoundTrip(t *testing.T) {
	in := deadletter.Record{Time: time.Unix(1, 0).UTC(), Topic: "t", Reason: "r", Frame: "\xff<"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out deadletter.Record
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("round trip of %s = %+v, %v; want %+v", b, out, err, in)
	}
	if err := json.Unmarshal([]byte(`{"frameBase64":"!!"}`), &out); err == nil {
		t.Fatal("Unmarshal of bad base64 = nil, want error")
	}
}

func TestFileModeAndZeroTime(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dl")
	path := filepath.Join(dir, "dead.jsonl")
	w := open(t, path)
	before := time.Now()
	write(t, w, deadletter.Record{Topic: "t", Reason: "r", Frame: "f"})
	r, raw := decode(t, readLines(t, path)[0])
	if r.Time.Before(before.Add(-time.Second)) || r.Time.After(time.Now().Add(time.Second)) {
		t.Errorf("zero time set to %v, want about now", r.Time)
	}
	if _, ok := raw["messageId"]; ok {
		t.Errorf("empty messageId present: %v", raw)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm()&^want != 0 {
			t.Errorf("%s mode = %v (%v), want at most %v", p, st.Mode().Perm(), err, want)
		}
	}
}

func TestConcurrentWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	w := open(t, path)
	const goroutines, each = 8, 12
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				r := deadletter.Record{Topic: "t", MessageID: fmt.Sprintf("%d-%d", g, i), Reason: "r",
					Frame: string(bytes.Repeat([]byte{byte('a' + g)}, 5000))}
				if err := w.Write(context.Background(), r); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range readLines(t, path) {
		r, _ := decode(t, l)
		if seen[r.MessageID] || len(r.Frame) != 5000 {
			t.Fatalf("duplicate or mangled record %q (frame %d bytes)", r.MessageID, len(r.Frame))
		}
		seen[r.MessageID] = true
	}
	if len(seen) != goroutines*each {
		t.Fatalf("got %d records, want %d", len(seen), goroutines*each)
	}
}

func TestReopenAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	w := open(t, path)
	write(t, w, deadletter.Record{Topic: "t", MessageID: "1", Reason: "r", Frame: "a"})
	write(t, w, deadletter.Record{Topic: "t", MessageID: "2", Reason: "r", Frame: "b"})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	if err := w.Write(context.Background(), deadletter.Record{}); !errors.Is(err, deadletter.ErrClosed) {
		t.Fatalf("Write after Close = %v, want ErrClosed", err)
	}
	w = open(t, path)
	write(t, w, deadletter.Record{Topic: "t", MessageID: "3", Reason: "r", Frame: "c"})
	lines := readLines(t, path)
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3", len(lines))
	}
	for i, l := range lines {
		if r, _ := decode(t, l); r.MessageID != fmt.Sprint(i+1) {
			t.Fatalf("line %d is %q", i, r.MessageID)
		}
	}
}

func TestTornTailIsolated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	torn := `{"time":"2026-01-01T00:00:00Z","topic":"t","frame":"ab`
	if err := os.WriteFile(path, []byte(torn), 0o600); err != nil {
		t.Fatal(err)
	}
	w := open(t, path)
	write(t, w, deadletter.Record{Topic: "t", MessageID: "1", Reason: "r", Frame: "x"})
	lines := readLines(t, path)
	if len(lines) != 2 || string(lines[0]) != torn {
		t.Fatalf("lines = %q, want the torn line then the record", lines)
	}
	if r, _ := decode(t, lines[1]); r.MessageID != "1" {
		t.Fatalf("record after torn line = %+v", r)
	}
}

func TestWriteCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	w := open(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Write(ctx, deadletter.Record{Topic: "t"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write with cancelled ctx = %v, want context.Canceled", err)
	}
	if lines := readLines(t, path); len(lines) != 0 {
		t.Fatalf("cancelled Write wrote %q", lines)
	}
}

func BenchmarkWrite(b *testing.B) {
	w := open(b, filepath.Join(b.TempDir(), "dead.jsonl"))
	r := deadletter.Record{Time: time.Now(), Topic: "persistent://acme/event-v1/all", MessageID: "CAAQAw==",
		Reason: "decode_payload", Frame: string(bytes.Repeat([]byte("x"), 1500))}
	for b.Loop() {
		write(b, w, r)
	}
}
