package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// replayBase is the publish time of the first event of replayStream.
var replayBase = time.Date(2025, 10, 15, 9, 0, 0, 0, time.UTC)

// newReplayEmulator starts an emulator whose publish clock the test sets.
func newReplayEmulator(t *testing.T, retain int) (*pulsartest.Server, *atomic.Pointer[time.Time]) {
	clock := &atomic.Pointer[time.Time]{}
	clock.Store(&replayBase)
	now := func() time.Time { return *clock.Load() }
	return pulsartest.Start(t, pulsartest.Config{Keys: []string{testKey}, Now: now, RetainMessages: retain}), clock
}

// replayStream publishes n events to streamTopic, event i at replayBase+i
// minutes, and returns their ids.
func replayStream(emu *pulsartest.Server, clock *atomic.Pointer[time.Time], n int) []string {
	ids := make([]string, n)
	for i := range n {
		at := replayBase.Add(time.Duration(i) * time.Minute)
		clock.Store(&at)
		ev := fmt.Sprintf(`{"Interaction":{"event":"InteractionQueued","interactionGUID":"int-%03d","queueId":7}}`, i)
		ids[i] = emu.Publish(streamTopic, []byte(ev))
	}
	return ids
}

func sameIDs(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("ids differ (want exactly the range, in order):\n got %v\nwant %v", got, want)
	}
}

// TestReplayRangeIntoFile: the file gets exactly the range, in order, and
// a consumer-mode configuration still replays through a reader.
func TestReplayRangeIntoFile(t *testing.T) {
	t.Parallel()
	emu, clock := newReplayEmulator(t, 0)
	ids := replayStream(emu, clock, 30)
	out := filepath.Join(t.TempDir(), "replay.jsonl")
	e := streamEnv(t, emu, filepath.Join(t.TempDir(), "daemon.jsonl"), "STREAMD_MODE", "consumer")

	p := run(t, e, "replay", "-since", "2025-10-15T09:10:00Z", "-until", ids[19], "-sinks", "file", "-file", out)
	if p.code != exitOK {
		t.Fatalf("exit %d, want 0; stderr:\n%s", p.code, p.stderr.String())
	}
	sameIDs(t, fileIDs(t, out), ids[10:20])
	for _, want := range []string{`"skipped_before_since":10`, `"delivered":10`, "replay finished: reached -until message id"} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("stderr lacks %s:\n%s", want, p.stderr.String())
		}
	}
	if got := emu.LastRequest().Path; !strings.HasPrefix(got, "/ws/v2/reader/") {
		t.Errorf("replay connected to %s, want the reader endpoint", got)
	}
	if acked := emu.Acked(streamTopic, "streamd"); len(acked) != 0 {
		t.Errorf("replay acked %d messages on the daemon's subscription", len(acked))
	}
}

// TestReplayUntilOlderThanRetention: an -until id before the first
// retained event exits 1 saying so, not 0 with "reached -until message id"
// and nothing delivered.
func TestReplayUntilOlderThanRetention(t *testing.T) {
	t.Parallel()
	emu, clock := newReplayEmulator(t, 10)
	ids := replayStream(emu, clock, 30) // 20..29 retained
	out := filepath.Join(t.TempDir(), "replay.jsonl")

	p := run(t, streamEnv(t, emu, out), "replay", "-from", "earliest", "-until", ids[3])
	if p.code != exitFail {
		t.Fatalf("exit %d, want 1; stderr:\n%s", p.code, p.stderr.String())
	}
	for _, want := range []string{"older than the retained events", ids[20], ids[3]} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p.stderr.String())
		}
	}
}

// TestReplayFileFlagBlamed: a -file in a missing directory exits 78 naming
// the -file flag the user gave, not STREAMD_FILE_PATH.
func TestReplayFileFlagBlamed(t *testing.T) {
	t.Parallel()
	emu, _ := newReplayEmulator(t, 0)
	missing := filepath.Join(t.TempDir(), "missing", "x.jsonl")

	p := run(t, streamEnv(t, emu, filepath.Join(t.TempDir(), "daemon.jsonl")), "replay", "-from", "earliest", "-sinks", "file", "-file", missing)
	if p.code != exitConfig {
		t.Fatalf("exit %d, want 78; stderr:\n%s", p.code, p.stderr.String())
	}
	if msg := p.stderr.String(); !strings.Contains(msg, "-file") || strings.Contains(msg, "STREAMD_FILE_PATH") {
		t.Errorf("stderr does not blame the -file flag:\n%s", msg)
	}
}

