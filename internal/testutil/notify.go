package testutil

import (
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Notification is one sd_notify datagram and when it arrived.
type Notification struct {
	Msg string
	At  time.Time
}

// NotifySocket plays systemd's side of sd_notify: a unixgram socket at Path
// (give it to the process as NOTIFY_SOCKET) that records every datagram.
type NotifySocket struct {
	Path string

	mu  sync.Mutex
	got []Notification
}

// ListenNotify opens a NotifySocket in a temporary directory; it is closed
// when the test ends.
func ListenNotify(tb testing.TB) *NotifySocket {
	tb.Helper()
	ns := &NotifySocket{Path: filepath.Join(tb.TempDir(), "notify.sock")}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: ns.Path, Net: "unixgram"})
	if err != nil {
		tb.Fatalf("listen %s: %v", ns.Path, err)
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}

			ns.mu.Lock()
			ns.got = append(ns.got, Notification{Msg: string(buf[:n]), At: time.Now()})
			ns.mu.Unlock()
		}
	}()
	tb.Cleanup(func() { conn.Close(); <-done })
	return ns
}

// All returns the datagrams received so far, oldest first.
func (ns *NotifySocket) All() []Notification {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return append([]Notification(nil), ns.got...)
}

// Msgs returns the text of the datagrams received so far.
func (ns *NotifySocket) Msgs() []string {
	var out []string
	for _, n := range ns.All() {
		out = append(out, n.Msg)
	}
	return out
}

// Count returns how many datagrams that arrived at or after since match.
func (ns *NotifySocket) Count(since time.Time, match func(msg string) bool) int {
	n := 0
	for _, x := range ns.All() {
		if !x.At.Before(since) && match(x.Msg) {
			n++
		}
	}
	return n
}
