package consumer_test

import (
	"net"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink/sinktest"
)

// TestPacedDeafPeerIsDeadPeer: a proxy that sends a frame every 20ms and
// never reads. With ordinary socket buffers the acks take minutes to fill
// them, so only the ping can tell: it gets no pong. Delivering a frame on
// the reading goroutine (da51ef0, reverted) counted as "the reader was not
// reading" and forgave every ping spanning one, so this dead peer was never
// replaced while it kept sending (no reconnect in 30s). The session must
// end within PingInterval + PingTimeout.
func TestPacedDeafPeerIsDeadPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &deafProxy{every: 20 * time.Millisecond}
	p.tcpServer = serveTCP(t, ln, p.serve)

	rec := &sinktest.Recorder{}
	opts, _ := newOptions(t, rec)
	cfg := consumer.Config{
		Endpoint:         "ws://" + p.Addr(),
		Tenant:           tenant,
		Topic:            "all",
		Mode:             consumer.ModeReader,
		Credential:       apiKey,
		HandshakeTimeout: 5 * time.Second,
		PingInterval:     300 * time.Millisecond,
		PingTimeout:      200 * time.Millisecond,
	}
	r := run(t, cfg, opts)

	testutil.WaitFor(t, wait, "the first session", func() bool { return p.handshakes.Load() >= 1 })
	if err := rec.WaitCount(testutil.Context(t, wait), 5); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	testutil.WaitFor(t, wait, "a reconnect after the dead peer", func() bool { return p.handshakes.Load() >= 2 })
	took := time.Since(start)
	t.Logf("reconnected %v after the 5th event (ping %v + timeout %v), %d events delivered",
		took.Round(time.Millisecond), cfg.PingInterval, cfg.PingTimeout, rec.Count())
	if bound := cfg.PingInterval + cfg.PingTimeout + 200*time.Millisecond + 2*time.Second; took > bound {
		t.Errorf("dead peer noticed %v after the 5th event, want within %v", took, bound)
	}
	if err := r.Abort(); err == nil {
		t.Error("Run after an abort = nil, want the abort's error")
	}
}
