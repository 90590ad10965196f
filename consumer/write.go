package consumer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coder/websocket"
)

// write owns the socket's write side: acks in order, pings for dead-peer
// detection, and the normal close after a graceful stop. After a failure it
// keeps draining acks so the delivering goroutine never blocks.
func (s *session) write() {
	ping := time.NewTicker(s.t.cfg.PingInterval)
	defer ping.Stop()
	var buf []byte
	alive := true
	for {
		select {
		case b, ok := <-s.acks:
			if !ok {
				if alive && s.connCtx.Err() == nil {
					// Delivery finished (graceful stop or connection end):
					// say goodbye properly.
					_ = s.conn.Close(websocket.StatusNormalClosure, "")
				}
				return
			}
			buf, alive = s.writeAcks(buf, b, alive)
		case <-ping.C:
			if alive {
				alive = s.ping()
			}
		}
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
		if err := s.conn.Write(s.connCtx, websocket.MessageText, buf); err != nil {
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
	}
	return buf, alive
}

// ping checks that the peer answers within PingTimeout; it fails the session
// with errPingTimeout and returns false when it does not.
func (s *session) ping() bool {
	ctx, cancel := context.WithTimeout(s.connCtx, s.t.cfg.PingTimeout)
	err := s.conn.Ping(ctx)
	cancel()
	if err != nil && s.connCtx.Err() == nil {
		s.fail(fmt.Errorf("ping after %s: %w", s.t.cfg.PingTimeout, errPingTimeout))
		return false
	}
	return true
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
