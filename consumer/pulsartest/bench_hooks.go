package pulsartest

// BenchHooks observe a Server's traffic for benchmarks (cmd/streamd-bench).
// They run on session goroutines, so they must be fast and safe for
// concurrent use. The frame slices must not be retained or modified.
type BenchHooks struct {
	// Delivering is called right before a message frame (delivery,
	// redelivery or injected frame) is written to a client.
	Delivering func(frame []byte)
	// ClientFrame is called when a client text frame (ack, nack, permit,
	// command) arrives, before it is processed.
	ClientFrame func(frame []byte)
}

// SetBenchHooks installs h; the zero BenchHooks removes them. Sessions
// opened before the call may miss it for frames already in progress.
func (s *Server) SetBenchHooks(h BenchHooks) { s.hooks.Store(&h) }

func (s *Server) delivering(f []byte) {
	if h := s.hooks.Load(); h != nil && h.Delivering != nil {
		h.Delivering(f)
	}
}

func (s *Server) clientFrame(f []byte) {
	if h := s.hooks.Load(); h != nil && h.ClientFrame != nil {
		h.ClientFrame(f)
	}
}
