package nats

import (
	"fmt"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/streamd/streamd/sink"
)

// conn is one client connection and its JetStream context.
type conn struct {
	nc     *natsgo.Conn
	js     jetstream.JetStream // nil for core NATS
	closed chan struct{}       // closed by the connection's ClosedHandler
}

// dial creates a connection (retried in the background until a server
// answers) and its JetStream context.
func (s *Sink) dial() (*conn, error) {
	c := &conn{closed: make(chan struct{})}
	opts, err := s.options(c)
	if err != nil {
		return nil, fmt.Errorf("open nats sink: %w", err)
	}

	if c.nc, err = natsgo.Connect(s.cfg.URL, opts...); err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}

	if s.cfg.JetStream {
		if c.js, err = s.newJetStream(c.nc); err != nil {
			c.nc.Close()
			return nil, err
		}
	}

	return c, nil
}

// current returns the connection to use. A connection the client library
// closed for good (CLOSED: after a protocol error from the server such as
// "Maximum Control Line Exceeded") is replaced by a new one, so the sink
// never stays dead.
func (s *Sink) current() (*conn, error) {
	s.connMu.Lock()
	defer s.connMu.Unlock()

	if s.isClosed.Load() {
		return nil, sink.ErrClosed
	}

	if !s.conn.nc.IsClosed() {
		return s.conn, nil
	}

	s.log.Warn("nats connection was closed; creating a new one", "error", s.conn.nc.LastError())
	c, err := s.dial()
	if err != nil {
		return nil, err
	}

	s.conn = c
	s.streamReady.Store(false)

	return c, nil
}

// lostCh returns a channel closed at the next disconnect.
func (s *Sink) lostCh() <-chan struct{} {
	s.lostMu.Lock()
	defer s.lostMu.Unlock()
	return s.lost
}

// disconnected wakes everything waiting for an answer on the lost
// connection: that answer will never come.
func (s *Sink) disconnected() {
	s.lostMu.Lock()
	defer s.lostMu.Unlock()
	close(s.lost)
	s.lost = make(chan struct{})
}

// notConnected describes a connection that is down, with the last error.
func notConnected(c *conn, op string) error {
	if err := c.nc.LastError(); err != nil {
		return fmt.Errorf("%s: not connected (%s): %w", op, c.nc.Status(), err)
	}
	return fmt.Errorf("%s: not connected (%s)", op, c.nc.Status())
}
