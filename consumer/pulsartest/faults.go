package pulsartest

import (
	"sync"
	"time"

	"github.com/coder/websocket"
)

// DropConnections abruptly closes the TCP connection of every session (no
// close frame, clients see 1006) and returns how many it dropped. Their
// subscriptions are released before it returns, so an immediate reconnect
// does not hit 409, and their unacked messages are queued for redelivery.
func (s *Server) DropConnections() int {
	s.mu.Lock()
	n := len(s.sessions)
	var conns []*websocket.Conn
	for ss := range s.sessions {
		ss.endedLocked(end{
			by:     "dropped",
			code:   websocket.StatusAbnormalClosure,
			reason: "DropConnections",
		})
		s.detachLocked(ss)
		ss.cancelLocked() // a session still upgrading ends right after its 101
		if ss.conn != nil {
			conns = append(conns, ss.conn)
		}
	}

	s.stats.Dropped += n
	s.mu.Unlock()

	for _, c := range conns {
		_ = c.CloseNow()
	}

	return n
}

// Stall makes every current session half-open: it stops writing, stops
// processing client frames and stops answering pings, while its TCP
// connection stays up; the idle timeout does not fire. New connections are
// accepted and served normally. A stalled consumer keeps its subscription
// (a new Exclusive consumer gets 409) until the client closes the
// connection or resume is called; frames received meanwhile are processed
// after resume.
func (s *Server) Stall() (resume func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	stalled := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		if ss.stall == nil {
			ss.stall = ch
			stalled = append(stalled, ss)
			ss.kick()
		}
	}

	s.stats.Stalls++
	s.mu.Unlock()

	return sync.OnceFunc(func() {
		s.mu.Lock()

		for _, ss := range stalled {
			if ss.stall == ch {
				ss.stall = nil
			}
		}

		s.mu.Unlock()
		close(ch)
	})
}

// RejectHandshakes makes the next n handshakes (n < 0: all until cleared
// with n = 0) fail with HTTP status (400-599, else 500) before any other
// check, e.g. 429, 500, 503, 504 for transient upgrade failures.
func (s *Server) RejectHandshakes(status, n int) {
	if status < 400 || status > 599 {
		status = 500
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejStatus, s.rejN = status, n
}

// SetKeys replaces the accepted credentials (see Config.Keys). Open
// sessions are not affected.
func (s *Server) SetKeys(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setKeysLocked(keys)
}

func (s *Server) setKeysLocked(keys []string) {
	s.keys = make(map[string]bool, len(keys))
	for _, k := range keys {
		s.keys[k] = true
	}
}

// SetForbidden replaces the topics answered with 403 (see Config.Forbidden).
func (s *Server) SetForbidden(topics ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbidden = make(map[string]bool, len(topics))
	for _, t := range topics {
		s.forbidden[t] = true
	}
}

// InjectFrame queues raw (sent verbatim as a text frame, possibly not even
// JSON) to every session currently attached to topic and returns how many
// sessions it reached. Each injected frame takes a window slot like a
// message; it is not retained or redelivered.
func (s *Server) InjectFrame(topic string, raw []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[fullTopic(topic)]
	if t == nil {
		return 0
	}
	for ss := range t.sessions {
		ss.injected = append(ss.injected, append([]byte(nil), raw...))
		ss.kick()
	}
	return len(t.sessions)
}

// SetNackDelay forces the negative-ack redelivery delay of every consumer
// (d >= 0), overriding negativeAckRedeliveryDelay; d < 0 restores the
// per-session value (default 60 s).
func (s *Server) SetNackDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nackDelay = d
}

// SetAckTimeout forces the ack timeout of consumers connecting from now on
// (d > 0 redelivers unacked messages after d without freeing window slots,
// d == 0 disables it), overriding ackTimeoutMillis; d < 0 restores the
// per-session value.
func (s *Server) SetAckTimeout(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ackTimeout = d
}

// Redeliver requeues every in-flight message of a consumer subscription of
// topic for immediate redelivery with redeliveryCount+1, as an ack timeout
// would: window slots are not freed, so clients see duplicates of frames
// they may already have processed. It returns how many it requeued.
func (s *Server) Redeliver(topic, subscription string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[subKey{fullTopic(topic), subscription}]
	if sub == nil {
		return 0
	}
	return s.requeueInflightLocked(sub, func(*delivery) bool { return true })
}
