package consumer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/internal/checkpoint"
	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/metrics"
	"github.com/streamd/streamd/reconnect"
	"github.com/streamd/streamd/sink"
)

// DeadLetterWriter durably records messages that cannot be delivered.
type DeadLetterWriter interface {
	Write(ctx context.Context, r deadletter.Record) error
}

// Options are the collaborators of a Topic.
type Options struct {
	Sink       sink.Sink        // usually a *sink.Fanout
	DeadLetter DeadLetterWriter // required
	// Checkpoints persists reader positions; nil keeps them in memory only.
	Checkpoints        *checkpoint.Store
	CheckpointEvery    int           // save after this many messages (default 1000)
	CheckpointInterval time.Duration // or this much time (default 1s)
	// Start is where a reader without a checkpoint begins ("earliest",
	// "latest" or a message id), and where a new consumer subscription
	// begins ("earliest" or "latest").
	Start   string
	Policy  reconnect.Policy
	Metrics *metrics.Metrics
	Health  *health.State
	Logger  *slog.Logger
	// OnConnect is called after every successful handshake.
	OnConnect func()
}

// Topic is one supervised stream of a topic: it connects, delivers,
// reconnects with backoff forever, and (reader) resumes after the last
// message every sink accepted.
type Topic struct {
	cfg       Config
	opts      Options
	name      string
	fullTopic string
	log       *slog.Logger
	red       redactor
	tracker   *checkpoint.Tracker
	resume    string                 // checkpointed position loaded at start
	pos       atomic.Pointer[string] // reader: last id every sink accepted, kept in memory
	pending   atomic.Int64           // reader: frames delivered since the Tracker last heard
	advanced  chan struct{}          // wakes the checkpoint goroutine
	acked     atomic.Int64
	connected atomic.Bool
}

// ErrCheckpoint wraps a checkpoint that exists but cannot be trusted.
var ErrCheckpoint = errors.New("unusable checkpoint")

// NewTopic prepares a topic stream; Run starts it.
func NewTopic(cfg Config, opts Options) *Topic {
	cfg.defaults()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = 1000
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = time.Second
	}
	t := &Topic{cfg: cfg, opts: opts, name: cfg.Name(), fullTopic: cfg.FullTopic(), red: newRedactor(cfg.Credential)}
	t.log = opts.Logger.With("topic", t.name)
	return t
}

// Name returns "namespace/topic".
func (t *Topic) Name() string { return t.name }

// Acked returns how many messages this topic has acked since start.
func (t *Topic) Acked() int64 { return t.acked.Load() }

// Connected reports whether a session is currently up.
func (t *Topic) Connected() bool { return t.connected.Load() }

// Run streams until ctx is cancelled, then stops gracefully: in-flight events
// finish in the sinks and are acked and checkpointed, and the socket is
// closed normally. Cancelling hard abandons in-flight events unacked. Run
// returns nil after a graceful stop, an error wrapping ErrCheckpoint when the
// stored position is unusable, or hard's error.
func (t *Topic) Run(ctx, hard context.Context) error {
	if t.cfg.Mode == ModeReader && t.opts.Checkpoints != nil {
		key := t.cfg.Tenant + "/" + t.name
		id, ok, err := t.opts.Checkpoints.Load(key)
		if err != nil {
			return fmt.Errorf("load checkpoint of %s: %w: %w (move the file away to start from STREAMD_START)", t.name, ErrCheckpoint, err)
		}
		t.tracker = checkpoint.NewTracker(t.opts.Checkpoints, key, t.opts.CheckpointEvery, t.opts.CheckpointInterval,
			func(at time.Time) { t.opts.Metrics.Checkpointed(t.name, at) })
		if ok {
			t.log.Info("resuming after checkpoint", "messageId", id)
			t.resume = id
		}
	}
	sup := &reconnect.Supervisor{
		Policy:   t.opts.Policy,
		Classify: Classify,
		Reason:   Reason,
		Hint:     Hint,
		Logger:   t.log,
		OnRetry: func(_ reconnect.Class, reason string, _ int, _ time.Duration) {
			t.opts.Metrics.Reconnect(t.name, reason)
		},
	}
	var stopCheckpoints func()
	if t.tracker != nil {
		t.advanced = make(chan struct{}, 1)
		stop, done := make(chan struct{}), make(chan struct{})
		go t.checkpointLoop(stop, done)
		stopCheckpoints = func() { close(stop); <-done }
	}
	err := sup.Run(ctx, t.name, func(sctx context.Context) error { return t.session(sctx, hard) })
	if t.tracker != nil {
		stopCheckpoints()
		t.saveCheckpoint()
		if ferr := t.tracker.Flush(); ferr != nil {
			t.log.Error("cannot write final checkpoint", "err", ferr)
		}
	}
	if hard.Err() != nil {
		return hard.Err()
	}
	return err
}

