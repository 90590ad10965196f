package main

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// startEmulate runs `streamd emulate` on a free loopback port with e and
// returns the child and the emulator's ws:// base URL.
func startEmulate(t *testing.T, e env) (*proc, string) {
	t.Helper()
	p := start(t, e.with("STREAMD_EMULATOR_ADDR", "127.0.0.1:0", "STREAMD_EMULATOR_RATE", "0", "STREAMD_LOG_LEVEL", "info"), "emulate")
	p.waitLog(15*time.Second, `"emulating 8x8's event streaming proxy"`)
	u, err := url.Parse(logField(t, p.stderr.String(), "emulating 8x8's event streaming proxy", "url"))
	if err != nil {
		t.Fatal(err)
	}
	return p, "ws://" + u.Host
}

// handshake dials base+path with h and returns the HTTP status (101 when
// upgraded) and the connection, if any.
func handshake(t *testing.T, base, path string, h http.Header) (int, *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, base+path, &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		t.Cleanup(func() { _ = c.CloseNow() })
		return http.StatusSwitchingProtocols, c
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	return resp.StatusCode, nil
}

// TestEmulateLikes8x8: `streamd emulate` serves only STREAMD_TENANT,
// accepts only the key of STREAMD_API_KEY_FILE in the forms 8x8 documents,
// answers an unknown namespace with 500, logs each refusal with its reason
// (never the key), and sends open clients a 1001 close frame on SIGTERM.
func TestEmulateLikes8x8(t *testing.T) {
	t.Parallel()
	const key = "eght_emulate_file_key"
	keyFile := filepath.Join(t.TempDir(), "api_key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, base := startEmulate(t, baseEnv(t).with("STREAMD_TENANT", "acme", "STREAMD_API_KEY_FILE", keyFile))

	good := http.Header{"X-Api-Key": {key}}
	const reader = "/ws/v2/reader/persistent/acme/event-v1/all"
	cc := base64.StdEncoding.EncodeToString([]byte("acme:secret"))
	for _, tc := range []struct {
		name, path string
		h          http.Header
		want       int
	}{
		{"wrong tenant", "/ws/v2/reader/persistent/other/event-v1/all", good, 401},
		{"wrong key", reader, http.Header{"X-Api-Key": {"eght_other"}}, 401},
		{"Bearer", reader, http.Header{"Authorization": {"Bearer " + key}}, 401},
		{"Basic with an eght_ key", reader, http.Header{"Authorization": {"Basic " + key}}, 401},
		{"Basic with a CC token that is not the key", reader, http.Header{"Authorization": {"Basic " + cc}}, 401},
		{"unknown namespace", "/ws/v2/reader/persistent/acme/events/all", good, 500},
		{"query key", reader + "?x-api-key=" + url.QueryEscape(key), http.Header{}, 101},
	} {
		if got, _ := handshake(t, base, tc.path, tc.h); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	status, conn := handshake(t, base, reader, good)
	if status != http.StatusSwitchingProtocols {
		t.Fatalf("right tenant and key: %d", status)
	}
	readErr := make(chan error, 1)
	go func() {
		_, _, err := conn.Read(context.Background())
		readErr <- err
	}()

	p.waitLog(10*time.Second, `"pulsartest: session opened"`)
	logs := p.stderr.String()
	for _, want := range []string{`"reason":"tenant \"other\" is not the key's tenant"`, `Bearer is not accepted`,
		`"reason":"unknown key"`, `"reason":"unknown namespace \"events\""`} {
		if !strings.Contains(logs, want) {
			t.Errorf("no refusal logged with %s", want)
		}
	}
	if strings.Contains(logs, key) {
		t.Errorf("the key is in the log:\n%s", logs)
	}

	p.signal(syscall.SIGTERM)
	var ce websocket.CloseError
	select {
	case err := <-readErr:
		if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway {
			t.Errorf("client saw %v, want a 1001 close frame", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no close frame after SIGTERM")
	}
	if code := p.wait(10 * time.Second); code != exitOK {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	if !strings.Contains(p.stderr.String(), `"closed_by":"server","code":1001,"reason":"Server shutting down"`) {
		t.Errorf("shutdown close not logged:\n%s", tail(p.stderr.String(), 2000))
	}
}

// TestEmulateKeyFileErrors: an unreadable STREAMD_API_KEY_FILE, or a key of
// a shape 8x8 never issues, is invalid configuration naming the variable.
func TestEmulateKeyFileErrors(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		filepath.Join(t.TempDir(), "missing"): "STREAMD_API_KEY_FILE",
		bad:                                   "STREAMD_API_KEY_FILE",
	} {
		p := run(t, baseEnv(t).with("STREAMD_API_KEY_FILE", file, "STREAMD_EMULATOR_ADDR", "127.0.0.1:0"), "emulate")
		if p.code != exitConfig || !strings.Contains(p.stderr.String(), want) {
			t.Errorf("%s: exit %d, stderr %q", file, p.code, p.stderr.String())
		}
		if strings.Contains(p.stderr.String(), "not a key") {
			t.Errorf("the key is in the error: %q", p.stderr.String())
		}
	}
}

// TestHelpEmulate: `streamd help emulate` documents every variable the
// emulator reads and how it answers.
func TestHelpEmulate(t *testing.T) {
	t.Parallel()
	p := run(t, baseEnv(t), "help", "emulate")
	out := p.stdout.String()
	for _, want := range []string{"STREAMD_EMULATOR_ADDR", "STREAMD_EMULATOR_RATE", "STREAMD_TENANT", "STREAMD_API_KEY ",
		"STREAMD_API_KEY_FILE", "STREAMD_LOG_LEVEL", "STREAMD_LOG_FORMAT", "401", "Bearer", "500", "1001"} {
		if !strings.Contains(out, want) {
			t.Errorf("help emulate lacks %q:\n%s", want, out)
		}
	}
}
