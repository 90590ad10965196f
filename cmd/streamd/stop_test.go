package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// pipeEnv is a consumer-mode daemon against emu whose only sink is stdout.
func pipeEnv(t *testing.T, emu *pulsartest.Server, kv ...string) env {
	return baseEnv(t).with(
		"STREAMD_TENANT", "acme", "STREAMD_API_KEY", testKey, "STREAMD_ENDPOINT", emu.URL(),
		"STREAMD_STATE_DIR", t.TempDir(), "STREAMD_START", "earliest", "STREAMD_MODE", "consumer",
		"STREAMD_SUBSCRIPTION", "streamd", "STREAMD_RECEIVER_QUEUE_SIZE", "50",
		"STREAMD_SINKS", "stdout", "STREAMD_LOG_LEVEL", "info",
	).with(kv...)
}

// publishBig publishes n events of about 1 KiB each: far more than a pipe
// holds.
func publishBig(emu *pulsartest.Server, n int) {
	pad := strings.Repeat("x", 1000)
	for i := range n {
		emu.Publish(streamTopic, fmt.Appendf(nil, `{"Interaction":{"event":"InteractionCreated","seq":%d,"pad":%q}}`, i, pad))
	}
}

// blockedOnStdout reports whether a thread of pid is in write(2) on fd 1,
// as /proc/PID/task/TID/syscall shows: "<number> 0x1 ...".
func blockedOnStdout(t *testing.T, pid int) bool {
	return blockedInWrite(t, pid, fmt.Sprintf("%d 0x1 ", unix.SYS_WRITE))
}

// blockedInWrite reports whether a thread of pid is in the system call
// that /proc/PID/task/TID/syscall shows starting with want.
func blockedInWrite(t *testing.T, pid int, want string) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		if err == nil && strings.HasPrefix(string(b), want) {
			return true
		}
	}
	return false
}

// lineIDs returns the message ids of the complete envelope lines in data.
func lineIDs(t *testing.T, data []byte) map[string]bool {
	ids := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e envelope
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.MessageID != "" {
			ids[e.MessageID] = true
		}
	}
	return ids
}

// TestStopWithStdoutBlocked is `streamd run | sleep 100`: stdout's reader
// never reads, the stdout sink blocks in write(2), and yet the shutdown
// deadline, or a second SIGTERM, ends the process within a bounded grace
// with exit 1, and every acked event is in the pipe.
func TestStopWithStdoutBlocked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		timeout string
		second  bool
	}{
		{"deadline", "500ms", false},
		{"second signal", "1m", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu := pulsartest.Start(t, pulsartest.Config{})
			publishBig(emu, 1000)
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			p := startTo(t, pipeEnv(t, emu, "STREAMD_SHUTDOWN_TIMEOUT", tc.timeout), w, "run")
			_ = w.Close()
			testutil.WaitFor(t, 20*time.Second, "a write(2) to stdout that blocks", func() bool { return blockedOnStdout(t, p.cmd.Process.Pid) || p.exited() })

			began := time.Now()
			p.signal(syscall.SIGTERM)
			if tc.second {
				p.waitLog(10*time.Second, "stopping: finishing in-flight events")
				p.signalAgain(syscall.SIGTERM)
			}
			code := p.wait(15 * time.Second)
			t.Logf("exit %d %v after SIGTERM", code, time.Since(began).Round(time.Millisecond))
			if code != exitFail {
				t.Fatalf("exit %d with a blocked stdout, want %d", code, exitFail)
			}

			ackedWereWritten(t, emu, r)
		})
	}
}

// TestStopWithFileBlocked: the file sink's write(2) never returns (here
// a FIFO whose reader never reads; on a hung NFS mount it is the same),
// and yet a second SIGTERM ends the process within a bounded grace, exit
// 1, and every acked event is in the FIFO.
func TestStopWithFileBlocked(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	publishBig(emu, 1000)
	fifo := filepath.Join(t.TempDir(), "events.jsonl")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := start(t, pipeEnv(t, emu, "STREAMD_SINKS", "file", "STREAMD_FILE_PATH", fifo, "STREAMD_SHUTDOWN_TIMEOUT", "1m"), "run")
	testutil.WaitFor(t, 20*time.Second, "a write(2) that blocks", func() bool {
		return blockedInWrite(t, p.cmd.Process.Pid, fmt.Sprintf("%d ", unix.SYS_WRITE)) || p.exited()
	})

	began := time.Now()
	p.signal(syscall.SIGTERM)
	p.waitLog(10*time.Second, "stopping: finishing in-flight events")
	p.signalAgain(syscall.SIGTERM)
	code := p.wait(15 * time.Second)
	t.Logf("exit %d %v after SIGTERM", code, time.Since(began).Round(time.Millisecond))
	if code != exitFail {
		t.Fatalf("exit %d with the file sink blocked, want %d", code, exitFail)
	}
	ackedWereWritten(t, emu, r)
}