// start is the position the next session begins at.
func (t *Topic) start() string {
	if t.cfg.Mode == ModeConsumer {
		return t.opts.Start
	}
	if p := t.pos.Load(); p != nil {
		return *p
	}
	if t.resume != "" {
		return t.resume
	}
	return t.opts.Start
}

// session runs one connection.
func (t *Topic) session(stop, hard context.Context) error {
	part := "topic " + t.name
	conn, err := t.dial(stop, t.start())
	if err != nil {
		var he *HandshakeError
		if errors.As(err, &he) {
			t.opts.Metrics.HandshakeFailure(t.name, he.Status)
			t.opts.Health.Set(part, false, fmt.Sprintf("%d from proxy: %s", he.Status, he.Meaning()))
		} else {
			t.opts.Metrics.HandshakeFailure(t.name, 0)
			t.opts.Health.Set(part, false, err.Error())
		}
		return err
	}
	reconnect.Connected(stop)
	t.connected.Store(true)
	t.opts.Metrics.Connected(t.name, true)
	t.opts.Health.Set(part, true, "connected")
	t.log.Info("connected", "mode", t.cfg.Mode, "start", t.start())
	if t.opts.OnConnect != nil {
		t.opts.OnConnect()
	}
	connCtx, cancel := context.WithCancel(hard)
	s := &session{
		t: t, conn: conn, stop: stop, hard: hard, connCtx: connCtx, cancel: cancel,
		queue: make(chan item, t.cfg.ReceiverQueueSize+64),
		acks:  make(chan ackBatch, 4),
	}
	err = s.run()
	conn.CloseNow()
	t.connected.Store(false)
	t.opts.Metrics.Connected(t.name, false)
	t.opts.Metrics.Inflight(t.name, 0)
	if stop.Err() == nil {
		t.opts.Health.Set(part, false, "disconnected: "+err.Error())
	}
	return err
}

// dial performs the handshake within the handshake timeout.
func (t *Topic) dial(ctx context.Context, start string) (*websocket.Conn, error) {
	return Dial(ctx, t.cfg, start)
}

// Dial connects one session of cfg starting at start. A refused upgrade is a
// *HandshakeError; errors never contain the credential.
func Dial(ctx context.Context, cfg Config, start string) (*websocket.Conn, error) {
	cfg.defaults()
	red := newRedactor(cfg.Credential)
	u, err := cfg.URL(start)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.HandshakeTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		HTTPClient: cfg.HTTPClient,
		HTTPHeader: cfg.Header(),
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != 0 {
			var body string
			if resp.Body != nil {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
				body = strings.TrimSpace(red.string(string(b)))
			}
			return nil, &HandshakeError{Status: resp.StatusCode, Body: body}
		}
		return nil, red.wrap(fmt.Errorf("dial %s: %w: %w", redactURL(u.Host, cfg), errDial, err))
	}
	conn.SetReadLimit(cfg.ReadLimit)
	return conn, nil
}

// redactURL names the endpoint in errors without the query (which may hold the key).
func redactURL(host string, cfg Config) string {
	return host + "/" + string(cfg.Mode) + "/" + cfg.Name()
}

// FlushCheckpoint writes the reader position if it moved since the last
// write. The daemon calls it periodically so an idle topic's checkpoint is
// never stale for long; it is a no-op in consumer mode.
func (t *Topic) FlushCheckpoint() error {
	if t.tracker == nil {
		return nil
	}
	return t.tracker.Flush()
}

// deadLetter records a poison message durably, retrying with backoff while
// the dead-letter file cannot be written: the message must not be acked
// before it is safely recorded.
func (t *Topic) deadLetter(ctx context.Context, r *deadletter.Record) error {
	t.opts.Metrics.DeadLetter(t.name)
	delay := 100 * time.Millisecond
	for {
		err := t.opts.DeadLetter.Write(ctx, *r)
		if err == nil {
			return nil
		}
		t.log.Error("cannot write dead letter; retrying (the message stays unacked)", "messageId", r.MessageID, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("write dead letter: %w", ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}
