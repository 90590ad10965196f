package consumer

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamd/streamd/internal/testutil"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()

	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestCorkSendsTheBatchInOneWrite: between cork and uncork nothing reaches
// the peer; uncork sends every frame whole and in order; uncorked writes go
// through at once.
func TestCorkSendsTheBatchInOneWrite(t *testing.T) {
	client, server := tcpPair(t)
	c := &corkConn{Conn: client}

	c.cork()
	for _, s := range []string{"ack1;", "ack2;", "ping;"} {
		if n, err := c.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("corked Write(%q) = %d, %v", s, n, err)
		}
	}

	_ = server.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	var one [1]byte
	if n, err := server.Read(one[:]); n != 0 || !isTimeout(err) {
		t.Fatalf("the peer read %d bytes (%v) before uncork", n, err)
	}

	if err := c.uncork(); err != nil {
		t.Fatalf("uncork: %v", err)
	}
	if _, err := c.Write([]byte("after;")); err != nil {
		t.Fatalf("uncorked Write: %v", err)
	}

	_ = server.SetReadDeadline(time.Now().Add(5 * time.Second))
	want := "ack1;ack2;ping;after;"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(server, got); err != nil || !bytes.Equal(got, []byte(want)) {
		t.Fatalf("peer read %q (%v), want %q", got, err, want)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestUncorkReportsTheWriteError: a batch written into a closed connection
// fails at uncork, so its acks are not counted as sent.
func TestUncorkReportsTheWriteError(t *testing.T) {
	client, _ := tcpPair(t)
	c := &corkConn{Conn: client}
	c.cork()
	if _, err := c.Write([]byte("ack;")); err != nil {
		t.Fatalf("corked Write: %v", err)
	}
	client.Close()
	if err := c.uncork(); err == nil {
		t.Fatal("uncork into a closed connection = nil, want an error")
	}
}

// TestCorkingLeavesForeignTransportsAlone: a transport streamd cannot wrap
// is left as it is (no corking), and an *http.Transport is cloned, never
// modified in place.
func TestCorkingLeavesForeignTransportsAlone(t *testing.T) {
	foreign := roundTripper(func(*http.Request) (*http.Response, error) { return nil, errors.New("unused") })
	c := &http.Client{Transport: foreign}
	if last := corking(c); last() != nil {
		t.Error("a foreign transport gave a corkConn")
	}

	base := http.DefaultTransport.(*http.Transport).Clone()
	c = &http.Client{Transport: base}
	corking(c)
	if c.Transport == base {
		t.Error("corking modified the caller's *http.Transport in place")
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestCorkNeverHoldsOtherWriters: while uncork is blocked on a peer that
// does not read, a ping (or TLS's close_notify) is queued and returns at
// once, and Close returns at once and fails the blocked uncork. A lock held
// across the write would keep the ping from timing out on its own deadline
// and hold the close for seconds.
func TestCorkNeverHoldsOtherWriters(t *testing.T) {
	client, peer := net.Pipe() // synchronous: a write blocks until the peer reads
	defer peer.Close()
	c := &corkConn{Conn: client}

	c.cork()
	if _, err := c.Write([]byte("acks")); err != nil {
		t.Fatal(err)
	}
	uncorked := make(chan error, 1)
	go func() { uncorked <- c.uncork() }()

	waitFlushing(t, c)
	returned := make(chan error, 1)
	go func() {
		_, err := c.Write([]byte("ping"))
		returned <- err
	}()
	select {
	case err := <-returned:
		if err != nil {
			t.Fatalf("Write during a blocked uncork: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Write waited for the blocked uncork")
	}

	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for the blocked uncork")
	}
	if err := <-uncorked; err == nil {
		t.Fatal("uncork after Close = nil, want an error")
	}
}

// waitFlushing waits until uncork is inside its write.
func waitFlushing(t *testing.T, c *corkConn) {
	t.Helper()
	testutil.WaitFor(t, 5*time.Second, "uncork writing", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.flushing
	})
}

// TestCloseSendsWhatIsQueued: a close reply written between cork and
// uncork (the peer closed meanwhile) still reaches the peer with the acks
// before it when the connection is closed; the acks count as failed.
func TestCloseSendsWhatIsQueued(t *testing.T) {
	client, server := tcpPair(t)
	c := &corkConn{Conn: client}
	c.cork()
	for _, s := range []string{"ack;", "close;"} {
		if _, err := c.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.uncork(); !errors.Is(err, errCorkClosed) {
		t.Fatalf("uncork after Close = %v, want errCorkClosed", err)
	}

	_ = server.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(server)
	if err != nil || string(got) != "ack;close;" {
		t.Fatalf("peer read %q (%v), want the queued frames", got, err)
	}
}

// TestCorkingKeepsALegacyDialHook: a transport with only the deprecated
// Dial hook keeps dialing through it, as net/http would.
func TestCorkingKeepsALegacyDialHook(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()

	var dials atomic.Int32
	tr := &http.Transport{}
	//lint:ignore SA1019 the deprecated hook is what this test is about
	tr.Dial = func(network, addr string) (net.Conn, error) {
		dials.Add(1)
		return net.Dial(network, addr)
	}
	c := &http.Client{Transport: tr}
	last := corking(c)
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c.CloseIdleConnections()
	if dials.Load() != 1 || last() == nil {
		t.Fatalf("legacy Dial called %d times, corkConn %v; want 1 and a corkConn", dials.Load(), last())
	}
}
