package checkpoint_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/streamd/streamd/internal/checkpoint"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const key = "acme/event-v1/all"

func open(t testing.TB, dir string) *checkpoint.Store {
	t.Helper()
	s, err := checkpoint.Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func mustLoad(t *testing.T, s *checkpoint.Store, key string) (string, bool) {
	t.Helper()
	id, ok, err := s.Load(t.Context(), key)
	if err != nil {
		t.Fatalf("Load(%q): %v", key, err)
	}
	return id, ok
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "checkpoints")
	s := open(t, dir)
	if id, ok := mustLoad(t, s, key); ok || id != "" {
		t.Fatalf("Load of missing key = %q, %v; want \"\", false", id, ok)
	}
	for _, id := range []string{"CAAQAw==", "CAEQBA==", "CAEQBQ=="} {
		if err := s.Save(t.Context(), key, id); err != nil {
			t.Fatalf("Save: %v", err)
		}
	}
	if id, ok := mustLoad(t, open(t, dir), key); !ok || id != "CAEQBQ==" {
		t.Fatalf("Load after reopen = %q, %v; want CAEQBQ==, true", id, ok)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode = %v (%v), want 0700", st.Mode().Perm(), err)
	}
	st, err = os.Stat(s.Path(key))
	if err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Fatalf("file mode = %v (%v), want no group/other access", st.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("dir holds %d entries, want 1 (no temp files left)", len(entries))
	}
}

func TestSaveRejectsEmpty(t *testing.T) {
	s := open(t, t.TempDir())
	if err := s.Save(t.Context(), key, ""); err == nil {
		t.Fatal("Save with empty id = nil, want error")
	}
	if err := s.Save(t.Context(), "", "CAAQAw=="); err == nil {
		t.Fatal("Save with empty key = nil, want error")
	}
}

func TestPathSanitised(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	keys := []string{key, "acme_event-v1_all", "acme/event-v1/All", "../../etc/passwd", "ü/ö\x00/\\:*",
		strings.Repeat("x", 500), strings.Repeat("x", 501)}
	seen := map[string]string{}
	for i, k := range keys {
		p := s.Path(k)
		if filepath.Dir(p) != dir {
			t.Errorf("Path(%q) = %q escapes the dir", k, p)
		}
		if len(filepath.Base(p)) > 120 {
			t.Errorf("Path(%q) base is %d bytes", k, len(filepath.Base(p)))
		}
		if other, dup := seen[p]; dup {
			t.Errorf("keys %q and %q share %q", k, other, p)
		}
		seen[p] = k
		if err := s.Save(t.Context(), k, fmt.Sprint(i)); err != nil {
			t.Fatalf("Save(%q): %v", k, err)
		}
	}
	for i, k := range keys {
		if id, ok := mustLoad(t, s, k); !ok || id != fmt.Sprint(i) {
			t.Errorf("Load(%q) = %q, %v; want %d", k, id, ok, i)
		}
	}
	if !strings.HasPrefix(filepath.Base(s.Path(key)), "acme_event-v1_all-") {
		t.Errorf("Path(%q) = %q is not readable", key, s.Path(key))
	}
}

