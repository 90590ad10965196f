package nats

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/streamd/streamd/sink"
)

var _ sink.Sink = (*Sink)(nil)

// Defaults applied by Open to zero Config fields.
const (
	DefaultDuplicateWindow = 2 * time.Minute
	DefaultMaxInflight     = 256
	DefaultWriteTimeout    = 30 * time.Second
	DefaultReconnectWait   = time.Second
	DefaultAckTimeout      = 2 * time.Second
	DefaultMaxControlLine  = 4096
)

// ErrStreamSubjects is returned (wrapped) by Open and Write when the
// configured JetStream stream exists but its subjects do not cover the
// subjects this sink publishes to. The stream is never modified.
var ErrStreamSubjects = errors.New("nats: stream subjects do not cover the sink's subjects")

// Config configures a Sink. Only URL is required.
type Config struct {
	// URL is the server URL, or a comma-separated list of them.
	URL string
	// Subject is the subject template over {tenant} {namespace} {topic}
	// {type}. Default DefaultSubject ("8x8.{tenant}.{type}").
	Subject string

	// CredsFile is a NATS .creds file (user JWT + nkey seed).
	CredsFile string
	// NKeySeedFile is a file holding an nkey user seed.
	NKeySeedFile string
	// User and Password authenticate with a username and password.
	User, Password string
	// Token authenticates with a token.
	Token string

	// TLSCAFile is a PEM file of CAs to verify the server with.
	TLSCAFile string
	// TLSCertFile and TLSKeyFile are the client certificate and key; both or
	// neither must be set.
	TLSCertFile, TLSKeyFile string

	// JetStream publishes with JetStream and counts an event as accepted
	// only on its PubAck. Otherwise core NATS is used.
	JetStream bool
	// Stream, with JetStream, is a stream that must exist and cover the
	// subjects; it is created when missing and never changed when present.
	// Empty means streams are managed elsewhere.
	Stream string
	// DuplicateWindow is the duplicate window of a stream created by the
	// sink (default DefaultDuplicateWindow, 2m). See the package doc.
	DuplicateWindow time.Duration
	// MaxInflight bounds the JetStream publishes awaiting a PubAck across
	// all concurrent Writes (default DefaultMaxInflight, 256).
	MaxInflight int
	// WriteTimeout bounds a Write whose ctx has no deadline (default
	// DefaultWriteTimeout, 30s).
	WriteTimeout time.Duration
	// AckTimeout bounds every wait for one server answer within a Write: a
	// JetStream PubAck, and a JetStream API request (stream info, stream
	// create, account info). Default DefaultAckTimeout, 2s: a healthy
	// stream acks in milliseconds, and a late ack costs only a retry the
	// stream deduplicates. After a PubAck timeout the next Write asks the
	// server for the stream and recreates it when missing (Stream set).
	AckTimeout time.Duration
	// MaxControlLine is the server's max_control_line in bytes (default
	// DefaultMaxControlLine, 4096, nats-server's default). An event whose
	// subject would make the protocol line longer is rejected for good
	// before it is sent: the server would close the connection instead.
	MaxControlLine int
	// ReconnectWait is the pause between reconnect rounds (default
	// DefaultReconnectWait, 1s, plus up to 100ms jitter).
	ReconnectWait time.Duration
	// Name is the connection name shown by the server, e.g. "streamd".
	Name string
	// Instance names this replica (STREAMD_INSTANCE) in the
	// Streamd-Instance header of every message; empty sets no header.
	Instance string
	// Logger receives connection state changes; nil discards.
	Logger *slog.Logger
}

// Sink publishes events to NATS or JetStream. It is safe for concurrent
// use; Close is idempotent and Write returns sink.ErrClosed after it.
type Sink struct {
	cfg   Config
	tmpl  template
	log   *slog.Logger
	slots chan struct{} // JetStream in-flight window

	connMu sync.Mutex
	conn   *conn // replaced when the client library closed it for good

	lostMu sync.Mutex
	lost   chan struct{} // closed and replaced at every disconnect

	streamSem   chan struct{} // one stream check at a time; a token means free
	streamReady atomic.Bool

	closeOnce sync.Once
	isClosed  atomic.Bool
}

// Open connects to NATS and returns a Sink. It does not wait for a server:
// the connection retries forever in the background (Write fails meanwhile).
// With JetStream and Stream set, the stream is ensured now when a server is
// reachable, otherwise before the first successful Write.
func Open(ctx context.Context, cfg Config) (*Sink, error) {
	if cfg.URL == "" {
		return nil, errors.New("open nats sink: URL is empty")
	}

	tmpl, err := compileTemplate(cfg.Subject)
	if err != nil {
		return nil, sink.ConfigFailure(fmt.Errorf("open nats sink: %w", err))
	}

	cfg = withDefaults(cfg)
	s := &Sink{
		cfg:       cfg,
		tmpl:      tmpl,
		log:       cfg.Logger,
		lost:      make(chan struct{}),
		streamSem: make(chan struct{}, 1),
	}

	s.streamSem <- struct{}{}

	if cfg.JetStream {
		s.slots = make(chan struct{}, cfg.MaxInflight)
	}

	if _, err := s.options(nil); err != nil {
		return nil, sink.ConfigFailure(fmt.Errorf("open nats sink: %w", err))
	}

	if s.conn, err = s.dial(); err != nil {
		// The client retries an unreachable server in the background, so
		// what fails here is the configuration: an unreadable credentials,
		// nkey or TLS file, a malformed URL.
		return nil, sink.ConfigFailure(err)
	}

	if err := s.openStream(ctx); err != nil {
		s.conn.nc.Close()
		return nil, sink.ConfigFailure(err) // only unusable streams fail openStream
	}

	return s, nil
}

