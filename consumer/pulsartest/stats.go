package pulsartest

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"

	"github.com/coder/websocket"
)

// Stats are cumulative counters of a Server.
type Stats struct {
	Connections   int                          // successful upgrades
	Handshakes    map[int]int                  // HTTP status → count; 101 for upgrades
	Sessions      int                          // currently open
	Published     int                          // messages published (all topics)
	Delivered     int                          // message frames written, redeliveries included
	Redelivered   int                          // consumer redeliveries written
	Injected      int                          // InjectFrame frames written
	DeadLettered  int                          // messages moved to a DLQ topic
	AckTimeouts   int                          // in-flight messages requeued by an ack timeout
	AcksReceived  int                          // consumer acks and reader flow acks
	NacksReceived int                          // negativeAcknowledge commands
	Permits       int                          // permit commands
	TextFrames    int                          // client text frames
	BinaryFrames  int                          // client binary frames (ignored)
	Pings         int                          // client pings
	Pongs         int                          // client pongs
	Closes        map[websocket.StatusCode]int // server-initiated close frames by code
	Dropped       int                          // sessions dropped by DropConnections
	Stalls        int                          // Stall calls
	ActiveChanges int                          // Exclusive/Failover active consumer changes
	Retained      int                          // messages currently kept (all topics); see Config.RetainMessages
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Handshakes = maps.Clone(s.stats.Handshakes)
	st.Closes = maps.Clone(s.stats.Closes)
	st.Sessions = len(s.sessions)
	for _, t := range s.topics {
		st.Retained += len(t.msgs)
	}
	return st
}

// Acked returns the message ids acked on a consumer subscription of topic
// ("acme/event-v1/all" or its full name), exactly as the client sent them,
// in arrival order, duplicates included (only the last Config.RetainAcks
// of them when that is set). Subscription "" returns the flow acks of all
// readers of topic.
func (s *Server) Acked(topic, subscription string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.acked[subKey{fullTopic(topic), subscription}]...)
}

// recordAckLocked remembers id as acked on key, keeping the last
// Config.RetainAcks ids when that is set.
func (s *Server) recordAckLocked(key subKey, id string) {
	acked := append(s.acked[key], id)
	if r := s.cfg.RetainAcks; r > 0 && len(acked) > r {
		clear(acked[:len(acked)-r])
		acked = acked[len(acked)-r:]
	}
	s.acked[key] = acked
}

// Backlog returns how many messages of a consumer subscription are not yet
// acked: in flight, awaiting redelivery, or not yet delivered.
func (s *Server) Backlog(topic, subscription string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[subKey{fullTopic(topic), subscription}]
	if sub == nil {
		return 0
	}
	n := len(sub.inflight) + len(sub.redeliver)
	if rest := sub.topic.next() - max(sub.cursor, sub.topic.base); rest > 0 {
		n += int(rest)
	}
	return n
}

// Sessions returns the number of open sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// WaitSessions blocks until exactly n sessions are open or ctx is done.
func (s *Server) WaitSessions(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		got, ch := len(s.sessions), s.sessChange
		s.mu.Unlock()

		if got == n {
			return nil
		}

		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for %d sessions (have %d): %w", n, got, ctx.Err())
		}
	}
}

// RequestInfo describes a handshake request as the server received it.
type RequestInfo struct {
	Path     string     // decoded path
	RawPath  string     // path as sent, percent-escapes intact
	RawQuery string     // query as sent
	Query    url.Values // parsed query ('+' decoded as space)
	Header   http.Header
}

// LastRequest returns the most recent handshake request (zero if none).
func (s *Server) LastRequest() RequestInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.lastReq
	r.Header = r.Header.Clone()
	return r
}
