package consumer

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/streamd/streamd/internal/checkpoint"
	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/metrics"
	"github.com/streamd/streamd/internal/redact"
	"github.com/streamd/streamd/reconnect"
	"github.com/streamd/streamd/sink"
)

// DeadLetterWriter durably records messages that cannot be delivered.
// *deadletter.Writer implements it.
type DeadLetterWriter interface {
	// WriteRetry records r durably, retrying with its own backoff while
	// it cannot, and returns nil once r is recorded (the message may then
	// be acked), or an error wrapping ctx.Err() when ctx ends first.
	WriteRetry(ctx context.Context, r deadletter.Record) error
}

// Options are the collaborators of a Topic.
type Options struct {
	Sink       sink.Sink        // usually a *sink.Fanout
	DeadLetter DeadLetterWriter // required
	// Checkpoints persists reader positions; nil keeps them in memory only.
	Checkpoints        checkpoint.Backend
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
	red       redact.Redactor
	tracker   *checkpoint.Tracker
	resume    string                 // checkpointed position loaded at start
	pos       atomic.Pointer[string] // reader: last id every sink accepted, kept in memory
	pending   atomic.Int64           // reader: frames delivered since the Tracker last heard
	advanced  chan struct{}          // wakes the checkpoint goroutine: a save is due
	unsaved   chan struct{}          // wakes it to start its flush timer
	// The Tracker's triggers as seen by advance, so that delivery wakes the
	// checkpoint goroutine only when a save is due (position.go).
	wakeAfter  atomic.Int64     // pending frames that fire the count trigger
	saveDue    atomic.Int64     // unix ns when the interval trigger fires
	ckptFailed atomic.Bool      // the last save attempt failed: every batch retries
	ckpt       checkpointHealth // reader: failing saves, for health and logs
	behind     behind           // reader: streamd_reader_behind_messages
	acked      atomic.Int64
	connected  atomic.Bool
	progress   atomic.Int64 // unix nanoseconds of the last sign of life, see Progress
	waiting    atomic.Int32 // sessions' goroutines waiting for the sinks, see Waiting
	// inflightPeak is the most event bytes any session held at once.
	inflightPeak atomic.Int64
	rescues      atomic.Int64   // readers that took over from a slow inline delivery
	met          *metrics.Topic // per-event instruments, labels resolved once
}

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

	t := &Topic{
		cfg:       cfg,
		opts:      opts,
		name:      cfg.Name(),
		fullTopic: cfg.FullTopic(),
		red:       redact.New(cfg.Credential),
	}

	t.log = opts.Logger.With("topic", t.name)
	opts.Metrics.InitTopic(t.name, reconnectReasons(), knownStatuses)
	t.met = opts.Metrics.Topic(t.name)

	return t
}

// Name returns "namespace/topic".
func (t *Topic) Name() string { return t.name }

// Acked returns how many messages this topic has acked since start.
func (t *Topic) Acked() int64 { return t.acked.Load() }

// Progress returns when the topic last moved: a session connected, a frame
// arrived, an ack was written or the proxy answered a ping (zero before the
// first connection). A connected topic whose proxy is alive moves at least
// every PingInterval; one that has not moved for longer than PingInterval +
// PingTimeout is making no progress (its session is being replaced, or it
// waits for sinks that do not accept: see Waiting), which a liveness check
// or watchdog may report.
func (t *Topic) Progress() time.Time {
	if n := t.progress.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// progressed records a sign of life now.
func (t *Topic) progressed() { t.progress.Store(time.Now().UnixNano()) }

// Waiting reports whether the topic is legitimately quiet because it waits
// for its sinks: a batch is being written to them or to the dead letter
// (a sink that is down retries inside that write, with its backoff), or the
// reader is parked by the byte budget (Config.InflightBytes) until they
// accept. While waiting, a connected topic need not move: its reader may
// not read pongs, and a session whose connection failed finishes the batch
// before it ends. The end of a wait counts as progress.
func (t *Topic) Waiting() bool { return t.waiting.Load() > 0 }

// waitBegin marks the start of a wait for the sinks, waitEnd its end.
func (t *Topic) waitBegin() { t.waiting.Add(1) }

func (t *Topic) waitEnd() {
	t.progressed()
	t.waiting.Add(-1)
}

// Connected reports whether a session is currently up.
func (t *Topic) Connected() bool { return t.connected.Load() }

// Run streams until ctx is cancelled, then stops gracefully: in-flight events
// finish in the sinks and are acked and checkpointed, and the socket is
// closed normally. Cancelling hard abandons in-flight events unacked. Run
// returns nil after a graceful stop, an error wrapping ErrCheckpoint when the
// stored position is unusable, an error when the final checkpoint could not
// be written (a restart would read again what was delivered), or hard's
// error.
func (t *Topic) Run(ctx, hard context.Context) error {
	if err := t.loadPosition(ctx); err != nil {
		if ctx.Err() != nil { // stopped before the first event: nothing to drain
			return hard.Err()
		}
		return err
	}

	stopCheckpoints := t.startCheckpoints(hard)
	err := t.supervisor().Run(ctx, t.name, func(sctx context.Context, connected func()) error {
		return t.connect(sctx, hard, connected)
	})
	if ckErr := stopCheckpoints(); ckErr != nil && (err == nil || errors.Is(err, context.Canceled)) {
		err = ckErr
	}

	if hard.Err() != nil {
		return hard.Err()
	}

	return err
}

// supervisor reconnects the topic's sessions with its policy.
func (t *Topic) supervisor() *reconnect.Supervisor {
	return &reconnect.Supervisor{
		Policy:   t.opts.Policy,
		Classify: classify,
		Reason:   reason,
		Hint:     Hint,
		Logger:   t.log,
		OnRetry: func(_ reconnect.Class, reason string, _ int, _ time.Duration) {
			t.opts.Metrics.Reconnect(t.name, reason)
		},
	}
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
