// Package natstest runs an embedded nats-server with JetStream on loopback,
// for tests and benchmarks. A Server can be stopped and started again on the
// same port with the same store, to simulate a NATS outage.
package natstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server is an embedded nats-server. Its methods are safe for concurrent use.
type Server struct {
	mu   sync.Mutex
	opts server.Options
	srv  *server.Server
}

// New starts a server with JetStream storing in storeDir on a random
// loopback port; modify, if not nil, adjusts the options (auth, TLS) first.
func New(storeDir string, modify func(*server.Options)) (*Server, error) {
	s := &Server{opts: server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  storeDir,
		NoLog:     true,
		NoSigs:    true,
	}}

	if modify != nil {
		modify(&s.opts)
	}

	if err := s.Start(); err != nil {
		return nil, err
	}

	s.mu.Lock()
	s.opts.Port = s.srv.Addr().(*net.TCPAddr).Port
	s.mu.Unlock()

	return s, nil
}

// Run is New for tests: a temporary store, a fatal error if the server does
// not start, and a shutdown at cleanup.
func Run(t testing.TB, modify func(*server.Options)) *Server {
	t.Helper()
	s, err := New(t.TempDir(), modify)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server again after Stop, on the same port with the same
// store. It does nothing if the server is running.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.srv != nil {
		return nil
	}

	opts := s.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		return fmt.Errorf("new nats server: %w", err)
	}

	go srv.Start()

	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return errors.New("start nats server: not ready after 10s")
	}

	s.srv = srv

	return nil
}

// Stop shuts the server down and waits for it; it is idempotent.
func (s *Server) Stop() {
	if srv := s.take(); srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// LameDuck shuts the server down the way a rolling upgrade does: lame-duck
// mode stops JetStream, tells clients, and closes their connections over
// the options' LameDuckDuration after LameDuckGracePeriod (set both short
// in modify). It returns when the server is down; Start brings it back.
func (s *Server) LameDuck() {
	if srv := s.take(); srv != nil {
		srv.LameDuckShutdown()
		srv.WaitForShutdown()
	}
}

// take returns the running server, nil if none, and forgets it.
func (s *Server) take() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	srv := s.srv
	s.srv = nil
	return srv
}

// Name is the server's name (options' ServerName; generated when unset).
func (s *Server) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.ServerName == "" && s.srv != nil {
		return s.srv.Name()
	}
	return s.opts.ServerName
}

// server returns the running server, or nil when stopped.
func (s *Server) server() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}

// HasClient reports whether a client connection named name is open on the
// server (false when it is stopped).
func (s *Server) HasClient(name string) bool {
	srv := s.server()
	if srv == nil {
		return false
	}

	cz, err := srv.Connz(&server.ConnzOptions{})
	if err != nil {
		return false
	}

	for _, c := range cz.Conns {
		if c.Name == name {
			return true
		}
	}

	return false
}

// URL is the server's client URL; it stays the same across Stop and Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("nats://127.0.0.1:%d", s.opts.Port)
}

// JetStream connects a test client to url (one URL or a comma list),
// reconnecting every 50ms forever, and returns its JetStream context; the
// connection closes at cleanup.
func JetStream(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}

// StreamHeader returns the value of header (for example Nats-Msg-Id) of
// every message stored in stream, in sequence order, failing the test if
// the stream cannot be read within 10 s.
func StreamHeader(t testing.TB, url, stream, header string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	str, err := JetStream(t, url).Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s info: %v", stream, err)
	}

	var values []string
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := str.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		values = append(values, m.Header.Get(header))
	}
	return values
}
