package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sys/unix"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/natstest"
)

// TestCheckRedactsNATSURL: the ok and FAIL lines of the nats sink show the
// URL without its userinfo.
func TestCheckRedactsNATSURL(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{Keys: []string{testKey}})
	ns := natstest.Run(t, func(o *server.Options) { o.Username, o.Password = "user", "natsUrlS3cret" })
	port := strings.TrimPrefix(ns.URL(), "nats://127.0.0.1:")
	closed := closedPort(t)
	for _, tc := range []struct{ url, want string }{
		{"nats://user:natsUrlS3cret@127.0.0.1:" + port, "sink nats      ok    nats://REDACTED@127.0.0.1:" + port},
		{"nats://user:natsUrlS3cret@127.0.0.1:" + closed, "sink nats      FAIL  nats://REDACTED@127.0.0.1:" + closed},
	} {
		p := run(t, checkEnv(t, emu, "STREAMD_SINKS", "nats", "STREAMD_NATS_URL", tc.url, "STREAMD_TOPICS", "all"), "check")
		out := p.stdout.String() + p.stderr.String()
		if !strings.Contains(out, tc.want) {
			t.Errorf("check output lacks %q:\n%s", tc.want, out)
		}
		if strings.Contains(out, "natsUrlS3cret") {
			t.Errorf("check output shows the NATS password:\n%s", out)
		}
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	_ = ln.Close()
	return port
}

// TestCheckCountsFromEarliest: check says how many messages each topic
// holds from earliest, warns on an empty one naming the wrong-region
// possibility, and in consumer mode never attaches the subscription.
func TestCheckCountsFromEarliest(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{Keys: []string{testKey}})
	g := pulsartest.NewGenerator("acme", 1)
	for range 3 {
		ev, typ := g.Next()
		emu.Publish("acme/event-v1/all", ev)
		_ = typ
	}
	for _, mode := range []string{"reader", "consumer"} {
		p := run(t, checkEnv(t, emu, "STREAMD_MODE", mode, "STREAMD_TOPICS", "all,Nothing"), "check")
		out := p.stdout.String()
		if p.code != exitOK {
			t.Fatalf("%s: exit %d:\n%s%s", mode, p.code, out, p.stderr.String())
		}
		for _, want := range []string{
			"topic event-v1/all ok  ", "reader handshake 101 in ", "; 3 messages from earliest",
			"; 0 messages from earliest", "warning: the topic holds no messages from earliest", "wrong region",
			"probed: a non-durable reader at earliest",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: check output lacks %q:\n%s", mode, want, out)
			}
		}
		if strings.Count(out, "warning: the topic holds no messages") != 1 {
			t.Errorf("%s: want one empty-topic warning:\n%s", mode, out)
		}
		if mode == "consumer" && !strings.Contains(out, `subscription "streamd" (Failover) not attached`) {
			t.Errorf("consumer: check does not say the subscription was not attached:\n%s", out)
		}
		if path := emu.LastRequest().Path; !strings.Contains(path, "/ws/v2/reader/") {
			t.Errorf("%s: last handshake on %s, want the reader endpoint", mode, path)
		}
	}
	if st := emu.Stats(); st.AcksReceived != 0 {
		t.Errorf("check acked %d messages", st.AcksReceived)
	}
	if n := emu.Backlog("acme/event-v1/all", "streamd"); n != 0 {
		t.Errorf("check created subscription streamd (backlog %d)", n)
	}
}

// TestCheckProbesPaths: check opens the file sink and dead-letter paths
// the way run will, creating nothing.
func TestCheckProbesPaths(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{Keys: []string{testKey}})
	dir := t.TempDir()
	state := filepath.Join(dir, "new", "state")
	fifo := filepath.Join(t.TempDir(), "events.fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		kv   []string
		want string
		code int
	}{
		{"file path is a directory", []string{"STREAMD_FILE_PATH", dir}, "sink file      FAIL  " + dir + ": is a directory", exitFail},
		{"file in a missing directory", []string{"STREAMD_FILE_PATH", filepath.Join(dir, "nope", "out.jsonl")}, "does not exist, and run does not create it", exitFail},
		{"dead letter is a directory", []string{"STREAMD_DEAD_LETTER_PATH", dir}, "dead letters   FAIL  " + dir + ": is a directory", exitFail},
		{"file path is a FIFO without a reader", []string{"STREAMD_FILE_PATH", fifo}, "sink file      ok    " + fifo + " (named pipe, writable; run waits for a reader)", exitOK},
		{"state dir to create", []string{"STREAMD_STATE_DIR", state}, "state dir      ok    " + state + " (missing; run creates it in " + dir + ")", exitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv := append([]string{"STREAMD_SINKS", "file", "STREAMD_FILE_PATH", filepath.Join(dir, "out.jsonl"), "STREAMD_TOPICS", "all"}, tc.kv...)
			p := run(t, checkEnv(t, emu, kv...), "check")
			if out := p.stdout.String(); p.code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s%s", p.code, tc.code, tc.want, out, p.stderr.String())
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("check created %v in %s", entries, dir)
	}
}

// TestSinkConfigFailuresExit78: run fails with 78, not 1, on sink problems
// that only a configuration change can fix.
func TestSinkConfigFailuresExit78(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{Keys: []string{testKey}})
	ns := natstest.Run(t, nil)
	createStream(t, ns.URL(), "OTHER", "other.>")
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		kv   []string
		want string
	}{
		{"file path is a directory", []string{"STREAMD_SINKS", "file", "STREAMD_FILE_PATH", dir}, "invalid configuration: STREAMD_FILE_PATH="},
		{"file in a missing directory", []string{"STREAMD_SINKS", "file", "STREAMD_FILE_PATH", filepath.Join(dir, "nope", "x.jsonl")}, "no such file or directory"},
		{"stream subjects mismatch", []string{"STREAMD_SINKS", "nats", "STREAMD_NATS_URL", ns.URL(), "STREAMD_NATS_JETSTREAM", "true", "STREAMD_NATS_STREAM", "OTHER"}, "invalid configuration: STREAMD_NATS_STREAM="},
		{"nats creds file missing", []string{"STREAMD_SINKS", "nats", "STREAMD_NATS_URL", ns.URL(), "STREAMD_NATS_CREDS_FILE", filepath.Join(dir, "none.creds")}, "STREAMD_NATS_*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := run(t, checkEnv(t, emu, tc.kv...), "run")
			if stderr := p.stderr.String(); p.code != exitConfig || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d (want 78), stderr lacks %q:\n%s", p.code, tc.want, stderr)
			}
		})
	}
}

// createStream creates a JetStream stream.
func createStream(t *testing.T, url, name string, subjects ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := natstest.JetStream(t, url).CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: subjects}); err != nil {
		t.Fatal(err)
	}
}
