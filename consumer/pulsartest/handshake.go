package pulsartest

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/coder/websocket"
)

// target is a parsed endpoint path.
type target struct {
	kind   sessionKind
	topic  string // "persistent://tenant/ns/topic"
	prefix string // "tenant/ns" (v1: "property/cluster/ns")
	local  string // topic name within the namespace
	sub    string // consumer only
}

// httpError is a handshake failure, answered before any upgrade.
type httpError struct {
	status int
	msg    string
}

var namePattern = regexp.MustCompile(`^[-=:.\w]+$`)

// parsePath parses the raw (still percent-encoded) request path per §1.3.
func parsePath(raw string) (target, *httpError) {
	segs := strings.Split(raw, "/")
	if len(segs) < 3 || segs[0] != "" || segs[1] != "ws" {
		return target{}, &httpError{http.StatusNotFound, "Not Found"}
	}
	v2 := segs[2] == "v2"
	mode := segs[2]
	if v2 && len(segs) > 3 {
		mode = segs[3]
	}
	var tg target
	switch mode {
	case "reader":
		tg.kind = readerKind
	case "consumer":
		tg.kind = consumerKind
	default:
		return target{}, &httpError{http.StatusNotFound, "Not Found"}
	}
	if len(segs) < 8 {
		return target{}, &httpError{http.StatusInternalServerError, "Invalid topic name"}
	}
	domain, names := segs[3], segs[4:7]
	if v2 {
		domain, names = segs[4], segs[5:7]
	}
	if domain != "persistent" && domain != "non-persistent" {
		return target{}, &httpError{http.StatusInternalServerError, "Invalid topic domain " + domain}
	}
	for _, n := range names {
		if !namePattern.MatchString(n) {
			return target{}, &httpError{http.StatusInternalServerError, "Invalid topic name"}
		}
	}
	end := len(segs)
	if tg.kind == consumerKind {
		if len(segs) != 9 {
			return target{}, &httpError{http.StatusBadRequest, "Invalid query params: Invalid topic name format"}
		}
		sub, err := url.PathUnescape(segs[8])
		if err != nil || sub == "" {
			return target{}, &httpError{http.StatusBadRequest, "Invalid query params: Empty subscription name"}
		}
		tg.sub = sub
		end = 8
	}
	var parts []string
	for _, p := range segs[7:end] {
		if p != "" {
			parts = append(parts, p)
		}
	}
	local, err := url.PathUnescape(strings.Join(parts, "/"))
	if err != nil || local == "" {
		return target{}, &httpError{http.StatusInternalServerError, "Invalid topic name"}
	}
	tg.prefix = strings.Join(names, "/")
	tg.local = local
	tg.topic = domain + "://" + tg.prefix + "/" + local
	return tg, nil
}

// authenticateLocked reports whether r carries a valid credential (§5.2, 8x8 §2).
func (s *Server) authenticateLocked(r *http.Request, q url.Values) bool {
	var cands []string
	if v := r.Header.Get("X-API-Key"); v != "" {
		cands = append(cands, v)
	}
	if v, _ := first(q, "x-api-key"); v != "" {
		cands = append(cands, v)
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		if t, _ := first(q, "token"); t != "" {
			auth = t
			if !strings.Contains(t, " ") {
				auth = "Bearer " + t
			}
		}
	}
	if scheme, cred, ok := strings.Cut(auth, " "); ok && cred != "" &&
		(strings.EqualFold(scheme, "Basic") || strings.EqualFold(scheme, "Bearer")) {
		cands = append(cands, cred)
	}
	for _, c := range cands {
		if len(s.keys) == 0 || s.keys[c] {
			return true
		}
	}
	return false
}

func (s *Server) forbiddenLocked(tg target) bool {
	_, short, _ := strings.Cut(tg.prefix, "/")
	return s.forbidden[tg.topic] || s.forbidden[tg.prefix+"/"+tg.local] || s.forbidden[short+"/"+tg.local]
}

