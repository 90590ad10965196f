package consumer_test

import (
	"net"
	"sync"
	"testing"
)

// tcpServer runs handle(s, conn) for every connection accepted on ln until the test
// ends; the test's cleanup closes the listener and every tracked
// connection, then waits for the handlers.
type tcpServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func serveTCP(t *testing.T, ln net.Listener, handle func(s *tcpServer, c net.Conn)) *tcpServer {
	t.Helper()
	s := &tcpServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.track(c)
			s.wg.Add(1)
			go func() { defer s.wg.Done(); handle(s, c) }()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// track makes the cleanup close c too (a handler's outgoing connection).
func (s *tcpServer) track(c net.Conn) {
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
}

// Addr is the listening address, host:port.
func (s *tcpServer) Addr() string { return s.ln.Addr().String() }