// TestReplayStartOlderThanRetention exits 1 with a message that says what
// is missing and what to do, having delivered nothing.
func TestReplayStartOlderThanRetention(t *testing.T) {
	t.Parallel()
	emu, clock := newReplayEmulator(t, 10)
	ids := replayStream(emu, clock, 30) // 20..29 retained
	out := filepath.Join(t.TempDir(), "replay.jsonl")

	p := run(t, streamEnv(t, emu, out), "replay", "-since", "2025-10-15T09:05:00Z")
	if p.code != exitFail {
		t.Fatalf("exit %d, want 1; stderr:\n%s", p.code, p.stderr.String())
	}
	for _, want := range []string{"start is older than the retained events", ids[20], "2025-10-15T09:20:00Z", "-from earliest"} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p.stderr.String())
		}
	}
	if n := countLines(out); n > 0 {
		t.Errorf("%d events delivered, want none", n)
	}
}

// TestReplayBesideDaemon: a replay next to a running daemon on the same
// configuration and state directory leaves the state directory (checkpoint
// included) byte-for-byte as it was and the daemon undisturbed.
func TestReplayBesideDaemon(t *testing.T) {
	t.Parallel()
	emu, clock := newReplayEmulator(t, 0)
	dir := t.TempDir()
	daemonOut, replayOut := filepath.Join(dir, "daemon.jsonl"), filepath.Join(dir, "replay.jsonl")
	// One checkpoint write, after the 20th event: the state directory is
	// then still until something changes it.
	e := streamEnv(t, emu, daemonOut, "STREAMD_CHECKPOINT_EVERY", "20", "STREAMD_CHECKPOINT_INTERVAL", "1h")
	d := start(t, e, "run")
	d.waitLog(20*time.Second, "ready: first handshake succeeded")
	ids := replayStream(emu, clock, 20)
	testutil.WaitFor(t, 20*time.Second, "the daemon's events", func() bool { return countLines(daemonOut) == 20 })
	stateDir := e["STREAMD_STATE_DIR"]
	testutil.WaitFor(t, 20*time.Second, "the daemon's checkpoint", func() bool {
		s := snapshot(t, stateDir)
		return strings.Contains(s, ids[19]) && !strings.Contains(s, ".tmp")
	})
	before := snapshot(t, stateDir)

	p := run(t, e, "replay", "-from", "earliest", "-sinks", "file", "-file", replayOut, "-idle", "2s")
	if p.code != exitOK {
		t.Fatalf("replay: exit %d, want 0; stderr:\n%s", p.code, p.stderr.String())
	}
	sameIDs(t, fileIDs(t, replayOut), ids)
	if after := snapshot(t, stateDir); after != before {
		t.Errorf("the replay changed the state directory:\nbefore\n%s\nafter\n%s", before, after)
	}
	if d.exited() || countLines(daemonOut) != 20 {
		t.Errorf("daemon disturbed: exited %v, %d events in its file", d.exited(), countLines(daemonOut))
	}
	d.signal(syscall.SIGTERM)
	if code := d.wait(20 * time.Second); code != exitOK {
		t.Errorf("daemon exit %d after SIGTERM", code)
	}
}

// snapshot renders every file of dir with its mode, time and content.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %s\n", path, info.Mode(), info.ModTime().Format(time.RFC3339Nano))
		if !de.IsDir() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			b.Write(data)
			b.WriteByte('\n')
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return b.String()
}

