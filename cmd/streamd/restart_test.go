package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

const streamTopic = "acme/event-v1/all"

// publisher publishes numbered events to streamTopic from the test while
// children run, in bursts paced by a ticker, and records their ids.
type publisher struct {
	mu     sync.Mutex
	ids    []string
	done   chan struct{}
	cancel context.CancelFunc
}

func publish(t *testing.T, emu *pulsartest.Server, n, burst int, every time.Duration) *publisher {
	ctx, cancel := context.WithCancel(context.Background())
	p := &publisher{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; i < n; {
			for j := 0; j < burst && i < n; j, i = j+1, i+1 {
				ev := fmt.Sprintf(`{"Interaction":{"event":"InteractionCreated","seq":%d,"interactionGuid":"int-%06d"}}`, i, i)
				id := emu.Publish(streamTopic, []byte(ev))
				p.mu.Lock()
				p.ids = append(p.ids, id)
				p.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-p.done })
	return p
}

func (p *publisher) published() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.ids...)
}

func (p *publisher) finished() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// fileIDs reads the message ids of an envelope JSON-lines file, in order.
func fileIDs(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e envelope
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: line %d is not an envelope: %v: %q", path, len(ids)+1, err, sc.Text())
		}
		ids = append(ids, e.MessageID)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// countLines counts newline-terminated lines of path (0 if missing).
func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}

// holdsAll reports whether the complete lines of the envelope file at path
// hold every id of want; a line still being written is ignored. Where
// duplicates are allowed (after a kill -9) a line count is no sign of
// completeness: the file reaches len(want) lines while the last events are
// still unread, and a graceful stop then leaves them, unacked and not
// checkpointed, to the next run.
func holdsAll(path string, want []string) bool {
	b, err := os.ReadFile(path)
	if err != nil || bytes.Count(b, []byte{'\n'}) < len(want) {
		return false // cheap: every id needs a line of its own
	}
	have := make(map[string]bool, len(want))
	for line := range bytes.Lines(b) {
		var e envelope
		if bytes.HasSuffix(line, []byte{'\n'}) && json.Unmarshal(line, &e) == nil {
			have[e.MessageID] = true
		}
	}
	for _, id := range want {
		if !have[id] {
			return false
		}
	}
	return true
}

// compare reports gaps (published ids missing from got) and duplicates,
// and that got holds no foreign id and keeps publish order for first
// occurrences.
func compare(t *testing.T, published, got []string) (missing, dups int) {
	t.Helper()
	count := map[string]int{}
	for _, id := range got {
		count[id]++
	}
	want := map[string]bool{}
	for _, id := range published {
		want[id] = true
		switch c := count[id]; {
		case c == 0:
			missing++
		case c > 1:
			dups += c - 1
		}
	}
	for id := range count {
		if !want[id] {
			t.Errorf("sink holds id %q that was never published", id)
		}
	}
	return missing, dups
}

// streamEnv is a file-sink daemon against emu with a fixed state dir.
func streamEnv(t *testing.T, emu *pulsartest.Server, out string, kv ...string) env {
	return baseEnv(t).with(
		"STREAMD_TENANT", "acme", "STREAMD_API_KEY", testKey, "STREAMD_ENDPOINT", emu.URL(),
		"STREAMD_STATE_DIR", filepath.Join(filepath.Dir(out), "state"), "STREAMD_START", "earliest",
		"STREAMD_SINKS", "file", "STREAMD_FILE_PATH", out, "STREAMD_FILE_FSYNC", "always",
		"STREAMD_LOG_LEVEL", "info", "STREAMD_RECONNECT_MIN", "50ms", "STREAMD_RECONNECT_MAX", "200ms",
	).with(kv...)
}

