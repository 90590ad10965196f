package consumer

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
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