func withDefaults(cfg Config) Config {
	if cfg.DuplicateWindow <= 0 {
		cfg.DuplicateWindow = DefaultDuplicateWindow
	}

	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = DefaultMaxInflight
	}

	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}

	if cfg.ReconnectWait <= 0 {
		cfg.ReconnectWait = DefaultReconnectWait
	}

	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}

	if cfg.MaxControlLine <= 0 {
		cfg.MaxControlLine = DefaultMaxControlLine
	}

	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}

	return cfg
}

// Connect opens a connection to cfg's servers with the sink's credentials,
// TLS and reconnect settings (only URL, the credential and TLS fields,
// ReconnectWait, Name and Logger are used), for another user of the same
// servers such as the checkpoint store. Like Open it does not wait for a
// server: the connection retries forever in the background.
func Connect(cfg Config) (*natsgo.Conn, error) {
	if cfg.URL == "" {
		return nil, errors.New("connect nats: URL is empty")
	}

	cfg = withDefaults(cfg)
	s := &Sink{
		cfg:  cfg,
		log:  cfg.Logger,
		lost: make(chan struct{}),
	}
	opts, err := s.options(nil)
	if err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}

	nc, err := natsgo.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}

	return nc, nil
}

// options translates the config into connection options for c (nil: only
// validate).
func (s *Sink) options(conn *conn) ([]natsgo.Option, error) {
	c := s.cfg
	opts := []natsgo.Option{
		natsgo.Name(c.Name),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(c.ReconnectWait),
		natsgo.RetryOnFailedConnect(true),
		// Publishing while disconnected must fail, not sit in a buffer.
		natsgo.ReconnectBufSize(-1),
		// Keep retrying after auth errors: credentials may be fixed later.
		natsgo.IgnoreAuthErrorAbort(),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			s.disconnected()
			s.log.Warn("nats disconnected", "error", err)
		}),
		natsgo.ConnectHandler(func(nc *natsgo.Conn) {
			s.log.Info("nats connected", "server", nc.ConnectedUrlRedacted())
		}),
		natsgo.ReconnectHandler(func(nc *natsgo.Conn) {
			s.log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, _ *natsgo.Subscription, err error) {
			s.log.Warn("nats async error", "error", err)
		}),
	}

	if conn != nil {
		opts = append(opts, natsgo.ClosedHandler(func(*natsgo.Conn) { close(conn.closed) }))
	}

	if c.CredsFile != "" {
		opts = append(opts, natsgo.UserCredentials(c.CredsFile))
	}

	if c.NKeySeedFile != "" {
		o, err := natsgo.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("load nkey seed: %w", err)
		}
		opts = append(opts, o)
	}

	if c.User != "" || c.Password != "" {
		opts = append(opts, natsgo.UserInfo(c.User, c.Password))
	}

	if c.Token != "" {
		opts = append(opts, natsgo.Token(c.Token))
	}

	if c.TLSCAFile != "" {
		opts = append(opts, natsgo.RootCAs(c.TLSCAFile))
	}

	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return nil, errors.New("TLS client certificate and key must be set together")
	}

	if c.TLSCertFile != "" {
		opts = append(opts, natsgo.ClientCert(c.TLSCertFile, c.TLSKeyFile))
	}

	return opts, nil
}

// Ping checks that a server answers a round-trip and, with JetStream, that
// the account has JetStream enabled.
func (s *Sink) Ping(ctx context.Context) error {
	c, err := s.current()
	if err != nil {
		return err
	}

	ctx, cancel := s.bound(ctx)
	defer cancel()

	if !c.nc.IsConnected() {
		return notConnected(c, "ping nats")
	}

	if err := c.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("ping nats: %w", err)
	}

	if c.js != nil {
		actx, cancel := s.answerCtx(ctx)
		defer cancel()
		if _, err := c.js.AccountInfo(actx); err != nil {
			return fmt.Errorf("get jetstream account info: %w", err)
		}
	}

	return nil
}

// Close drains the connection, bounded by ctx, then closes it. Writes in
// progress fail. Close is idempotent.
func (s *Sink) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.connMu.Lock()
		s.isClosed.Store(true)
		c := s.conn
		s.connMu.Unlock()

		if err := c.nc.Drain(); err != nil {
			c.nc.Close()
		}

		select {
		case <-c.closed:
		case <-ctx.Done():
			c.nc.Close()
			<-c.closed
		}
	})

	return nil
}

// bound gives ctx the WriteTimeout deadline when it has none; FlushWithContext
// requires one and a PubAck may otherwise never come.
func (s *Sink) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.cfg.WriteTimeout)
}
