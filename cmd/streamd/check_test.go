package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamd/streamd/consumer/pulsartest"
)

func checkEnv(t *testing.T, emu *pulsartest.Server, kv ...string) env {
	return baseEnv(t).with(
		"STREAMD_TENANT", "acme", "STREAMD_API_KEY", testKey, "STREAMD_ENDPOINT", emu.URL(),
		"STREAMD_STATE_DIR", t.TempDir(), "STREAMD_TOPICS", "all,InteractionCreated",
	).with(kv...)
}

func noKey(t *testing.T, p *proc) {
	t.Helper()
	for _, s := range []string{p.stdout.String(), p.stderr.String()} {
		if strings.Contains(s, testKey) || strings.Contains(s, strings.TrimPrefix(testKey, "eght_")) {
			t.Errorf("output shows the key:\n%s", s)
		}
	}
}

func TestCheckOK(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{Keys: []string{testKey}})
	out := t.TempDir() + "/out.jsonl"
	p := run(t, checkEnv(t, emu, "STREAMD_SINKS", "stdout,file", "STREAMD_FILE_PATH", out), "check")
	stdout := p.stdout.String()
	if p.code != exitOK {
		t.Fatalf("exit %d, want 0:\n%s", p.code, stdout)
	}
	for _, want := range []string{
		"configuration  ok    tenant acme, reader mode, header auth, credential: Admin Console API key",
		"topic event-v1/all ok  ",
		"topic event-v1/InteractionCreated ok  ",
		"handshake 101 in ",
		"sink stdout    ok",
		"sink file      ok    " + out,
		"state dir      ok",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "FAIL") {
		t.Errorf("check output has a FAIL line:\n%s", stdout)
	}
	settled(t, emu)
	if got := emu.Stats().Handshakes[101]; got != 2 {
		t.Errorf("%d handshakes, want one per topic (2)", got)
	}
	if h := emu.LastRequest().Header.Get("X-API-Key"); h != testKey {
		t.Errorf("X-API-Key header %q, want the key", h)
	}
	noKey(t, p)
}

func TestCheckWrongKey(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{Keys: []string{"eght_the_right_key_0000"}})
	for _, auth := range []string{"header", "query"} {
		t.Run(auth, func(t *testing.T) {
			p := run(t, checkEnv(t, emu, "STREAMD_AUTH", auth), "check")
			stdout := p.stdout.String()
			if p.code != exitFail {
				t.Fatalf("exit %d, want 1:\n%s", p.code, stdout)
			}
			if !strings.Contains(stdout, "FAIL") || !strings.Contains(stdout, "401") {
				t.Errorf("no FAIL line with 401:\n%s", stdout)
			}
			if !strings.Contains(stdout, "hint: ") || !strings.Contains(stdout, "STREAMD_API_KEY") {
				t.Errorf("no hint naming STREAMD_API_KEY:\n%s", stdout)
			}
			if auth == "query" && !strings.Contains(stdout, "x-api-key=REDACTED") {
				t.Errorf("query-auth URL is not shown redacted:\n%s", stdout)
			}
			if auth == "header" && strings.Contains(stdout, "x-api-key") {
				t.Errorf("header-auth URL has an x-api-key parameter:\n%s", stdout)
			}
			noKey(t, p)
		})
	}
}

func TestCheckBadConfig(t *testing.T) {
	t.Parallel()
	p := run(t, validEnv(t).with("STREAMD_MODE", "bogus"), "check")
	if p.code != exitConfig || !strings.Contains(p.stderr.String(), `STREAMD_MODE="bogus"`) {
		t.Fatalf("exit %d, stderr %q", p.code, p.stderr.String())
	}
}

// TestCheckKeyFromFiles: the key is read from STREAMD_API_KEY_FILE or the
// systemd credential $CREDENTIALS_DIRECTORY/api_key, trailing newline
// trimmed.
func TestCheckKeyFromFiles(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{Keys: []string{testKey}})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "api_key"), []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, kv := range map[string][]string{
		"API_KEY_FILE":          {"STREAMD_API_KEY", "", "STREAMD_API_KEY_FILE", filepath.Join(dir, "api_key")},
		"CREDENTIALS_DIRECTORY": {"STREAMD_API_KEY", "", "CREDENTIALS_DIRECTORY", dir},
	} {
		t.Run(name, func(t *testing.T) {
			p := run(t, checkEnv(t, emu, kv...), "check")
			if p.code != exitOK {
				t.Fatalf("exit %d:\n%s%s", p.code, p.stdout.String(), p.stderr.String())
			}
			noKey(t, p)
		})
	}
}
