// Package pulsartest is an in-process emulator of 8x8's hosted Apache Pulsar
// WebSocket proxy. It serves the reader and consumer endpoints
// (/ws/v2/reader/persistent/{tenant}/{ns}/{topic} and
// /ws/v2/consumer/persistent/{tenant}/{ns}/{topic}/{subscription}, v1 paths
// too) over real sockets with the proxy's handshake outcomes, frame format,
// flow-control window, acks, nacks, durable consumer cursors and redelivery,
// plus fault knobs (dropped TCP, half-open stalls, rejected handshakes,
// malformed frames) for testing reconnect and de-duplication paths.
//
// The wire behaviour follows docs/pulsar-websocket-protocol.md §9. Tests use
// Start; `streamd demo`/`streamd emulate` use New + Serve and Produce.
package pulsartest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// DefaultIdleTimeout is the proxy's webSocketSessionIdleTimeoutMillis default.
const DefaultIdleTimeout = 300 * time.Second

// DefaultFailoverDelay is the broker's activeConsumerFailoverDelayTimeMillis
// default (apache/pulsar ServiceConfiguration).
const DefaultFailoverDelay = time.Second

// MaxClientFrame is the proxy's webSocketMaxTextFrameSize default: larger
// client messages close the session with 1009.
const MaxClientFrame = 1 << 20

// Config configures a Server. The zero value is usable.
type Config struct {
	// Keys are the accepted credentials, presented as 8x8 documents (8x8
	// event streaming §2.2, §2.3): an X-API-Key header or an x-api-key query
	// parameter for any key; "Authorization: Basic <token>" or a
	// token=Basic+<token> query parameter (read only when no Authorization
	// header is present) for Contact Center tokens (base64 of user:password)
	// only. Bearer and Basic with an eght_ key get 401. Empty accepts any
	// non-empty credential in those forms; a request without one gets 401.
	Keys []string
	// Tenants are the tenants the keys belong to; a handshake for another
	// tenant gets 401, as 8x8 answers a wrong tenant name (§2.4). Empty
	// accepts any tenant.
	Tenants []string
	// Namespaces are the namespaces that exist; a handshake for another gets
	// 500 like the proxy when it cannot create the reader or consumer. Nil
	// means DefaultNamespaces.
	Namespaces []string
	// Forbidden lists topics answered with 403, written as "ns/topic"
	// ("event-v1/InteractionCreated", "agent-v1/agX"), "tenant/ns/topic" or
	// "persistent://tenant/ns/topic".
	Forbidden []string
	// IdleTimeout closes a session (1001) after no frame in either direction,
	// pings and pongs included. Zero means DefaultIdleTimeout; negative
	// disables it. It is also how long the proxy keeps the consumer of a
	// client whose TCP connection died silently (no FIN/RST, e.g. a crashed
	// host or a dropped NAT entry): like Jetty's idle timeout it is the only
	// thing that notices, so until then a dead Failover consumer stays
	// attached and, if active, keeps the subscription (standbys get nothing).
	IdleTimeout time.Duration
	// FailoverDelay is the broker's activeConsumerFailoverDelayTimeMillis:
	// when the active consumer of a Failover subscription changes, delivery
	// pauses this long, then restarts from the first unacked message on the
	// new active consumer. Zero means no pause; Pulsar's default is
	// DefaultFailoverDelay.
	FailoverDelay time.Duration
	// RetainMessages bounds the messages kept per topic: a publish past it
	// drops the oldest. 0 keeps every message, which suits tests; a
	// long-running emulator (`streamd emulate`) must bound its memory with
	// this or RetainFor.
	//
	// Like a Pulsar namespace's retention policy (retentionSizeInMB,
	// retentionTimeInMinutes), except that a dropped message is gone even
	// for a subscription that has not acked it (as if the backlog quota
	// evicted it too). A reader starting at "earliest", or resuming after an
	// id that was dropped, starts at the oldest retained message; a durable
	// subscription whose cursor fell behind continues there too. Messages in
	// flight or queued for redelivery are still delivered.
	RetainMessages int
	// RetainFor drops, on each publish to a topic, its messages published
	// more than RetainFor before the publishing message (by Now). Zero
	// keeps messages of any age.
	RetainFor time.Duration
	// RetainAcks bounds the acks that Acked remembers per subscription (the
	// oldest are forgotten first); 0 remembers every ack.
	RetainAcks int
	// CommandErrorClose is the close code used when a client command cannot
	// be parsed (malformed JSON, permit without permitMessages). Zero means
	// websocket.StatusNoStatusRcvd (a close frame without a code, like
	// Jetty 12); websocket.StatusProtocolError mimics Jetty 9.4.
	CommandErrorClose websocket.StatusCode
	// Logger receives the emulator's logs: refused handshakes with the
	// reason (warn), sessions opened and closed with who closed them and why,
	// idle timeouts included (info), and details (debug). Credentials are
	// never logged. Nil discards.
	Logger *slog.Logger
	// Now is the publishTime clock; nil means time.Now.
	Now func() time.Time
}

