package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/checkpoint"
)

// TestCorruptCheckpointExits78: a torn checkpoint is reported with its path
// and exit 78, never silently replaced by STREAMD_START.
func TestCorruptCheckpointExits78(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{Keys: []string{testKey}})
	state := t.TempDir()
	store, err := checkpoint.Open(filepath.Join(state, "checkpoints"))
	if err != nil {
		t.Fatal(err)
	}
	const key = "acme/event-v1/all"
	if err := store.Save(t.Context(), key, "CLAfEOEfMAA="); err != nil {
		t.Fatal(err)
	}
	path := store.Path(key)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data[:len(data)/2], 0o600); err != nil { // a torn write
		t.Fatal(err)
	}

	p := run(t, baseEnv(t).with(
		"STREAMD_TENANT", "acme", "STREAMD_API_KEY", testKey, "STREAMD_ENDPOINT", emu.URL(),
		"STREAMD_STATE_DIR", state, "STREAMD_HTTP_ADDR", "",
	), "run")
	if p.code != exitConfig {
		t.Fatalf("exit %d, want %d:\n%s", p.code, exitConfig, p.stderr.String())
	}
	if msg := p.stderr.String(); !strings.Contains(msg, path) || !strings.Contains(msg, "STREAMD_START") {
		t.Errorf("the error does not name the file and the way out:\n%s", msg)
	}
	settled(t, emu)
	if n := emu.Stats().Handshakes[101]; n != 0 {
		t.Errorf("%d handshakes with a corrupt checkpoint, want 0", n)
	}
}
