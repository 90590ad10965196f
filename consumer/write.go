package consumer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coder/websocket"
)

// write sends acks in order and, after a graceful stop, the normal close.
// Every ack write carries a deadline (PingInterval + PingTimeout), so a peer
// that stops reading cannot block it for good; pings run in their own
// goroutine (ping) so that a blocked ack cannot hold them back either.
// After a failure write keeps draining acks so the delivering goroutine
// never blocks.
func (s *session) write() {
	var buf []byte
	alive := true
	for b := range s.acks {
		buf, alive = s.writeAcks(buf, b, alive)
	}

	close(s.closing) // no more pings: the close handshake follows
	if alive && s.connCtx.Err() == nil {
		// Delivery finished (graceful stop or connection end): say
		// goodbye properly.
		_ = s.conn.Close(websocket.StatusNormalClosure, "")
	}
}

// writeAcks sends the acks of b while the connection is alive, then counts
// b's frames as released. It returns the reused buffer and whether the
// connection is still alive.
func (s *session) writeAcks(buf []byte, b ackBatch, alive bool) ([]byte, bool) {
	t := s.t
	for _, id := range b.ids {
		if !alive {
			break
		}
		buf = appendAck(buf[:0], id)
		ctx, cancel := context.WithTimeout(s.connCtx, t.cfg.PingInterval+t.cfg.PingTimeout)
		err := s.conn.Write(ctx, websocket.MessageText, buf)
		cancel()
		if err != nil {
			alive = false
			s.fail(t.red.wrap(fmt.Errorf("write ack: %w", err)))
		}
	}

	s.unack.Add(-int64(b.frames))
	t.opts.Metrics.Inflight(t.name, int(s.unack.Load()))
	if alive {
		// Counted once the acks are on the wire, not before, and only the
		// acks sent: a frame without an ackable id is not one.
		t.opts.Metrics.Acked(t.name, len(b.ids), b.published)
		t.acked.Add(int64(len(b.ids)))
		if len(b.ids) > 0 {
			t.progressed()
		}
	}
	return buf, alive
}

// ping checks every PingInterval that the peer answers within PingTimeout,
// until the connection ends or write starts the normal close. A ping that
// gets no answer in time, whatever holds it back (a peer that stopped
// reading leaves an ack write blocked, and the ping waits behind it), fails
// the session with errPingTimeout: a dead peer is noticed within
// PingInterval + PingTimeout.
func (s *session) ping(closing <-chan struct{}) {
	tick := time.NewTicker(s.t.cfg.PingInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.connCtx.Done():
			return
		case <-closing:
			return
		case <-tick.C:
		}

		paused := s.budget.paused()
		ctx, cancel := context.WithTimeout(s.connCtx, s.t.cfg.PingTimeout)
		err := s.conn.Ping(ctx)
		cancel()
		select {
		case <-closing:
			return // the close handshake, not the peer, ended the ping
		default:
		}
		if now := s.budget.paused(); now != paused || now%2 == 1 {
			// The reader was parked by the byte budget, not reading
			// the pong: the sinks are slow, the peer is not to blame.
			continue
		}
		if err != nil && s.connCtx.Err() == nil {
			s.fail(fmt.Errorf("ping after %s: %w", s.t.cfg.PingTimeout, errPingTimeout))
			return
		}
		if err == nil {
			s.t.progressed()
		}
	}
}

// appendAck renders {"messageId":"<id>"} with the id byte-for-byte.
func appendAck(dst []byte, id string) []byte {
	if bytes.ContainsAny([]byte(id), "\"\\") || !isPrintableASCII(id) {
		b, _ := json.Marshal(struct {
			MessageID string `json:"messageId"`
		}{id})
		return append(dst, b...)
	}
	dst = append(dst, `{"messageId":"`...)
	dst = append(dst, id...)
	return append(dst, `"}`...)
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
