// Package relay is a loopback TCP relay for tests that need a connection to
// die silently: Blackhole makes the current connections drop every byte in
// both directions while both sockets stay open (no FIN, no RST), the way a
// crashed host, a pulled cable or an expired NAT entry looks to each side.
// Connections accepted later are forwarded normally.
package relay

import (
	"net"
	"sync"
	"testing"
)

// Relay forwards connections accepted on a loopback port to a target
// address. Its methods are safe for concurrent use.
type Relay struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []*pair
	wg    sync.WaitGroup
}

// pair is one relayed connection.
type pair struct {
	in, out net.Conn
	mu      sync.Mutex
	dead    bool
}

func (p *pair) silent() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dead
}

// Start relays to target ("host:port") until the test ends, when the
// listener and every connection are closed and the relay's goroutines are
// waited for.
func Start(tb testing.TB, target string) *Relay {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("relay: listen: %v", err)
	}
	r := &Relay{
		ln:     ln,
		target: target,
	}
	r.wg.Add(1)
	go r.accept()
	tb.Cleanup(r.close)
	return r
}

// Addr is the relay's "127.0.0.1:port".
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Blackhole silences every connection open now and returns how many.
func (r *Relay) Blackhole() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.conns {
		p.mu.Lock()
		p.dead = true
		p.mu.Unlock()
	}
	return len(r.conns)
}

func (r *Relay) accept() {
	defer r.wg.Done()

	for {
		in, err := r.ln.Accept()
		if err != nil {
			return
		}

		out, err := net.Dial("tcp", r.target)
		if err != nil {
			_ = in.Close()
			continue
		}

		p := &pair{
			in:  in,
			out: out,
		}
		r.mu.Lock()
		r.conns = append(r.conns, p)
		r.mu.Unlock()
		r.wg.Add(2)
		go r.pipe(p, in, out)
		go r.pipe(p, out, in)
	}
}

// pipe copies src to dst until either fails; a silenced pair keeps reading
// and drops what it reads.
func (r *Relay) pipe(p *pair, src, dst net.Conn) {
	defer r.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.silent() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}

		if err != nil {
			if !p.silent() {
				_ = dst.Close() // pass an orderly close on
			}
			return
		}
	}
}

func (r *Relay) close() {
	_ = r.ln.Close()
	r.mu.Lock()
	for _, p := range r.conns {
		_ = p.in.Close()
		_ = p.out.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
