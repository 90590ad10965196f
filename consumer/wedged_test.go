package consumer_test

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink/sinktest"
)

// deafProxy is a raw TCP server that completes the WebSocket handshake,
// then keeps sending message frames and never reads: a proxy (or a
// middlebox) that stopped reading. Its sockets have tiny receive buffers so
// that the client's writes block soon.
type deafProxy struct {
	*tcpServer
	handshakes atomic.Int64
	every      time.Duration // pace between frames; 0: as fast as the socket takes them
}

func startDeafProxy(t *testing.T) *deafProxy {
	t.Helper()
	lc := net.ListenConfig{Control: smallBuffer(syscall.SO_RCVBUF)}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &deafProxy{}
	p.tcpServer = serveTCP(t, ln, p.serve)
	return p
}

// smallBuffer sets a socket's buffer opt (SO_RCVBUF, SO_SNDBUF) to 4 KiB,
// which also turns off the kernel's autotuning of it.
func smallBuffer(opt int) func(_, _ string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}
}

// serve answers the upgrade, then writes message frames until the
// connection breaks, never reading again.
func (p *deafProxy) serve(_ *tcpServer, c net.Conn) {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\n"
	if _, err := c.Write([]byte(resp)); err != nil {
		return
	}
	p.handshakes.Add(1)

	payload := base64.StdEncoding.EncodeToString([]byte(`{"Interaction":{"event":"InteractionCreated"}}`))
	for entry := uint64(0); ; entry++ {
		msg := `{"messageId":"` + fakeID(entry) + `","payload":"` + payload + `","properties":{},"publishTime":"2025-01-01T00:00:00Z","redeliveryCount":0}`
		frame := append([]byte{0x81, 126, 0, 0}, msg...) // FIN + text, 16-bit length
		binary.BigEndian.PutUint16(frame[2:4], uint16(len(msg)))
		if _, err := c.Write(frame); err != nil {
			return
		}
		if p.every > 0 {
			time.Sleep(p.every) // pacing the feed, not synchronisation
		}
	}
}

// TestDeafPeerIsDeadPeer: a proxy that keeps sending but never reads fills
// the socket buffers until an ack write blocks. The ping must not wait
// behind that write for good: the session ends within PingInterval +
// PingTimeout of the block and the topic reconnects (and Progress stops
// moving while it is wedged).
func TestDeafPeerIsDeadPeer(t *testing.T) {
	p := startDeafProxy(t)
	rec := &sinktest.Recorder{}
	opts, _ := newOptions(t, rec)
	cfg := consumer.Config{
		Endpoint:         "ws://" + p.Addr(),
		Tenant:           tenant,
		Topic:            "all",
		Mode:             consumer.ModeReader,
		Credential:       apiKey,
		HandshakeTimeout: 5 * time.Second,
		// The acks block long before the first ping is due (today a
		// ping sent before the block already times out on a deaf peer).
		PingInterval: 2 * time.Second,
		PingTimeout:  300 * time.Millisecond,
	}
	// A small send buffer on streamd's side too, so that few acks block.
	d := &net.Dialer{Control: smallBuffer(syscall.SO_SNDBUF)}
	cfg.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	r := run(t, cfg, opts)

	testutil.WaitFor(t, wait, "the first session", func() bool { return p.handshakes.Load() >= 1 })
	// Wedged: the deaf peer blocked the ack writes, nothing moves.
	testutil.WaitFor(t, wait, "acks blocked by the deaf peer", func() bool {
		last := r.topic.Progress()
		return (!last.IsZero() && time.Since(last) > 50*time.Millisecond) || p.handshakes.Load() >= 2
	})
	last := r.topic.Progress()
	testutil.WaitFor(t, wait, "a reconnect after the dead peer", func() bool { return p.handshakes.Load() >= 2 })
	took := time.Since(last)
	t.Logf("reconnected %v after the session stopped moving (ping %v + timeout %v), %d events delivered",
		took.Round(time.Millisecond), cfg.PingInterval, cfg.PingTimeout, rec.Count())
	// PingInterval + PingTimeout, the reconnect backoff (at most 200ms) and
	// slack for a loaded machine.
	if bound := cfg.PingInterval + cfg.PingTimeout + 200*time.Millisecond + 2*time.Second; took > bound {
		t.Errorf("dead peer noticed %v after the block, want within %v", took, bound)
	}
	if err := r.Abort(); err == nil {
		t.Error("Run after an abort = nil, want the abort's error")
	}
}