// Server is the emulated proxy plus its in-memory broker. All methods are
// safe for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	ctx    context.Context // cancelled by Close: ends every session
	cancel context.CancelFunc
	wg     sync.WaitGroup // session goroutines

	mu         sync.Mutex
	closed     bool
	keys       map[string]bool
	tenants    map[string]bool
	namespaces map[string]bool
	stopping   chan struct{} // closed by Close: sessions send a close frame and end
	forbidden  map[string]bool
	topics     map[string]*topic
	subs       map[subKey]*subscription
	sessions   map[*session]struct{}
	sessChange chan struct{} // closed and replaced whenever sessions change
	timers     map[*time.Timer]struct{}
	nextLedger uint64
	rejStatus  int
	rejN       int
	nackDelay  time.Duration // <0: per session
	ackTimeout time.Duration // <0: per session
	stats      Stats
	acked      map[subKey][]string
	lastReq    RequestInfo
	url        string
	hooks      atomic.Pointer[BenchHooks] // see bench_hooks.go
}

// New returns a Server for cfg. Serve it with Serve, Start or Handler.
func New(cfg Config) *Server {
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}

	if cfg.CommandErrorClose == 0 {
		cfg.CommandErrorClose = websocket.StatusNoStatusRcvd
	}

	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}

	now := cfg.Now
	if now == nil {
		now = time.Now
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:        cfg,
		log:        log,
		now:        now,
		ctx:        ctx,
		cancel:     cancel,
		forbidden:  make(map[string]bool),
		topics:     make(map[string]*topic),
		subs:       make(map[subKey]*subscription),
		sessions:   make(map[*session]struct{}),
		sessChange: make(chan struct{}),
		stopping:   make(chan struct{}),
		timers:     make(map[*time.Timer]struct{}),
		nextLedger: firstLedger,
		nackDelay:  -1,
		ackTimeout: -1,
		stats: Stats{
			Handshakes: make(map[int]int),
			Closes:     make(map[websocket.StatusCode]int),
		},
		acked: make(map[subKey][]string),
	}

	s.setKeysLocked(cfg.Keys)
	s.tenants = setOf(cfg.Tenants)

	if cfg.Namespaces == nil {
		cfg.Namespaces = DefaultNamespaces
	}

	s.namespaces = setOf(cfg.Namespaces)
	for _, f := range cfg.Forbidden {
		s.forbidden[f] = true
	}

	return s
}

// Handler returns the proxy's HTTP handler, usable under any http.Server.
// Sessions it opens end on Close.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Serve serves the proxy on ln until ctx is done, then closes ln and the
// Server (see Close) and returns nil. It returns early with the listener's
// error if serving fails.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}

	s.Close()
	_ = hs.Close()

	if err == nil {
		err = <-errc
	}

	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}

	return fmt.Errorf("serve pulsar proxy: %w", err)
}

// TB is the part of testing.TB that Start uses; *testing.T and *testing.B
// satisfy it. Taking it instead of testing.TB keeps the testing package out
// of the daemon, which links this package for `streamd demo` and `emulate`.
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Start serves a new Server on a loopback listener for the duration of the
// test; URL reports its address. A failure to listen is fatal to tb.
func Start(tb TB, cfg Config) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}

	s := New(cfg)
	s.mu.Lock()
	s.url = "ws://" + ln.Addr().String()
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("pulsartest: %v", err)
		}
	})

	return s
}

// URL returns "ws://127.0.0.1:port" for a Server made by Start, else "".
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// ShutdownGrace bounds how long Close waits for clients to answer its close
// frames before it drops their connections.
const ShutdownGrace = 2 * time.Second

// Close shuts the proxy down like a server stop: it refuses further
// handshakes with 503, stops pending redelivery timers, sends every client a
// close frame with 1001 (going away, what Jetty sends on stop; 8x8 event
// streaming §6.3), waits up to ShutdownGrace for the sessions to end, drops
// the rest, and waits for session goroutines. Stalled sessions are dropped
// without a close frame. Calling it again is a no-op.
func (s *Server) Close() {
	s.mu.Lock()

	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}

	s.closed = true
	for t := range s.timers {
		t.Stop()
		delete(s.timers, t)
	}

	n := len(s.sessions)
	s.mu.Unlock()
	close(s.stopping)

	if n > 0 {
		s.log.Info("pulsartest: shutting down", "sessions", n)
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
		_ = s.WaitSessions(ctx, 0)
		cancel()
	}

	s.cancel()
	s.wg.Wait()
}

func setOf(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, v := range list {
		m[v] = true
	}
	return m
}
