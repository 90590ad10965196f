package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// binPath is the streamd binary built once by TestMain; most tests run it as
// a child process with an explicit environment, like systemd or a container.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "streamd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "streamd")
	args := []string{"build", "-o", binPath}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build streamd:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		_ = os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// env is a child's environment: nothing inherited but PATH, HOME and XDG
// directories in temp dirs, no metrics listener and JSON logs.
type env map[string]string

func baseEnv(t *testing.T) env {
	t.Helper()
	home := t.TempDir()
	return env{
		"PATH":               os.Getenv("PATH"),
		"HOME":               home,
		"TMPDIR":             home,
		"XDG_STATE_HOME":     filepath.Join(home, "state"),
		"XDG_CONFIG_HOME":    filepath.Join(home, "config"),
		"XDG_CACHE_HOME":     filepath.Join(home, "cache"),
		"STREAMD_HTTP_ADDR":  "",
		"STREAMD_LOG_FORMAT": "json",
		"STREAMD_LOG_LEVEL":  "debug",
		"GORACE":             "halt_on_error=1",
	}
}

// with returns a copy of e with kv ("NAME", "value", ...) applied.
func (e env) with(kv ...string) env {
	out := make(env, len(e)+len(kv)/2)
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func (e env) list() []string {
	out := make([]string, 0, len(e))
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

// proc is a running streamd child.
type proc struct {
	t              *testing.T
	cmd            *exec.Cmd
	stdout, stderr *testutil.SyncBuffer
	done           chan struct{}
	code           int
	signalled      time.Time // when signal last sent SIGTERM or SIGINT
}

func start(t *testing.T, e env, args ...string) *proc {
	t.Helper()
	return startTo(t, e, nil, args...)
}

// startTo starts streamd with its stdout on stdout, a real file such as a
// pipe, instead of a buffer; nil means the buffer. The caller closes its
// copy of stdout.
func startTo(t *testing.T, e env, stdout *os.File, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binPath, args...)
	p.cmd.Env = e.list()
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if stdout != nil {
		p.cmd.Stdout = stdout
	}
	if stdout != nil && e["TEST_STDERR_TO_STDOUT"] != "" {
		p.cmd.Stderr = stdout // `2>&1`
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start streamd: %v", err)
	}
	go func() {
		defer close(p.done)
		err := p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		if err != nil && p.code < 0 {
			p.code = -1 // killed by a signal
		}
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("streamd %v stderr:\n%s", args, tail(p.stderr.String(), 4000))
		}
	})
	return p
}

// run runs streamd to completion (at most 30s) and returns its exit status.
func run(t *testing.T, e env, args ...string) *proc {
	t.Helper()
	p := start(t, e, args...)
	p.wait(30 * time.Second)
	return p
}

func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if sig == syscall.SIGTERM || sig == syscall.SIGINT {
		p.signalled = time.Now()
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// signalAgain sends sig as a second stop request: once repeatWindow has
// passed since the last one, so that streamd does not take it for a copy
// of the first (the window is the behaviour under test, not a wait for
// streamd).
func (p *proc) signalAgain(sig os.Signal) {
	p.t.Helper()
	time.Sleep(time.Until(p.signalled.Add(repeatWindow)))
	p.signal(sig)
}

// wait waits for the exit and returns the status; it fails the test after d.
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(d):
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		<-p.done
		p.t.Fatalf("streamd did not exit within %v; stderr:\n%s", d, tail(p.stderr.String(), 8000))
		return 0
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitLog waits until the child logged a JSON line containing substr.
func (p *proc) waitLog(d time.Duration, substr string) {
	p.t.Helper()
	testutil.WaitFor(p.t, d, "log "+substr, func() bool {
		return strings.Contains(p.stderr.String(), substr) || p.exited()
	})
	if !strings.Contains(p.stderr.String(), substr) {
		p.t.Fatalf("streamd exited (%d) before logging %q", p.code, substr)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// settled waits until emu has ended every session. Call it after the daemon
// exited and before reading emu's acks, backlog or counters: the emulator
// processes what a client sent up to its close, and counts a handshake once
// the upgrade returned, so the daemon can exit before either is done.
func settled(t *testing.T, emu *pulsartest.Server) {
	t.Helper()
	if err := emu.WaitSessions(testutil.Context(t, 10*time.Second), 0); err != nil {
		t.Fatalf("the emulator kept a session of an exited daemon: %v", err)
	}
}
