package relay_test

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streamd/streamd/internal/relay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo serves one line-echo server for the test.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, within time.Duration) (string, error) {
	_ = c.SetDeadline(time.Now().Add(within))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	return r.ReadString('\n')
}

// Blackhole silences open connections without closing them; a new
// connection is relayed normally.
func TestBlackholeSilencesOpenConnectionsOnly(t *testing.T) {
	r := relay.Start(t, echo(t))
	old, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	or := bufio.NewReader(old)
	if got, err := roundTrip(old, or, 5*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("before: %q %v", got, err)
	}
	if n := r.Blackhole(); n != 1 {
		t.Errorf("Blackhole silenced %d connections, want 1", n)
	}
	if _, err := roundTrip(old, or, 200*time.Millisecond); err == nil {
		t.Fatal("silenced connection still answered")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("silenced connection ended (%v) instead of going quiet", err)
	}
	fresh, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if got, err := roundTrip(fresh, bufio.NewReader(fresh), 5*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("new connection: %q %v", got, err)
	}
}