// serveHTTP validates a handshake in the proxy's order and, when it
// succeeds, upgrades and runs the session.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	q, _ := url.ParseQuery(r.URL.RawQuery)
	ss, he := s.admit(r, q)
	if he != nil {
		s.mu.Lock()
		s.stats.Handshakes[he.status]++
		s.mu.Unlock()
		s.log.Debug("pulsartest: handshake refused", "path", r.URL.Path, "status", he.status, "reason", he.msg)
		http.Error(w, he.msg, he.status)
		return
	}
	defer s.wg.Done()
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true,
		OnPingReceived:     ss.onPing,
		OnPongReceived:     ss.onPong,
	})
	s.mu.Lock()
	if err != nil {
		ss.cancel()
		s.detachLocked(ss)
		s.mu.Unlock()
		s.log.Debug("pulsartest: upgrade failed", "err", err)
		return
	}
	s.stats.Handshakes[http.StatusSwitchingProtocols]++
	s.stats.Connections++
	ss.conn = conn
	s.mu.Unlock()
	conn.SetReadLimit(MaxClientFrame)
	ss.run()
}

// admit runs the handshake checks and registers the new session.
func (s *Server) admit(r *http.Request, q url.Values) (*session, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastReq = RequestInfo{
		Path: r.URL.Path, RawPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
		Query: q, Header: r.Header.Clone(),
	}
	if s.closed {
		return nil, &httpError{http.StatusServiceUnavailable, "Service unavailable"}
	}
	if s.rejN != 0 {
		if s.rejN > 0 {
			s.rejN--
		}
		return nil, &httpError{s.rejStatus, http.StatusText(s.rejStatus)}
	}
	tg, he := parsePath(r.URL.EscapedPath())
	if he != nil {
		return nil, he
	}
	var p params
	if tg.kind == consumerKind {
		if p, he = parseParams(tg, q); he != nil {
			return nil, he
		}
	}
	if !s.authenticateLocked(r, q) {
		return nil, &httpError{http.StatusUnauthorized, "Failed to authenticate"}
	}
	if s.forbiddenLocked(tg) {
		return nil, &httpError{http.StatusForbidden, "Not authorized"}
	}
	if tg.kind == readerKind {
		if p, he = parseParams(tg, q); he != nil {
			return nil, he
		}
	}
	t := s.topicLocked(tg.topic)
	ctx, cancel := context.WithCancel(s.ctx)
	ss := &session{
		srv: s, kind: tg.kind, topic: t, window: p.window, pull: p.pull,
		ctx: ctx, cancel: cancel, kickc: make(chan struct{}, 1),
		ackTimeout: p.ackTimeout, nackDelay: p.nackDelay,
	}
	if s.ackTimeout >= 0 {
		ss.ackTimeout = s.ackTimeout
	}
	if tg.kind == readerKind {
		switch p.startID {
		case "earliest":
			ss.cursor = t.base
		case "latest":
			ss.cursor = t.next()
		default:
			k, err := decodeID(p.startID)
			if err != nil {
				cancel()
				return nil, &httpError{http.StatusInternalServerError, "Failed to create reader: " + err.Error()}
			}
			ss.cursor = t.after(k)
		}
	} else {
		key := subKey{tg.topic, tg.sub}
		sub := s.subs[key]
		if sub != nil && len(sub.consumers) > 0 && (p.typ == subExclusive || sub.typ != p.typ) {
			cancel()
			return nil, &httpError{http.StatusConflict, "Failed to create consumer: Exclusive consumer is already connected"}
		}
		if sub == nil {
			sub = &subscription{key: key, topic: t, durable: p.durable, cursor: t.next(), inflight: make(map[idKey]*delivery)}
			if p.earliest {
				sub.cursor = t.base
			}
			s.subs[key] = sub
		}
		sub.typ, sub.maxRedeliver, sub.dlq = p.typ, p.maxRedel, p.dlq
		s.attachLocked(sub, ss, p.name, p.priority)
	}
	t.sessions[ss] = struct{}{}
	s.sessions[ss] = struct{}{}
	close(s.sessChange)
	s.sessChange = make(chan struct{})
	s.wg.Add(1) // done by serveHTTP; Add happens under mu before Close's Wait
	return ss, nil
}