// TestReplayAndTailFlags: an unknown flag is a usage error (2); a bad value
// is invalid configuration (78) naming the flag.
func TestReplayAndTailFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"replay", "-bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{[]string{"tail", "--nope"}, exitUsage, "flag provided but not defined: -nope"},
		{[]string{"replay", "-from"}, exitUsage, "flag needs an argument: -from"},
		{[]string{"replay"}, exitConfig, "-from"},
		{[]string{"replay", "-from", "latest"}, exitConfig, "want earliest or a base64 message id"},
		{[]string{"replay", "-from", "earliest", "-since", "2h"}, exitConfig, "-since"},
		{[]string{"replay", "-since", "yesterday"}, exitConfig, `-since="yesterday"`},
		{[]string{"replay", "-since", "-3h"}, exitConfig, "-since"},
		{[]string{"replay", "-from", "earliest", "-until", "soon"}, exitConfig, `-until="soon"`},
		{[]string{"replay", "-since", "2h", "-until", "3h"}, exitConfig, "until must be after since"},
		{[]string{"replay", "-from", "earliest", "-idle", "0s"}, exitConfig, "-idle"},
		{[]string{"replay", "-from", "earliest", "-sinks", "kafka"}, exitConfig, "-sinks"},
		{[]string{"replay", "-from", "earliest", "-progress", "fancy"}, exitConfig, "-progress"},
		{[]string{"replay", "-from", "earliest", "-type", "Bad Type"}, exitConfig, "-type"},
		{[]string{"replay", "-from", "earliest", "-topic", "a/b/c"}, exitConfig, "-topic"},
		{[]string{"tail", "-since", "tomorrow"}, exitConfig, "-since"},
		{[]string{"tail", "-color", "pink"}, exitConfig, "-color"},
		{[]string{"tail", "-type", ""}, exitConfig, "-type"},
	} {
		var out, errb bytes.Buffer
		m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
		code := m.exitStatus(m.Run(context.Background(), tc.args, nil))
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, want %d, with %q in stderr:\n%s", tc.args, code, tc.code, tc.want, errb.String())
		}
	}
}

// TestHelpReplayAndTail: `streamd help replay|tail` describes every flag
// and the range semantics.
func TestHelpReplayAndTail(t *testing.T) {
	t.Parallel()
	for name, musts := range map[string][]string{
		"replay": {"caught up", "isEndOfTopic", "Nats-Msg-Id", "duplicate window", "skips", "exclusive"},
		"tail":   {"latest", "never writes state", "colour"},
	} {
		var out bytes.Buffer
		m := &Main{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
		if code := m.exitStatus(m.Run(context.Background(), []string{"help", name}, nil)); code != exitOK {
			t.Fatalf("help %s: exit %d", name, code)
		}
		cmd, _ := m.lookup(name)
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		cmd.setup(fs)
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.Contains(out.String(), "  -"+f.Name+" ") && !strings.Contains(out.String(), "  -"+f.Name+"\n") || f.Usage == "" {
				t.Errorf("help %s does not describe -%s", name, f.Name)
			}
		})
		for _, want := range musts {
			if !strings.Contains(out.String(), want) {
				t.Errorf("help %s does not mention %q", name, want)
			}
		}
	}
}

// TestTailCommand: tail prints aligned lines without colour off a
// terminal and stops cleanly on SIGTERM, writing no state.
func TestTailCommand(t *testing.T) {
	t.Parallel()
	emu, clock := newReplayEmulator(t, 0)
	replayStream(emu, clock, 3)
	stateDir := filepath.Join(t.TempDir(), "state")
	e := streamEnv(t, emu, filepath.Join(t.TempDir(), "x.jsonl"), "STREAMD_STATE_DIR", stateDir)

	p := start(t, e, "tail", "-since", "2025-10-15T09:01:00Z", "-type", "InteractionQueued")
	testutil.WaitFor(t, 20*time.Second, "two lines", func() bool { return strings.Contains(p.stdout.String(), "int-002") || p.exited() })
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != exitOK {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, p.stderr.String())
	}
	lines := p.stdout.Lines()
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "TIME") || !strings.Contains(lines[2], "InteractionQueued") ||
		!strings.Contains(lines[2], "int-001") || strings.Contains(p.stdout.String(), "int-000") {
		t.Errorf("stdout:\n%s", p.stdout.String())
	}
	if strings.Contains(p.stdout.String(), "\x1b[") {
		t.Errorf("colour codes off a terminal:\n%q", p.stdout.String())
	}
	if _, err := os.Stat(stateDir); !os.IsNotExist(err) {
		t.Errorf("tail created the state directory (%v)", err)
	}
}