// restartMidStream runs the daemon, stops it with sig once some events are
// in the file while the test keeps publishing, restarts it with the same
// state, and returns the published ids and the file's ids.
func restartMidStream(t *testing.T, sig syscall.Signal, total int, kv ...string) (published, got []string) {
	emu := pulsartest.Start(t, pulsartest.Config{})
	out := filepath.Join(t.TempDir(), "events.jsonl")
	e := streamEnv(t, emu, out, kv...)
	first := start(t, e, "run")
	first.waitLog(20*time.Second, "ready: first handshake succeeded")
	pub := publish(t, emu, total, 5, 4*time.Millisecond)
	testutil.WaitFor(t, 20*time.Second, "first events in the file", func() bool { return countLines(out) >= total/10 || first.exited() })
	first.signal(sig)
	code := first.wait(20 * time.Second)
	if sig == syscall.SIGKILL {
		if code != -1 {
			t.Fatalf("exit %d after SIGKILL", code)
		}
	} else if code != exitOK {
		t.Fatalf("exit %d after %v, want 0", code, sig)
	}
	atStop := countLines(out)
	t.Logf("first run: %d lines written, %d published when stopped by %v", atStop, len(pub.published()), sig)
	if pub.finished() {
		t.Logf("note: the publisher had finished before the stop")
	}

	second := start(t, e, "run")
	testutil.WaitFor(t, 30*time.Second, "publisher done", pub.finished)
	published = pub.published()
	testutil.WaitFor(t, 30*time.Second, "every event in the file", func() bool {
		return holdsAll(out, published) || second.exited()
	})
	// Every event is in the file; a late duplicate could still arrive:
	// stop gracefully and read.
	second.signal(syscall.SIGTERM)
	if code := second.wait(20 * time.Second); code != exitOK {
		t.Fatalf("second run: exit %d after SIGTERM, want 0", code)
	}
	return published, fileIDs(t, out)
}

// TestHoldsAllIsNotALineCount is the interleaving that made
// TestRestartAfterKill report "3000 published, 3086 lines, 4 missing" on a
// loaded machine: after a kill -9 the restarted daemon writes the unsaved
// window again, so the file reaches as many lines as events were published
// while the last ones are still unread; a stop then leaves them to the next
// run (unacked, not checkpointed: a third run wrote them). Waiting for a
// line count stopped the daemon there. holdsAll waits for every id, and
// ignores a line still being written.
func TestHoldsAllIsNotALineCount(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "events.jsonl")
	line := func(id string) string { return fmt.Sprintf(`{"messageId":%q,"event":{}}`, id) + "\n" }
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"a", "b", "c"}

	write(line("a") + line("b") + line("a")) // a duplicated, c unread
	if countLines(path) < len(want) || holdsAll(path, want) {
		t.Fatalf("3 lines with a duplicate and c missing: %d lines, holdsAll %v; want >= 3 lines and false", countLines(path), holdsAll(path, want))
	}
	write(line("a") + line("b") + line("a") + `{"messageId":"c"`) // c half written
	if holdsAll(path, want) {
		t.Fatal("holdsAll counted a line still being written")
	}
	write(line("a") + line("b") + line("a") + line("c"))
	if !holdsAll(path, want) {
		t.Fatal("holdsAll false with every id in the file")
	}
}

// TestRestartAfterSIGTERM: SIGTERM mid-stream then restart with the same
// state dir gives every event exactly once (reader exclusive resume).
func TestRestartAfterSIGTERM(t *testing.T) {
	t.Parallel()
	const total = 3000
	published, got := restartMidStream(t, syscall.SIGTERM, total, "STREAMD_CHECKPOINT_EVERY", "1000000", "STREAMD_CHECKPOINT_INTERVAL", "1h")
	if len(published) != total {
		t.Fatalf("published %d, want %d", len(published), total)
	}
	missing, dups := compare(t, published, got)
	if missing != 0 || dups != 0 || len(got) != total {
		t.Fatalf("after SIGTERM and restart: %d lines, %d missing, %d duplicates; want %d, 0, 0", len(got), missing, dups, total)
	}
}

// TestRestartAfterKill: kill -9 mid-stream then restart loses nothing;
// duplicates are bounded by the checkpoint window.
func TestRestartAfterKill(t *testing.T) {
	t.Parallel()
	const (
		total = 3000
		every = 100
		queue = 100
	)
	published, got := restartMidStream(t, syscall.SIGKILL, total,
		"STREAMD_CHECKPOINT_EVERY", fmt.Sprint(every), "STREAMD_CHECKPOINT_INTERVAL", "200ms",
		"STREAMD_RECEIVER_QUEUE_SIZE", fmt.Sprint(queue))
	missing, dups := compare(t, published, got)
	t.Logf("kill -9 and restart: %d published, %d lines, %d missing, %d duplicates (bound %d)", len(published), len(got), missing, dups, every+queue)
	if missing != 0 {
		t.Fatalf("%d events lost after kill -9", missing)
	}
	// Unsaved progress is below CHECKPOINT_EVERY messages plus the batch
	// being written (at most RECEIVER_QUEUE_SIZE); the interval only
	// shortens it.
	if dups > every+queue {
		t.Fatalf("%d duplicates, more than the checkpoint window %d", dups, every+queue)
	}
}
