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
	kind      sessionKind
	topic     string // "persistent://tenant/ns/topic"
	prefix    string // "tenant/ns" (v1: "property/cluster/ns")
	tenant    string // tenant (v1: property)
	namespace string
	local     string // topic name within the namespace
	sub       string // consumer only
}

// httpError is a handshake failure, answered before any upgrade with
// status and msg as the body; reason, if set, is the detail logged instead
// of msg.
type httpError struct {
	status int
	msg    string
	reason string
}

var namePattern = regexp.MustCompile(`^[-=:.\w]+$`)

// parsePath parses the raw (still percent-encoded) request path per §1.3.
func parsePath(raw string) (target, *httpError) {
	segs := strings.Split(raw, "/")
	if len(segs) < 3 || segs[0] != "" || segs[1] != "ws" {
		return target{}, &httpError{
			status: http.StatusNotFound,
			msg:    "Not Found",
		}
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
		return target{}, &httpError{
			status: http.StatusNotFound,
			msg:    "Not Found",
		}
	}

	if len(segs) < 8 {
		return target{}, &httpError{
			status: http.StatusInternalServerError,
			msg:    "Invalid topic name",
		}
	}

	domain, names := segs[3], segs[4:7]
	if v2 {
		domain, names = segs[4], segs[5:7]
	}

	if domain != "persistent" && domain != "non-persistent" {
		return target{}, &httpError{
			status: http.StatusInternalServerError,
			msg:    "Invalid topic domain " + domain,
		}
	}

	for _, n := range names {
		if !namePattern.MatchString(n) {
			return target{}, &httpError{
				status: http.StatusInternalServerError,
				msg:    "Invalid topic name",
			}
		}
	}

	end := len(segs)
	if tg.kind == consumerKind {
		if len(segs) != 9 {
			return target{}, &httpError{
				status: http.StatusBadRequest,
				msg:    "Invalid query params: Invalid topic name format",
			}
		}

		sub, err := url.PathUnescape(segs[8])
		if err != nil || sub == "" {
			return target{}, &httpError{
				status: http.StatusBadRequest,
				msg:    "Invalid query params: Empty subscription name",
			}
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
		return target{}, &httpError{
			status: http.StatusInternalServerError,
			msg:    "Invalid topic name",
		}
	}

	tg.prefix = strings.Join(names, "/")
	tg.tenant, tg.namespace = names[0], names[len(names)-1]
	tg.local = local
	tg.topic = domain + "://" + tg.prefix + "/" + local
	return tg, nil
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
		s.logRefused(r, he)
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
		s.log.Warn("pulsartest: upgrade failed", "remote", r.RemoteAddr, "error", err)
		return
	}

	s.stats.Handshakes[http.StatusSwitchingProtocols]++
	s.stats.Connections++
	ss.conn = conn
	s.mu.Unlock()
	conn.SetReadLimit(MaxClientFrame)
	ss.logOpened()
	ss.run()
}

// admit runs the handshake checks and registers the new session.
func (s *Server) admit(r *http.Request, q url.Values) (*session, *httpError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastReq = RequestInfo{
		Path:     r.URL.Path,
		RawPath:  r.URL.EscapedPath(),
		RawQuery: r.URL.RawQuery,
		Query:    q,
		Header:   r.Header.Clone(),
	}

	if s.closed {
		return nil, &httpError{
			status: http.StatusServiceUnavailable,
			msg:    "Service unavailable",
		}
	}

	if s.rejN != 0 {
		if s.rejN > 0 {
			s.rejN--
		}
		return nil, &httpError{
			status: s.rejStatus,
			msg:    http.StatusText(s.rejStatus),
		}
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

	if he = s.authenticateLocked(r, q, tg.tenant); he != nil {
		return nil, he
	}

	if s.forbiddenLocked(tg) {
		return nil, &httpError{
			status: http.StatusForbidden,
			msg:    "Not authorized",
			reason: "forbidden topic",
		}
	}

	if tg.kind == readerKind {
		if p, he = parseParams(tg, q); he != nil {
			return nil, he
		}
	}

	if he = s.namespaceLocked(tg); he != nil {
		return nil, he
	}

	t := s.topicLocked(tg.topic)
	ctx, cancel := context.WithCancel(s.ctx)
	ss := &session{
		srv:        s,
		kind:       tg.kind,
		remote:     r.RemoteAddr,
		topic:      t,
		window:     p.window,
		pull:       p.pull,
		ctx:        ctx,
		cancel:     cancel,
		kickc:      make(chan struct{}, 1),
		ackTimeout: p.ackTimeout,
		nackDelay:  p.nackDelay,
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
				return nil, &httpError{
					status: http.StatusInternalServerError,
					msg:    "Failed to create reader: " + err.Error(),
				}
			}
			ss.cursor = t.after(k)
		}
	} else {
		key := subKey{tg.topic, tg.sub}
		sub := s.subs[key]
		if sub != nil && len(sub.consumers) > 0 && (p.typ == subExclusive || sub.typ != p.typ) {
			cancel()
			return nil, &httpError{
				status: http.StatusConflict,
				msg:    "Failed to create consumer: Exclusive consumer is already connected",
			}
		}

		if sub == nil {
			sub = &subscription{
				key:      key,
				topic:    t,
				durable:  p.durable,
				cursor:   t.next(),
				inflight: make(map[idKey]*delivery),
			}
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
