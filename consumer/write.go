package consumer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coder/websocket"
)

// writeAcks sends the acks of b, one frame per id and all of them in one
// write(2) (see corkConn), unless the connection has failed, then counts
// b's frames as released. It runs on whichever goroutine delivered b, right
// after the sinks accepted it at now (the start of the ack writes for ping):
// handing the acks to a writing goroutine would cost a wake-up per batch. The writes take no context (a
// timer and a context.AfterFunc per write inside coder/websocket): the
// connection is closed when connCtx ends, and a peer that stops reading,
// which leaves a write blocked, is noticed by ping (see acking), which
// fails the session and so closes the connection under the write.
func (s *session) writeAcks(b ackBatch, now time.Time) {
	t := s.t
	alive := s.connCtx.Err() == nil
	s.acking.Store(now.UnixNano())
	s.cork.cork()
	for _, id := range b.ids {
		if !alive {
			break
		}

		s.ackBuf = appendAck(s.ackBuf[:0], id)
		if err := s.conn.Write(context.Background(), websocket.MessageText, s.ackBuf); err != nil {
			alive = false
			s.fail(t.red.Error(fmt.Errorf("write ack: %w", err)))
		}
	}

	if err := s.cork.uncork(); err != nil && alive {
		alive = false
		s.fail(t.red.Error(fmt.Errorf("write acks: %w", err)))
	}

	s.acking.Store(0)

	t.met.Inflight(int(s.unack.Add(-int64(b.frames))))

	if alive {
		// Counted once the acks are on the wire, not before, and only the
		// acks sent: a frame without an ackable id is not one.
		t.met.Acked(len(b.ids), b.published)
		t.acked.Add(int64(len(b.ids)))
		if len(b.ids) > 0 {
			t.progressed()
		}
	}
}

// ping checks every PingInterval that the peer answers within PingTimeout,
// until the connection ends or closing closes before the normal close. A ping that
// gets no answer in time, whatever holds it back (a peer that stopped
// reading leaves an ack write blocked, and the ping waits behind it), fails
// the session with errPingTimeout: a dead peer is noticed within
// PingInterval + PingTimeout.
func (s *session) ping(closing <-chan struct{}) {
	tick := time.NewTicker(s.t.cfg.PingInterval)
	defer tick.Stop()
	var standby bool
	for {
		select {
		case <-s.connCtx.Done():
			return
		case <-closing:
			return
		case <-tick.C:
		}

		standby = s.checkStandby(standby)
		paused := s.budget.paused()
		started := time.Now().UnixNano()
		ctx, cancel := context.WithTimeout(s.connCtx, s.t.cfg.PingTimeout)
		err := s.conn.Ping(ctx)
		cancel()

		select {
		case <-closing:
			return // the close handshake, not the peer, ended the ping
		default:
		}

		if since := s.acking.Load(); err != nil && since != 0 && since <= started && s.connCtx.Err() == nil {
			// An ack write blocked since before the ping, and the ping
			// waited behind it: the peer stopped reading.
			s.fail(fmt.Errorf("ping after %s behind a blocked ack write: %w", s.t.cfg.PingTimeout, errPingTimeout))
			return
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
