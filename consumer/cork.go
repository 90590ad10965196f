package consumer

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// corkConn is the TCP connection under a session's WebSocket. Between cork
// and uncork it collects what the WebSocket writes and then sends it with
// one write(2): the acks of a batch leave in one system call instead of one
// each. The protocol needs one ack message per message (§4 of the protocol
// reference), not one write per ack; each frame stays whole and in order.
// Every write holds mu, so a frame written while corked (a ping) is queued
// behind the acks, never interleaved with them.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte
}

// maxCorkBuf bounds the buffer kept between batches.
const maxCorkBuf = 64 << 10

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// cork starts collecting writes. A nil *corkConn (a custom HTTP transport
// that streamd cannot wrap) does nothing: every frame is written at once.
func (c *corkConn) cork() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork sends what was collected since cork, and returns the write's error.
func (c *corkConn) uncork() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) == 0 {
		return nil
	}

	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > maxCorkBuf {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// corking makes client's transport wrap the connections it dials in a
// corkConn, and returns a function giving the last one. It leaves a
// transport it cannot wrap (not an *http.Transport) alone: the function
// then returns nil.
func corking(client *http.Client) func() *corkConn {
	tr, ok := client.Transport.(*http.Transport)
	if !ok {
		return func() *corkConn { return nil }
	}

	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}

	var mu sync.Mutex
	var last *corkConn
	tr = tr.Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}

		c := &corkConn{Conn: conn}
		mu.Lock()
		last = c
		mu.Unlock()
		return c, nil
	}
	client.Transport = tr

	return func() *corkConn {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}
