package pulsartest

import (
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// end records how a session ended, for its log line.
type end struct {
	by     string // "server", "client", "dropped" or "network"
	code   websocket.StatusCode
	reason string
}

// ended records how ss ended unless an earlier cause is already recorded;
// callers hold srv.mu.
func (ss *session) endedLocked(e end) {
	if ss.end.by == "" {
		ss.end = e
	}
}

// clientEnded records the read error that ended ss: the client's close frame,
// or a lost connection.
func (ss *session) clientEnded(err error) {
	e := end{
		by:   "client",
		code: websocket.CloseStatus(err),
	}
	if e.code == -1 {
		e = end{
			by:     "network",
			code:   websocket.StatusAbnormalClosure,
			reason: err.Error(),
		}
		if errors.Is(err, websocket.ErrMessageTooBig) {
			e = end{
				by:     "server",
				code:   websocket.StatusMessageTooBig,
				reason: "client frame too big",
			}
		}
	} else {
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			e.reason = ce.Reason
		}
	}

	ss.srv.mu.Lock()
	ss.endedLocked(e)
	ss.srv.mu.Unlock()
}

// attrs are the log attributes naming ss.
func (ss *session) attrs() []any {
	a := []any{"kind", ss.kind.String(), "topic", ss.topic.name}
	if ss.sub != nil {
		a = append(a, "subscription", ss.sub.key.name)
	}
	return append(a, "remote", ss.remote)
}

// logOpened logs a successful upgrade.
func (ss *session) logOpened() {
	ss.opened = time.Now()
	ss.srv.log.Info("pulsartest: session opened", ss.attrs()...)
}

// logEnded logs who ended the session, with the close code and reason.
func (ss *session) logEnded() {
	ss.srv.mu.Lock()
	e := ss.end
	ss.srv.mu.Unlock()
	if e.by == "" {
		e.by = "server"
	}
	a := append(ss.attrs(), "closed_by", e.by, "code", int(e.code), "reason", e.reason,
		"duration", time.Since(ss.opened).Round(time.Millisecond).String())
	ss.srv.log.Info("pulsartest: session closed", a...)
}

// logRefused logs a refused handshake with its reason; the request's query
// and headers are not logged (they may carry the credential).
func (s *Server) logRefused(r *http.Request, he *httpError) {
	reason := he.reason
	if reason == "" {
		reason = he.msg
	}
	s.log.Warn("pulsartest: handshake refused", "status", he.status, "reason", reason,
		"path", r.URL.EscapedPath(), "remote", r.RemoteAddr)
}

func (k sessionKind) String() string {
	if k == consumerKind {
		return "consumer"
	}
	return "reader"
}
