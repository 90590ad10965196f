package sdnotify

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// listener plays the service manager: a unixgram socket with SO_PASSCRED so
// each datagram carries the sender's PID (what NotifyAccess=main checks).
type listener struct {
	t    *testing.T
	conn *net.UnixConn
}

func listen(t *testing.T, name string) *listener {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })
	// SyscallConn().Control keeps the socket non-blocking (l.File() would not).
	rc, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_PASSCRED, 1)
	}); err != nil || serr != nil {
		t.Fatalf("set SO_PASSCRED: %v %v", err, serr)
	}
	return &listener{t: t, conn: conn}
}

// recv returns the next datagram and the sender's PID, failing after 5 s.
func (l *listener) recv() (string, int) {
	l.t.Helper()
	buf := make([]byte, 4096)
	oob := make([]byte, syscall.CmsgSpace(syscall.SizeofUcred))
	if err := l.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		l.t.Fatal(err)
	}
	n, oobn, _, _, err := l.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		l.t.Fatalf("read notification: %v", err)
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		l.t.Fatalf("parse control message: %v (%d msgs)", err, len(msgs))
	}
	cred, err := syscall.ParseUnixCredentials(&msgs[0])
	if err != nil {
		l.t.Fatalf("parse credentials: %v", err)
	}
	return string(buf[:n]), int(cred.Pid)
}

func TestNotifyPathSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	l := listen(t, path)
	t.Setenv("NOTIFY_SOCKET", path)
	n := New()
	if n == nil || n.Socket() != path {
		t.Fatalf("New() = %v, want notifier for %s", n, path)
	}
	steps := []struct {
		send func() error
		want string
	}{
		{n.Ready, "READY=1"},
		{func() error { return n.Status("connected 1/1 topics\nREADY=1") }, "STATUS=connected 1/1 topics READY=1"},
		{n.Watchdog, "WATCHDOG=1"},
		{n.Stopping, "STOPPING=1"},
		{func() error { return n.Notify("ERRNO=5\nSTATUS=x") }, "ERRNO=5\nSTATUS=x"},
	}
	for _, s := range steps {
		if err := s.send(); err != nil {
			t.Fatalf("send %q: %v", s.want, err)
		}
		got, pid := l.recv()
		if got != s.want {
			t.Errorf("got %q, want %q", got, s.want)
		}
		if pid != os.Getpid() {
			t.Errorf("sender pid %d, want %d", pid, os.Getpid())
		}
	}
}

func TestNotifyAbstractSocket(t *testing.T) {
	name := "@streamd-sdnotify-test-" + filepath.Base(t.TempDir())
	l := listen(t, name)
	t.Setenv("NOTIFY_SOCKET", name)
	if err := New().Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if got, _ := l.recv(); got != "READY=1" {
		t.Errorf("got %q, want READY=1", got)
	}
}

func TestNotifyNoListener(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "absent.sock"))
	if err := New().Ready(); err == nil {
		t.Fatal("Ready with no listener: want error")
	}
}

func TestNilNotifier(t *testing.T) {
	for _, v := range []string{"", "relative.sock", "vsock:2:1234"} {
		t.Setenv("NOTIFY_SOCKET", v)
		n := New()
		if n != nil {
			t.Fatalf("NOTIFY_SOCKET=%q: New() = %v, want nil", v, n)
		}
		for _, f := range []func() error{n.Ready, n.Stopping, n.Watchdog, func() error { return n.Status("x") }} {
			if err := f(); err != nil {
				t.Errorf("nil notifier: %v", err)
			}
		}
		if n.Socket() != "" {
			t.Error("nil Socket() != \"\"")
		}
	}
}

func TestWatchdogInterval(t *testing.T) {
	const pid = 4242
	tests := []struct {
		usec, wpid string
		want       time.Duration
		ok         bool
	}{
		{"", "", 0, false},
		{"30000000", "", 15 * time.Second, true},
		{"30000000", "4242", 15 * time.Second, true},
		{"30000000", "1", 0, false},
		{"30000000", "x", 0, false},
		{"400000", "", 200 * time.Millisecond, true},
		{"0", "", 0, false},
		{"-5", "", 0, false},
		{"abc", "", 0, false},
		{"1", "", 500 * time.Nanosecond, true},
	}
	for _, tt := range tests {
		env := map[string]string{"WATCHDOG_USEC": tt.usec, "WATCHDOG_PID": tt.wpid}
		got, ok := watchdogInterval(func(k string) string { return env[k] }, pid)
		if got != tt.want || ok != tt.ok {
			t.Errorf("USEC=%q PID=%q: got %v %v, want %v %v", tt.usec, tt.wpid, got, ok, tt.want, tt.ok)
		}
	}
}

func TestWatchdogIntervalEnv(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "2000000")
	t.Setenv("WATCHDOG_PID", "")
	if d, ok := WatchdogInterval(); !ok || d != time.Second {
		t.Fatalf("WatchdogInterval() = %v %v, want 1s true", d, ok)
	}
}

// TestNotifyNeverBlocks sends to a socket whose reader never reads (an old
// container runtime's stuck notify proxy): the queue fills after a few
// datagrams, and every later send must be dropped and counted at once
// instead of blocking the caller.
func TestNotifyNeverBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	listen(t, path) // never read
	t.Setenv("NOTIFY_SOCKET", path)
	n := New()

	const sends = 1000
	done := make(chan int, 1)
	start := time.Now()
	go func() {
		failed := 0
		for range sends {
			if err := n.Status("connected 1/1 topics, waiting for events"); err != nil {
				failed++
			}
		}
		done <- failed
	}()
	var failed int
	select {
	case failed = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("notifications block on a socket nobody reads")
	}
	t.Logf("%d sends in %v, %d dropped", sends, time.Since(start), n.Dropped())
	if d := n.Dropped(); d == 0 || d != uint64(failed) {
		t.Errorf("Dropped() = %d, failed sends %d; want equal and > 0", d, failed)
	}
	if err := n.Watchdog(); !errors.Is(err, ErrDropped) {
		t.Errorf("Watchdog on a full queue = %v, want ErrDropped", err)
	}
}