func TestCorruptDetected(t *testing.T) {
	valid := func(t *testing.T, s *checkpoint.Store) []byte {
		if err := s.Save(t.Context(), key, "CAAQAw=="); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(s.Path(key))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := map[string]func(t *testing.T, s *checkpoint.Store) []byte{
		"empty":     func(*testing.T, *checkpoint.Store) []byte { return nil },
		"garbage":   func(*testing.T, *checkpoint.Store) []byte { return []byte("\x00\xff\xfegarbage") },
		"truncated": func(t *testing.T, s *checkpoint.Store) []byte { b := valid(t, s); return b[:len(b)/2] },
		"edited id": func(t *testing.T, s *checkpoint.Store) []byte {
			return []byte(strings.Replace(string(valid(t, s)), "CAAQAw==", "CAAQBA==", 1))
		},
		"bad checksum": func(t *testing.T, s *checkpoint.Store) []byte {
			b := valid(t, s)
			i := strings.Index(string(b), `"checksum":"`) + len(`"checksum":"`)
			b[i] ^= 1
			return b
		},
		"other key": func(t *testing.T, s *checkpoint.Store) []byte {
			if err := s.Save(t.Context(), "acme/event-v1/other", "CAAQAw=="); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(s.Path("acme/event-v1/other"))
			return b
		},
		"json null": func(*testing.T, *checkpoint.Store) []byte { return []byte("null") },
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			s := open(t, t.TempDir())
			b := content(t, s)
			if err := os.WriteFile(s.Path(key), b, 0o600); err != nil {
				t.Fatal(err)
			}
			id, ok, err := s.Load(t.Context(), key)
			if !errors.Is(err, checkpoint.ErrCorrupt) || ok || id != "" {
				t.Fatalf("Load = %q, %v, %v; want ErrCorrupt", id, ok, err)
			}
			if !strings.Contains(err.Error(), s.Path(key)) {
				t.Fatalf("error %q does not name the file", err)
			}
		})
	}
}

func TestStaleTempFileIgnoredAndCleaned(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if err := s.Save(t.Context(), key, "CAAQAw=="); err != nil {
		t.Fatal(err)
	}
	// A crash between CreateTemp and rename leaves a partial temp file.
	stale := s.Path(key) + ".tmp-123456"
	if err := os.WriteFile(stale, []byte(`{"version":1,"key":"acme/ev`), 0o600); err != nil {
		t.Fatal(err)
	}
	if id, ok := mustLoad(t, s, key); !ok || id != "CAAQAw==" {
		t.Fatalf("Load with stale temp = %q, %v", id, ok)
	}
	s = open(t, dir)
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temp file still there after Open: %v", err)
	}
	if id, ok := mustLoad(t, s, key); !ok || id != "CAAQAw==" {
		t.Fatalf("Load after cleanup = %q, %v", id, ok)
	}
}

func TestConcurrentKeys(t *testing.T) {
	s := open(t, t.TempDir())
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			k := fmt.Sprintf("acme/event-v1/topic-%d", g)
			for i := range 20 {
				if err := s.Save(t.Context(), k, fmt.Sprintf("%d:%d", g, i)); err != nil {
					errs <- err
					return
				}
				if _, _, err := s.Load(t.Context(), k); err != nil {
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
	for g := range 8 {
		k := fmt.Sprintf("acme/event-v1/topic-%d", g)
		if id, ok := mustLoad(t, s, k); !ok || id != fmt.Sprintf("%d:19", g) {
			t.Fatalf("Load(%q) = %q, %v", k, id, ok)
		}
	}
}

func TestSaveErrorReported(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	s := open(t, dir)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(t.Context(), key, "CAAQAw=="); err == nil || !strings.Contains(err.Error(), "save checkpoint") {
		t.Fatalf("Save into a removed dir = %v, want a save checkpoint error", err)
	}
}

func BenchmarkSave(b *testing.B) {
	s := open(b, b.TempDir())
	for i := 0; b.Loop(); i++ {
		if err := s.Save(b.Context(), key, fmt.Sprintf("CAEQ%d", i)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	s := open(b, b.TempDir())
	if err := s.Save(b.Context(), key, "CAAQAw=="); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := s.Load(b.Context(), key); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStoreHonoursCancelledContext: a cancelled context stops Load and Save
// before any file I/O.
func TestStoreHonoursCancelledContext(t *testing.T) {
	s := open(t, t.TempDir())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Save(ctx, key, "CAAQAw=="); !errors.Is(err, context.Canceled) {
		t.Errorf("Save = %v, want context.Canceled", err)
	}
	if _, ok, err := s.Load(t.Context(), key); ok || err != nil {
		t.Errorf("a cancelled Save wrote: ok=%v err=%v", ok, err)
	}
	if _, _, err := s.Load(ctx, key); !errors.Is(err, context.Canceled) {
		t.Errorf("Load = %v, want context.Canceled", err)
	}
}
