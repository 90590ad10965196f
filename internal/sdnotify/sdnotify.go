// Package sdnotify is a minimal client for the systemd notification protocol
// (sd_notify(3)): it sends datagrams such as "READY=1" or "WATCHDOG=1" to the
// unix socket named by $NOTIFY_SOCKET. Outside systemd (no $NOTIFY_SOCKET) a
// Notifier is nil and every method is a no-op, so callers need no checks.
//
// Notifications are best-effort and never block the daemon: a datagram the
// socket cannot take at once (its reader is stuck and its receive queue is
// full: EAGAIN) is dropped and counted (Dropped). A stuck notify proxy then
// costs status updates, never progress or a SIGTERM ignored.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrDropped is returned (wrapped) by Notify when the datagram was dropped
// because the socket's queue is full.
var ErrDropped = errors.New("sdnotify: notification dropped, socket queue full")

// Notifier sends notifications to the service manager. A nil *Notifier is
// valid and does nothing. It is safe for concurrent use.
type Notifier struct {
	addr    *net.UnixAddr
	dropped atomic.Uint64
}

// New returns a Notifier for $NOTIFY_SOCKET, or nil when it is unset or not a
// unix socket path. A leading '@' names a Linux abstract socket.
func New() *Notifier {
	return newFromEnv(os.Getenv)
}

func newFromEnv(getenv func(string) string) *Notifier {
	path := getenv("NOTIFY_SOCKET")
	if path == "" || (path[0] != '/' && path[0] != '@') {
		// vsock:// and other transports are not supported.
		return nil
	}
	// net.UnixAddr maps a leading '@' to the abstract namespace itself.
	return &Notifier{addr: &net.UnixAddr{
		Name: path,
		Net:  "unixgram",
	}}
}

// Socket returns the notification socket address, or "" for a nil Notifier.
func (n *Notifier) Socket() string {
	if n == nil {
		return ""
	}
	return n.addr.Name
}

// Notify sends state, one or more newline-separated "KEY=VALUE" assignments,
// in a single datagram. Each call dials afresh, so a restarted socket listener
// affects only that call. It never blocks: when the socket's queue is full
// the datagram is dropped, counted, and an error wrapping ErrDropped returned.
func (n *Notifier) Notify(state string) error {
	if n == nil {
		return nil
	}

	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("dial notify socket: %w", err)
	}

	defer conn.Close()

	if err := sendNow(conn, []byte(state)); err != nil {
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ENOBUFS) {
			n.dropped.Add(1)
			return fmt.Errorf("send notification: %w", ErrDropped)
		}
		return fmt.Errorf("send notification: %w", err)
	}

	return nil
}

// sendNow writes b with one non-blocking send(2). conn.Write would park the
// goroutine in the poller until the socket drains, i.e. forever when the
// reader is stuck; here EAGAIN is returned instead.
func sendNow(conn *net.UnixConn, b []byte) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}

	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = syscall.Sendto(int(fd), b, syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, nil)
		return true // never wait for writability
	})

	if err != nil {
		return err
	}

	return serr
}

// Dropped returns how many notifications were dropped because the socket's
// queue was full; 0 for a nil Notifier. Export it as a counter metric.
func (n *Notifier) Dropped() uint64 {
	if n == nil {
		return 0
	}
	return n.dropped.Load()
}

// Ready tells the service manager that start-up is finished (READY=1).
func (n *Notifier) Ready() error { return n.Notify("READY=1") }

// Stopping tells the service manager that shutdown has begun (STOPPING=1).
func (n *Notifier) Stopping() error { return n.Notify("STOPPING=1") }

// Status sets the one-line status shown by `systemctl status`. Newlines in s
// are replaced by spaces so they cannot inject other assignments.
func (n *Notifier) Status(s string) error {
	return n.Notify("STATUS=" + strings.NewReplacer("\n", " ", "\r", " ").Replace(s))
}

// Watchdog pings the service manager's watchdog (WATCHDOG=1). Call it from
// the loop whose progress it vouches for, at the period WatchdogInterval
// returns.
func (n *Notifier) Watchdog() error { return n.Notify("WATCHDOG=1") }

// WatchdogInterval reports how often to call Watchdog: half of $WATCHDOG_USEC,
// as sd_watchdog_enabled(3) recommends. ok is false when the watchdog is not
// enabled for this process ($WATCHDOG_USEC unset or invalid, or $WATCHDOG_PID
// set to another process's PID).
func WatchdogInterval() (time.Duration, bool) {
	return watchdogInterval(os.Getenv, os.Getpid())
}

func watchdogInterval(getenv func(string) string, pid int) (time.Duration, bool) {
	usec, err := strconv.ParseUint(getenv("WATCHDOG_USEC"), 10, 63)
	if err != nil || usec == 0 {
		return 0, false
	}

	if p := getenv("WATCHDOG_PID"); p != "" {
		wpid, err := strconv.Atoi(p)
		if err != nil || wpid != pid {
			return 0, false
		}
	}

	d := time.Duration(usec) * time.Microsecond / 2
	if d <= 0 {
		return 0, false
	}

	return d, true
}
