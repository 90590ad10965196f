package pulsartest

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

type sessionKind int

const (
	readerKind sessionKind = iota
	consumerKind
)

// session is one open WebSocket. Its handler goroutine runs the write side
// (delivery, replies, closes) and processes client commands in order; a
// second goroutine only reads frames into the inbox.
type session struct {
	srv    *Server
	kind   sessionKind
	topic  *topic
	sub    *subscription // consumer only
	window int
	pull   bool
	conn   *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	kickc  chan struct{}

	// guarded by srv.mu
	pending    int
	permits    int
	cursor     int64 // reader only
	injected   [][]byte
	detached   bool
	stall      chan struct{} // non-nil while stalled; closed on resume
	ackTimeout time.Duration
	nackDelay  time.Duration

	end    end // how the session ended, for the log
	remote string
	opened time.Time

	inboxMu    sync.Mutex
	inbox      [][]byte
	lastActive atomic.Int64 // unix nanos of the last frame in either direction
}

func (ss *session) kick() {
	select {
	case ss.kickc <- struct{}{}:
	default:
	}
}

func (ss *session) touch() { ss.lastActive.Store(time.Now().UnixNano()) }

func (ss *session) hasRoom() bool {
	if ss.pull {
		return ss.permits > 0
	}
	return ss.pending < ss.window
}

func (ss *session) took() {
	if ss.pull {
		ss.permits--
	} else {
		ss.pending++
	}
}

// stalled returns the resume channel while the session is stalled.
func (ss *session) stalled() chan struct{} {
	ss.srv.mu.Lock()
	defer ss.srv.mu.Unlock()
	return ss.stall
}

// onPing counts a client ping and suppresses the pong while stalled.
func (ss *session) onPing(context.Context, []byte) bool {
	s := ss.srv
	s.mu.Lock()
	s.stats.Pings++
	stalled := ss.stall != nil
	s.mu.Unlock()
	if !stalled {
		ss.touch()
	}
	return !stalled
}

func (ss *session) onPong(context.Context, []byte) {
	ss.srv.mu.Lock()
	ss.srv.stats.Pongs++
	ss.srv.mu.Unlock()
	ss.touch()
}

// run serves the session until it ends, then detaches it.
func (ss *session) run() {
	s := ss.srv
	readDone := make(chan struct{})
	refused := false // a client command ended the session
	defer func() {
		ss.cancel()
		_ = ss.conn.CloseNow()
		<-readDone

		if !refused {
			// The proxy processes a client's frames in order up to its
			// close: acks that arrived before the end still count.
			for _, f := range ss.takeInbox() {
				if !ss.handle(f) {
					break
				}
			}
		}

		s.mu.Lock()
		s.detachLocked(ss)
		s.mu.Unlock()
		ss.logEnded()
	}()

	go func() {
		defer close(readDone)
		ss.readLoop()
	}()

	idle := s.cfg.IdleTimeout
	var idleTimer *time.Timer
	var idleC <-chan time.Time
	if idle > 0 {
		idleTimer = time.NewTimer(idle)
		defer idleTimer.Stop()
		idleC = idleTimer.C
	}

	ss.touch()

	for {
		if ch := ss.stalled(); ch != nil {
			select {
			case <-ch:
				ss.touch()
			case <-s.stopping:
				s.mu.Lock()
				ss.endedLocked(end{
					by:     "server",
					code:   websocket.StatusAbnormalClosure,
					reason: "shutdown while stalled: dropped",
				})
				s.mu.Unlock()
				return
			case <-ss.ctx.Done():
				return
			}
		}

		for _, f := range ss.takeInbox() {
			if !ss.handle(f) {
				refused = true
				return
			}
		}

		for {
			s.mu.Lock()
			f := s.nextLocked(ss)
			s.mu.Unlock()

			if f == nil {
				break
			}

			s.delivering(f)

			if !ss.write(f) {
				return
			}
		}

		select {
		case <-ss.kickc:
		case <-idleC:
			// A stall ends with touch, so a stalled session never idles out.
			if left := idle - time.Duration(time.Now().UnixNano()-ss.lastActive.Load()); left > 0 {
				idleTimer.Reset(left)
				continue
			}

			// The proxy drops the consumer when the idle timeout fires, not
			// after a close handshake a dead peer never answers.
			s.mu.Lock()
			s.detachLocked(ss)
			s.mu.Unlock()
			ss.close(websocket.StatusGoingAway, "Idle timeout")

			return
		case <-s.stopping:
			ss.close(websocket.StatusGoingAway, "Server shutting down")
			return
		case <-ss.ctx.Done():
			return
		}
	}
}

