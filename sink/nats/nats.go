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
	"github.com/nats-io/nats.go/jetstream"

	"github.com/streamd/streamd/sink"
)

var _ sink.Sink = (*Sink)(nil)

// Defaults applied by Open to zero Config fields.
const (
	DefaultDuplicateWindow = 2 * time.Minute
	DefaultMaxInflight     = 256
	DefaultWriteTimeout    = 30 * time.Second
	DefaultReconnectWait   = time.Second
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
	// ReconnectWait is the pause between reconnect rounds (default
	// DefaultReconnectWait, 1s, plus up to 100ms jitter).
	ReconnectWait time.Duration
	// Name is the connection name shown by the server, e.g. "streamd".
	Name string
	// Logger receives connection state changes; nil discards.
	Logger *slog.Logger
}

// Sink publishes events to NATS or JetStream. It is safe for concurrent
// use; Close is idempotent and Write returns sink.ErrClosed after it.
type Sink struct {
	cfg    Config
	tmpl   template
	log    *slog.Logger
	nc     *natsgo.Conn
	js     jetstream.JetStream // nil for core NATS
	slots  chan struct{}       // JetStream in-flight window
	closed chan struct{}       // closed by the connection's ClosedHandler

	streamMu    sync.Mutex
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
		return nil, fmt.Errorf("open nats sink: %w", err)
	}
	cfg = withDefaults(cfg)
	s := &Sink{cfg: cfg, tmpl: tmpl, log: cfg.Logger, closed: make(chan struct{})}
	opts, err := s.options()
	if err != nil {
		return nil, fmt.Errorf("open nats sink: %w", err)
	}
	if s.nc, err = natsgo.Connect(cfg.URL, opts...); err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	if cfg.JetStream {
		if err := s.openJetStream(ctx); err != nil {
			s.nc.Close()
			return nil, err
		}
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
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return cfg
}

// options translates the config into connection options.
func (s *Sink) options() ([]natsgo.Option, error) {
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
		natsgo.ClosedHandler(func(*natsgo.Conn) { close(s.closed) }),
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
	if s.isClosed.Load() {
		return sink.ErrClosed
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if !s.nc.IsConnected() {
		return s.notConnected("ping nats")
	}
	if err := s.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("ping nats: %w", err)
	}
	if s.js != nil {
		if _, err := s.js.AccountInfo(ctx); err != nil {
			return fmt.Errorf("get jetstream account info: %w", err)
		}
	}
	return nil
}

// Close drains the connection, bounded by ctx, then closes it. Writes in
// progress fail. Close is idempotent.
func (s *Sink) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.isClosed.Store(true)
		if err := s.nc.Drain(); err != nil {
			s.nc.Close()
		}
		select {
		case <-s.closed:
		case <-ctx.Done():
			s.nc.Close()
			<-s.closed
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

// notConnected describes a connection that is down, with the last error.
func (s *Sink) notConnected(op string) error {
	if err := s.nc.LastError(); err != nil {
		return fmt.Errorf("%s: not connected (%s): %w", op, s.nc.Status(), err)
	}
	return fmt.Errorf("%s: not connected (%s)", op, s.nc.Status())
}
