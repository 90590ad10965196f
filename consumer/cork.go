package consumer

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// corkConn is the TCP connection under a session's WebSocket. Between cork
// and uncork it collects what the WebSocket writes and then sends it with
// one write(2): the acks of a batch leave in one system call instead of one
// each. The protocol needs one ack message per message (§4 of the protocol
// reference), not one write per ack; each frame stays whole and in order.
//
// No lock is held during a system call: while uncork writes (and perhaps
// blocks on a peer that stopped reading), other frames (a ping, a close
// reply, TLS's close_notify) are queued behind the batch and return at
// once, so a ping still times out on its own deadline and closing the
// connection is never held up. A failed write is sticky: every later write
// and uncork returns it.
type corkConn struct {
	net.Conn
	mu       sync.Mutex
	corked   bool   // between cork and uncork
	flushing bool   // uncork is writing; writes meanwhile go after its batch
	buf      []byte // queued writes
	spare    []byte // the other buffer, reused
	err      error  // the first failed write, or errCorkClosed
}

// maxCorkBuf bounds the buffers kept between batches.
const maxCorkBuf = 64 << 10

// errCorkClosed fails the writes queued when the connection was closed:
// they may or may not have reached the peer.
var errCorkClosed = errors.New("consumer: connection closed with writes queued")

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	switch {
	case c.err != nil:
		err := c.err
		c.mu.Unlock()
		return 0, err
	case c.corked || c.flushing:
		c.buf = append(c.buf, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.mu.Unlock()

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

// uncork sends what was collected since cork, and whatever was queued
// while it wrote, and returns the first write error.
func (c *corkConn) uncork() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	for len(c.buf) > 0 && c.err == nil {
		out := c.buf
		c.buf, c.flushing = c.spare[:0], true
		c.mu.Unlock()
		_, err := c.Conn.Write(out)
		c.mu.Lock()
		c.flushing = false
		if cap(out) <= maxCorkBuf {
			c.spare = out[:0]
		}
		if err != nil && c.err == nil {
			c.err = err
		}
	}

	c.buf = c.buf[:0]
	return c.err
}

// Close sends what is queued while nothing else is writing (a close reply
// written between cork and uncork), within a short deadline, then closes the
// connection. Queued writes count as failed whether or not they left: an
// ack is only counted when uncork saw it written.
func (c *corkConn) Close() error {
	c.mu.Lock()
	out := c.buf
	send := len(out) > 0 && !c.flushing && c.err == nil
	c.buf = nil
	if c.err == nil {
		c.err = errCorkClosed
	}
	c.mu.Unlock()

	if send {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
		_, _ = c.Conn.Write(out)
	}

	return c.Conn.Close()
}

// closeFlushTimeout bounds Close's last write.
const closeFlushTimeout = 100 * time.Millisecond

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
	//lint:ignore SA1019 net/http uses a caller's deprecated Dial when DialContext is nil; so do we
	legacy := tr.Dial
	if dial == nil && legacy != nil {
		dial = func(_ context.Context, network, addr string) (net.Conn, error) { return legacy(network, addr) }
	}
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