func (ss *session) readLoop() {
	s := ss.srv
	for {
		typ, data, err := ss.conn.Read(ss.ctx)
		if err != nil {
			ss.clientEnded(err)

			if errors.Is(err, websocket.ErrMessageTooBig) {
				s.mu.Lock()
				s.stats.Closes[websocket.StatusMessageTooBig]++
				s.mu.Unlock()
			}

			ss.cancel()

			return
		}

		s.mu.Lock()
		stalled := ss.stall != nil

		if typ == websocket.MessageBinary {
			s.stats.BinaryFrames++
		} else {
			s.stats.TextFrames++
		}

		s.mu.Unlock()

		if !stalled {
			ss.touch()
		}

		if typ != websocket.MessageText {
			continue
		}

		s.clientFrame(data)
		ss.inboxMu.Lock()
		ss.inbox = append(ss.inbox, data)
		ss.inboxMu.Unlock()
		ss.kick()
	}
}

func (ss *session) takeInbox() [][]byte {
	ss.inboxMu.Lock()
	defer ss.inboxMu.Unlock()
	in := ss.inbox
	ss.inbox = nil
	return in
}

func (ss *session) write(f []byte) bool {
	if err := ss.conn.Write(ss.ctx, websocket.MessageText, f); err != nil {
		ss.srv.log.Debug("pulsartest: write failed", "error", err)
		return false
	}
	ss.touch()
	return true
}

// close ends the session with a close frame carrying code.
func (ss *session) close(code websocket.StatusCode, reason string) {
	ss.srv.mu.Lock()
	ss.srv.stats.Closes[code]++
	ss.endedLocked(end{
		by:     "server",
		code:   code,
		reason: reason,
	})
	ss.srv.mu.Unlock()
	_ = ss.conn.Close(code, reason)
}

// command is a client→server frame (§4.1).
type command struct {
	Type           string  `json:"type"`
	MessageID      *string `json:"messageId"`
	PermitMessages *int32  `json:"permitMessages"`
}

var endOfTopicReply = []byte(`{"endOfTopic":false}`)

// handle processes one client text frame; false ends the session.
func (ss *session) handle(f []byte) bool {
	s := ss.srv
	var cmd command
	err := json.Unmarshal(f, &cmd)
	if ss.kind == readerKind {
		return ss.handleReader(cmd, err)
	}

	if err != nil {
		ss.close(s.cfg.CommandErrorClose, "Failed to de-serialize from JSON")
		return false
	}

	switch cmd.Type {
	case "isEndOfTopic":
		return ss.write(endOfTopicReply)
	case "permit":
		if cmd.PermitMessages == nil {
			ss.close(s.cfg.CommandErrorClose, "Failed to de-serialize from JSON")
			return false
		}

		s.mu.Lock()
		s.stats.Permits++

		if ss.pull {
			ss.permits += int(*cmd.PermitMessages)
		}

		s.mu.Unlock()

		return true
	case "unsubscribe":
		s.mu.Lock()
		sub := ss.sub
		ok := len(sub.consumers) <= 1
		if ok && !sub.deleted {
			sub.deleted = true
			sub.redeliver = nil
			if s.subs[sub.key] == sub {
				delete(s.subs, sub.key)
			}
		}

		s.mu.Unlock()

		if !ok {
			ss.close(s.cfg.CommandErrorClose, "Failed to unsubscribe")
		}

		return ok
	}

	if cmd.MessageID == nil {
		ss.close(websocket.StatusInternalError, "missing messageId")
		return false
	}

	k, err := decodeID(*cmd.MessageID)
	if err != nil {
		ss.close(websocket.StatusInternalError, "invalid messageId")
		return false
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	if !ss.pull {
		ss.pending--
	}

	if cmd.Type == "negativeAcknowledge" {
		s.stats.NacksReceived++
		s.nackLocked(ss, k)
		return true
	}

	s.stats.AcksReceived++
	s.recordAckLocked(ss.sub.key, *cmd.MessageID)
	s.ackLocked(ss.sub, k)

	return true
}

// handleReader: every text frame but isEndOfTopic frees a window slot; the
// id is not examined. Malformed JSON still frees the slot, then closes.
func (ss *session) handleReader(cmd command, parseErr error) bool {
	s := ss.srv

	if parseErr == nil && cmd.Type == "isEndOfTopic" {
		return ss.write(endOfTopicReply)
	}

	s.mu.Lock()
	ss.pending--

	if parseErr == nil {
		s.stats.AcksReceived++
		if cmd.MessageID != nil {
			s.recordAckLocked(subKey{ss.topic.name, ""}, *cmd.MessageID)
		}
	}

	s.mu.Unlock()

	if parseErr != nil {
		ss.close(s.cfg.CommandErrorClose, "Failed to de-serialize from JSON")
		return false
	}

	return true
}

// cancelLocked ends the session's goroutines; callers hold srv.mu.
func (ss *session) cancelLocked() { ss.cancel() }