// ackedWereWritten reads what the sink wrote into r, once the writer has
// exited, and checks that every acked event is there.
func ackedWereWritten(t *testing.T, emu *pulsartest.Server, r *os.File) {
	t.Helper()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	written := lineIDs(t, data)
	acked := emu.Acked(streamTopic, "streamd")
	for _, id := range acked {
		if !written[id] {
			t.Fatalf("acked %s, which the sink never wrote (%d acked, %d written)", id, len(acked), len(written))
		}
	}
	t.Logf("%d written, %d acked", len(written), len(acked))
}

// TestStopWithStdoutAndStderrBlocked is `streamd run 2>&1 | sleep 100`:
// the logs block too, so the main loop itself cannot act on a signal, and
// yet repeated SIGTERMs end the process within a bounded time, exit 1.
func TestStopWithStdoutAndStderrBlocked(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	publishBig(emu, 1000)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := startTo(t, pipeEnv(t, emu, "TEST_STDERR_TO_STDOUT", "1", "STREAMD_SHUTDOWN_TIMEOUT", "1m"), w, "run")
	_ = w.Close()
	testutil.WaitFor(t, 20*time.Second, "a write(2) to stdout that blocks", func() bool { return blockedOnStdout(t, p.cmd.Process.Pid) || p.exited() })

	// An operator pressing Ctrl-C again and again: signals sent at once
	// could merge into one.
	began := time.Now()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for !p.exited() && time.Since(began) < 15*time.Second {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		<-tick.C
	}
	if !p.exited() {
		// Not p.wait: SIGQUIT's goroutine dump would block on stderr too.
		t.Fatalf("still running %v after the first of repeated SIGTERMs", time.Since(began).Round(time.Millisecond))
	}
	code := p.wait(time.Second)
	t.Logf("exit %d %v after the first SIGTERM", code, time.Since(began).Round(time.Millisecond))
	if code != exitFail {
		t.Fatalf("exit %d with stdout and stderr blocked, want %d", code, exitFail)
	}
}

// TestStdoutClosed is `streamd run | head -1`: the reader goes away after
// one line. streamd logs that stdout closed and stops with exit 1 instead
// of dying of SIGPIPE, and it acks no more than the pipe can have taken.
func TestStdoutClosed(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	const total = 1000
	publishBig(emu, total)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := startTo(t, pipeEnv(t, emu), w, "run")
	_ = w.Close()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("first line: %v", err)
	}
	size, _ := unix.FcntlInt(r.Fd(), unix.F_GETPIPE_SZ, 0)
	_ = r.Close()

	code := p.wait(15 * time.Second)
	if code != exitFail {
		t.Fatalf("exit %d after stdout closed, want %d (-1: killed by SIGPIPE)", code, exitFail)
	}
	if !strings.Contains(p.stderr.String(), "stdout closed") {
		t.Errorf("no log line saying stdout closed:\n%s", tail(p.stderr.String(), 2000))
	}
	acked := emu.Acked(streamTopic, "streamd")
	if most := 1 + size/len(line) + 50; len(acked) > most {
		t.Errorf("%d acked; a reader that read one line lets at most %d through the pipe", len(acked), most)
	}
	if len(acked) == total {
		t.Errorf("all %d events acked although the reader read one line", total)
	}
	t.Logf("%d of %d acked", len(acked), total)
}

// TestReplayStdoutClosed: only the daemon turns SIGPIPE into a logged stop;
// `streamd replay | head -1` still ends at once, as one-shot commands do.
func TestReplayStdoutClosed(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	publishBig(emu, 1000)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := startTo(t, pipeEnv(t, emu, "STREAMD_MODE", "reader"), w, "replay", "-from", "earliest")
	_ = w.Close()
	if _, err := bufio.NewReader(r).ReadString('\n'); err != nil {
		t.Fatalf("first line: %v", err)
	}
	_ = r.Close()
	if code := p.wait(15 * time.Second); code == exitOK {
		t.Fatalf("replay exit 0 although stdout closed after one line")
	}
}
