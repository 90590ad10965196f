package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const (
	testKey      = "eght_TopSecretKeyValue_1234567890"
	testNATSPass = "natsTopSecretPassword"
)

// validEnv is a complete, valid configuration; cases break one thing.
func validEnv(t *testing.T) env {
	return baseEnv(t).with(
		"STREAMD_TENANT", "acme",
		"STREAMD_API_KEY", testKey,
		"STREAMD_ENDPOINT", "ws://127.0.0.1:1",
		"STREAMD_STATE_DIR", t.TempDir(),
		"STREAMD_NATS_PASSWORD", testNATSPass,
	)
}

func TestBadConfigExits78(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = busy.Close() })
	keyFile := filepath.Join(t.TempDir(), "missing-key")
	const msgID = "CLAfEOEfMAA="
	cases := []struct {
		name string
		kv   []string
		want string // in stderr: the variable and, when not secret, its value
	}{
		{"missing tenant", []string{"STREAMD_TENANT", ""}, `STREAMD_TENANT=""`},
		{"tenant with slash", []string{"STREAMD_TENANT", "a/b"}, `STREAMD_TENANT="a/b"`},
		{"missing key", []string{"STREAMD_API_KEY", ""}, "STREAMD_API_KEY"},
		{"bad key shape", []string{"STREAMD_API_KEY", "notakey-Secret!!"}, "STREAMD_API_KEY"},
		{"short eght key", []string{"STREAMD_API_KEY", "eght_x"}, "STREAMD_API_KEY"},
		{"CC token not user:pass", []string{"STREAMD_API_KEY", "bm9jb2xvbg=="}, "STREAMD_API_KEY"},
		{"key file missing", []string{"STREAMD_API_KEY", "", "STREAMD_API_KEY_FILE", keyFile}, "STREAMD_API_KEY_FILE=" + `"` + keyFile},
		{"basic auth with eght key", []string{"STREAMD_AUTH", "basic"}, `STREAMD_AUTH="basic"`},
		{"bad auth", []string{"STREAMD_AUTH", "cookie"}, `STREAMD_AUTH="cookie"`},
		{"bad region", []string{"STREAMD_ENDPOINT", "", "STREAMD_REGION", "MARS1"}, `STREAMD_REGION="MARS1"`},
		{"no region nor endpoint", []string{"STREAMD_ENDPOINT", ""}, "STREAMD_REGION"},
		{"endpoint scheme", []string{"STREAMD_ENDPOINT", "https://pulsar.example"}, `STREAMD_ENDPOINT="https://pulsar.example"`},
		{"endpoint path", []string{"STREAMD_ENDPOINT", "wss://h/ws/v2"}, `STREAMD_ENDPOINT="wss://h/ws/v2"`},
		{"bad namespace", []string{"STREAMD_NAMESPACE", "a/b"}, `STREAMD_NAMESPACE="a/b"`},
		{"bad topic", []string{"STREAMD_TOPICS", "a/b/c"}, `STREAMD_TOPICS="a/b/c"`},
		{"duplicate topic", []string{"STREAMD_TOPICS", "all,event-v1/all"}, `STREAMD_TOPICS="all,event-v1/all"`},
		{"bad mode", []string{"STREAMD_MODE", "writer"}, `STREAMD_MODE="writer"`},
		{"instance with space", []string{"STREAMD_INSTANCE", "pod 1"}, `STREAMD_INSTANCE="pod 1"`},
		{"instance with newline", []string{"STREAMD_INSTANCE", "pod\nX-Evil: 1"}, `STREAMD_INSTANCE="pod\nX-Evil: 1"`},
		{"bad subscription type", []string{"STREAMD_SUBSCRIPTION_TYPE", "exclusive"}, `STREAMD_SUBSCRIPTION_TYPE="exclusive"`},
		{"bad subscription", []string{"STREAMD_MODE", "consumer", "STREAMD_SUBSCRIPTION", "a b"}, `STREAMD_SUBSCRIPTION="a b"`},
		{"consumer with message id", []string{"STREAMD_MODE", "consumer", "STREAMD_START", msgID}, `STREAMD_START="` + msgID + `"`},
		{"bad start id", []string{"STREAMD_START", "yesterday"}, `STREAMD_START="yesterday"`},
		{"queue size 0", []string{"STREAMD_RECEIVER_QUEUE_SIZE", "0"}, `STREAMD_RECEIVER_QUEUE_SIZE="0"`},
		{"queue size 1001", []string{"STREAMD_RECEIVER_QUEUE_SIZE", "1001"}, `STREAMD_RECEIVER_QUEUE_SIZE="1001"`},
		{"queue size not a number", []string{"STREAMD_RECEIVER_QUEUE_SIZE", "lots"}, `STREAMD_RECEIVER_QUEUE_SIZE="lots"`},
		{"unknown sink", []string{"STREAMD_SINKS", "stdout,kafka"}, `STREAMD_SINKS="stdout,kafka"`},
		{"duplicate sink", []string{"STREAMD_SINKS", "stdout,stdout"}, `STREAMD_SINKS="stdout,stdout"`},
		{"no sink", []string{"STREAMD_SINKS", ""}, `STREAMD_SINKS=""`},
		{"file sink without path", []string{"STREAMD_SINKS", "file"}, `STREAMD_FILE_PATH=""`},
		{"bad fsync", []string{"STREAMD_SINKS", "file", "STREAMD_FILE_PATH", "out.jsonl", "STREAMD_FILE_FSYNC", "sometimes"}, `STREAMD_FILE_FSYNC="sometimes"`},
		{"negative max bytes", []string{"STREAMD_SINKS", "file", "STREAMD_FILE_PATH", "out.jsonl", "STREAMD_FILE_MAX_BYTES", "-1"}, `STREAMD_FILE_MAX_BYTES="-1"`},
		{"bad nats url", []string{"STREAMD_SINKS", "nats", "STREAMD_NATS_URL", "not a url"}, `STREAMD_NATS_URL="not a url"`},
		{"nats stream without jetstream", []string{"STREAMD_SINKS", "nats", "STREAMD_NATS_STREAM", "EVENTS"}, `STREAMD_NATS_STREAM="EVENTS"`},
		{"bad checkpoint store", []string{"STREAMD_CHECKPOINT_STORE", "redis"}, `STREAMD_CHECKPOINT_STORE="redis"`},
		{"bad checkpoint bucket", []string{"STREAMD_CHECKPOINT_STORE", "nats", "STREAMD_CHECKPOINT_BUCKET", "a.b"}, `STREAMD_CHECKPOINT_BUCKET="a.b"`},
		{"checkpoint replicas 0", []string{"STREAMD_CHECKPOINT_STORE", "nats", "STREAMD_CHECKPOINT_REPLICAS", "0"}, `STREAMD_CHECKPOINT_REPLICAS="0"`},
		{"checkpoint store bad nats url", []string{"STREAMD_CHECKPOINT_STORE", "nats", "STREAMD_NATS_URL", "x"}, `STREAMD_NATS_URL="x"`},
		{"bad bool", []string{"STREAMD_NATS_JETSTREAM", "maybe"}, `STREAMD_NATS_JETSTREAM="maybe"`},
		{"bad duration", []string{"STREAMD_RECONNECT_MIN", "5 parsecs"}, `STREAMD_RECONNECT_MIN="5 parsecs"`},
		{"negative duration", []string{"STREAMD_SHUTDOWN_TIMEOUT", "-1s"}, `STREAMD_SHUTDOWN_TIMEOUT="-1s"`},
		{"zero duration", []string{"STREAMD_PING_INTERVAL", "0s"}, `STREAMD_PING_INTERVAL="0s"`},
		{"max below min", []string{"STREAMD_RECONNECT_MIN", "10s", "STREAMD_RECONNECT_MAX", "1s"}, `STREAMD_RECONNECT_MAX="1s"`},
		{"small read limit", []string{"STREAMD_READ_LIMIT", "1024"}, `STREAMD_READ_LIMIT="1024"`},
		{"checkpoint every 0", []string{"STREAMD_CHECKPOINT_EVERY", "0"}, `STREAMD_CHECKPOINT_EVERY="0"`},
		{"bad log level", []string{"STREAMD_LOG_LEVEL", "verbose"}, `STREAMD_LOG_LEVEL="verbose"`},
		{"bad log format", []string{"STREAMD_LOG_FORMAT", "xml"}, `STREAMD_LOG_FORMAT="xml"`},
		{"bad format", []string{"STREAMD_FORMAT", "csv"}, `STREAMD_FORMAT="csv"`},
		{"http addr in use", []string{"STREAMD_HTTP_ADDR", busy.Addr().String()}, `STREAMD_HTTP_ADDR="` + busy.Addr().String() + `"`},
		{"http addr malformed", []string{"STREAMD_HTTP_ADDR", "localhost"}, `STREAMD_HTTP_ADDR="localhost"`},
		{"state dir unusable", []string{"STREAMD_STATE_DIR", "/dev/null/state"}, `STREAMD_STATE_DIR="/dev/null/state"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := validEnv(t).with(tc.kv...)
			p := run(t, e, "run")
			stderr := p.stderr.String()
			if p.code != exitConfig {
				t.Fatalf("exit %d, want %d; stderr:\n%s", p.code, exitConfig, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr does not name %s:\n%s", tc.want, stderr)
			}
			if out := p.stdout.String(); out != "" {
				t.Errorf("stdout is not empty: %q", out)
			}
			for _, secret := range []string{e["STREAMD_API_KEY"], testNATSPass} {
				if len(secret) > 6 && strings.Contains(stderr, secret) {
					t.Errorf("stderr leaks secret %q:\n%s", secret, stderr)
				}
			}
		})
	}
}

// TestUnknownCommand exits 2 with the help on stderr.
func TestUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	if code := m.exitStatus(m.Run(context.Background(), []string{"frobnicate"}, nil)); code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	if out.Len() != 0 || !strings.Contains(errb.String(), `unknown command "frobnicate"`) {
		t.Fatalf("stdout %q, stderr %q", out.String(), errb.String())
	}
}

var exampleVar = regexp.MustCompile(`^#?\s*(STREAMD_[A-Z0-9_]+)=(.*)$`)

// TestHelpAndExampleListEveryVariable: `help` prints every STREAMD_
// variable of Config; config.example.env documents exactly those, and a
// commented example line shows the default.
func TestHelpAndExampleListEveryVariable(t *testing.T) {
	var out bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	if code := m.exitStatus(m.Run(context.Background(), []string{"help"}, nil)); code != exitOK {
		t.Fatalf("help exit %d", code)
	}
	help := out.String()
	vars := map[string]string{} // name → default
	for _, v := range envVars() {
		vars[v[0]] = v[1]
		if !regexp.MustCompile(`(?m)^\s+` + v[0] + `\s`).MatchString(help) {
			t.Errorf("help does not list %s", v[0])
		}
	}
	if len(vars) < 40 {
		t.Fatalf("only %d variables found in Config", len(vars))
	}
	f, err := os.Open(filepath.Join("..", "..", "config.example.env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		mm := exampleVar.FindStringSubmatch(line)
		if mm == nil {
			if strings.Contains(line, "STREAMD_") && !strings.HasPrefix(line, "#") {
				t.Errorf("config.example.env: unparsable line %q", line)
			}
			continue
		}
		name, value := mm[1], mm[2]
		def, ok := vars[name]
		if !ok {
			t.Errorf("config.example.env documents %s, which Config does not have", name)
			continue
		}
		seen[name] = true
		if strings.HasPrefix(line, "#") && !strings.Contains(value, " ") && !strings.Contains(value, "...") && value != def {
			t.Errorf("config.example.env: %s shows %q, the default is %q", name, value, def)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for name := range vars {
		if !seen[name] {
			t.Errorf("config.example.env lacks %s", name)
		}
	}
}

// TestInstanceDefaultsToHostname: without STREAMD_INSTANCE a replica is
// named after its host; an explicit name is kept.
func TestInstanceDefaultsToHostname(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		t.Skipf("no hostname: %v", err)
	}
	for _, tc := range []struct{ set, want string }{{"", host}, {"pod-7", "pod-7"}} {
		e := validEnv(t).with("STREAMD_INSTANCE", tc.set)
		for k, v := range e {
			t.Setenv(k, v)
		}
		c, err := loadConfig(os.Getenv, os.Environ(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Instance != tc.want {
			t.Errorf("STREAMD_INSTANCE=%q: instance %q, want %q", tc.set, c.Instance, tc.want)
		}
	}
}
