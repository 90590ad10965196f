package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
)

// TestRefuseStdoutToTheJournal: with STREAMD_SINKS unset and stdout the
// stream $JOURNAL_STREAM names (as under systemd), run exits 78 instead of
// writing customer data into the journal; an explicit STREAMD_SINKS=stdout,
// or a stdout that is not the journal, runs.
func TestRefuseStdoutToTheJournal(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{Keys: []string{testKey}})
	out, err := os.Create(filepath.Join(t.TempDir(), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	fi, err := out.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	journal := fmt.Sprintf("%d:%d", st.Dev, st.Ino)

	p := startTo(t, checkEnv(t, emu, "JOURNAL_STREAM", journal), out, "run")
	if code := p.wait(30 * time.Second); code != exitConfig || !strings.Contains(p.stderr.String(), "STREAMD_SINKS is not set and stdout is the systemd journal") {
		t.Fatalf("exit %d (want 78), stderr:\n%s", p.code, p.stderr.String())
	}

	for name, q := range map[string]*proc{
		"explicit stdout":        startTo(t, checkEnv(t, emu, "JOURNAL_STREAM", journal, "STREAMD_SINKS", "stdout"), out, "run"),
		"stdout not the journal": start(t, checkEnv(t, emu, "JOURNAL_STREAM", journal), "run"),
	} {
		q.waitLog(15*time.Second, `"msg":"ready`)
		q.signal(syscall.SIGTERM)
		if code := q.wait(15 * time.Second); code != exitOK {
			t.Errorf("%s: exit %d, stderr:\n%s", name, code, q.stderr.String())
		}
	}
}
