package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/internal/buildinfo"
	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/httpserver"
	"github.com/streamd/streamd/internal/metrics"
	"github.com/streamd/streamd/internal/sdnotify"
	"github.com/streamd/streamd/internal/statelock"
	"github.com/streamd/streamd/reconnect"
)

// closeTimeout bounds how long Close waits for the sinks to flush.
const closeTimeout = 10 * time.Second

// abortGrace bounds each wait after an abort: for the topics to return,
// then for the sinks to close. A sink blocked in write(2) (stdout piped
// into a reader that stopped reading, a file on a hung mount) cannot be
// interrupted; the process exits without it.
const abortGrace = 2 * time.Second

// errAborted is a stop that abandoned in-flight events unacked.
var errAborted = errors.New("stopped without acking unfinished events")

// daemon is `streamd run`: newDaemon opens every part in order, Run streams
// until a signal or a failure stops it, and Close releases the parts in
// reverse order.
//
// There are two ways to stop. drain is the graceful one: topics stop
// reading, finish in-flight events in the sinks, ack and checkpoint them.
// abort is the hard one: in-flight events are abandoned unacked (they come
// again after a restart). A first SIGTERM/SIGINT drains; a second one, or
// SHUTDOWN_TIMEOUT passing while draining, aborts. An abort ends Run within
// abortGrace and Close within another, whatever a sink is doing.
type daemon struct {
	cfg    *Config
	log    *slog.Logger
	reg    *prometheus.Registry
	met    *metrics.Metrics
	health *health.State
	notify *sdnotify.Notifier

	lock   *statelock.Lock
	store  *checkpointStore
	dl     *deadletter.Writer
	outs   *outputs
	topics []*consumer.Topic
	live   []liveTopic // the topics, for the stall rule
	stuck  bool        // the last tick found a stalled topic

	abortCtx    context.Context // done once in-flight events may be abandoned
	cancelAbort context.CancelFunc
	drainCtx    context.Context // done once topics should stop gracefully
	cancelDrain context.CancelFunc

	stopHTTP  context.CancelFunc
	httpDone  chan error       // Serve's result; nil without the HTTP listener
	results   chan error       // one per topic
	deadline  <-chan time.Time // SHUTDOWN_TIMEOUT after the drain began
	stopReq   stopRequest      // when the first stop signal came
	grace     <-chan time.Time // abortGrace after the abort
	stdoutEOF <-chan struct{}  // closed once stdout's reader went away
	fileFlag  string           // the command whose -file flag set the file path ("replay"), or ""
	readyOnce sync.Once
	status    status
	err       error // why Run fails; nil for a clean stop
}

// newDaemon locks the state directory, opens the checkpoint store, the
// dead-letter file, the sinks and the HTTP listener, and prepares one
// consumer.Topic per topic. On error what was opened is closed again.
func newDaemon(ctx context.Context, c *Config, log *slog.Logger, stdout io.Writer) (_ *daemon, err error) {
	d := &daemon{
		cfg:    c,
		log:    log,
		reg:    prometheus.NewRegistry(),
		health: health.New(),
		notify: sdnotify.New(),
	}

	d.met = metrics.New(d.reg)
	d.met.NotifyDropped(d.notify.Dropped)
	d.met.Instance(c.Instance)
	d.abortCtx, d.cancelAbort = context.WithCancel(ctx)
	d.drainCtx, d.cancelDrain = context.WithCancel(d.abortCtx)

	defer func() {
		if err != nil {
			_ = d.Close()
		}
	}()

	if d.lock, err = lockStateDir(c.StateDir); err != nil {
		return nil, err
	}

	d.store, err = openCheckpoints(ctx, c, log)
	var cfgErr *configError
	if err != nil && !errors.As(err, &cfgErr) {
		log.Error("cannot open the checkpoint store", "error", err)
		return nil, reported(err)
	}

	if err != nil {
		return nil, err
	}

	d.dl, err = deadletter.OpenWith(c.DeadLetterPath, deadletter.Options{
		Health: d.health,
		Logger: log,
		Retry:  c.policy(), // the topics' backoff
	})
	if err != nil {
		return nil, badVar("DEAD_LETTER_PATH", c.DeadLetterPath, "cannot open it: "+err.Error())
	}
	// A write to a stdout whose reader went away then fails with EPIPE,
	// which Run logs and stops on, instead of Go's default for fds 1 and 2:
	// death by SIGPIPE without a word (see os/signal). Only the daemon
	// does this; one-shot commands such as tail still just end.
	signal.Ignore(syscall.SIGPIPE)
	pw := newPipeWatch(stdout)
	d.stdoutEOF = pw.closed
	d.outs, err = d.openSinks(pw)
	if err != nil {
		log.Error("cannot open sinks", "error", err)
		return nil, reported(err)
	}

	if err := d.listen(); err != nil {
		return nil, err
	}

	for _, ref := range c.topics {
		t := consumer.NewTopic(c.consumerConfig(ref), d.topicOptions())
		d.topics, d.live = append(d.topics, t), append(d.live, t)
		d.health.Set("topic "+ref.String(), false, "connecting")
	}

	return d, nil
}

// listen starts the metrics and health listener unless HTTP_ADDR is empty.
func (d *daemon) listen() error {
	if d.cfg.HTTPAddr == "" {
		return nil
	}

	srv := httpserver.New(d.cfg.HTTPAddr, d.reg, d.health, d.log)
	ctx, cancel := context.WithCancel(d.abortCtx)
	if err := srv.Listen(ctx); err != nil {
		cancel()
		return badVar("HTTP_ADDR", d.cfg.HTTPAddr, "cannot listen: "+err.Error())
	}

	d.stopHTTP = cancel
	d.httpDone = make(chan error, 1)
	go func() { d.httpDone <- srv.Run(ctx) }()
	d.log.Info("serving metrics and health", "addr", srv.Addr())

	return nil
}

func (d *daemon) topicOptions() consumer.Options {
	c := d.cfg
	return consumer.Options{
		Sink:               d.outs.fanout,
		DeadLetter:         d.dl,
		Checkpoints:        d.store.backend,
		CheckpointEvery:    c.CheckpointEvery,
		CheckpointInterval: c.CheckpointPeriod,
		Start:              c.Start,
		Policy: reconnect.Policy{
			Min: c.ReconnectMin,
			Max: c.ReconnectMax,
		},
		Metrics:   d.met,
		Health:    d.health,
		Logger:    d.log,
		OnConnect: d.onConnect,
	}
}

// onConnect tells systemd the daemon is ready after the first handshake.
func (d *daemon) onConnect() {
	d.readyOnce.Do(func() {
		_ = d.notify.Ready()
		d.log.Info("ready: first handshake succeeded")
	})
}

// Run streams every topic until all of them have stopped: after a drain or
// abort triggered by signals, or after a topic failed. It returns nil after
// a clean drain, else an error already logged.
func (d *daemon) Run(signals <-chan os.Signal) error {
	d.results = make(chan error, len(d.topics))
	for _, t := range d.topics {
		go func() { d.results <- t.Run(d.drainCtx, d.abortCtx) }()
	}

	c := d.cfg
	bi := buildinfo.Read()
	d.log.Info("streamd started", "version", bi.Version, "revision", bi.Revision, "instance", c.Instance,
		"endpoint", c.endpoint, "tenant", c.Tenant,
		"mode", c.Mode, "topics", len(d.topics), "sinks", c.Sinks, "credential", c.credKind, "state_dir", c.StateDir)

	d.sendStatus(time.Now())
	tick := time.NewTicker(d.beatPeriod())
	defer tick.Stop()
	for running := len(d.topics); running > 0; {
		select {
		case sig := <-signals:
			d.onSignal(sig)
		case <-d.deadline:
			d.deadline = nil
			d.abort("shutdown timeout passed: exiting without acking unfinished events", "timeout", c.ShutdownTimeout)
		case err := <-d.results:
			running--
			d.onTopicDone(err)
		case now := <-tick.C:
			d.tick(now)
		case <-d.stdoutEOF:
			d.stdoutEOF = nil
			d.abort("stdout closed: its reader went away (EPIPE); stopping without acking what it did not take")
		case <-d.grace:
			d.log.Error("exiting while topics are still stopping: a sink is blocked and cannot be interrupted",
				"topics", running, "grace", abortGrace)
			return reported(d.err)
		}
	}

	return reported(d.err)
}

// beatPeriod is how often tick runs: often enough for the systemd
// watchdog, at least every second (the resolution of "last event N s ago").
func (d *daemon) beatPeriod() time.Duration {
	if wd, ok := sdnotify.WatchdogInterval(); ok && wd < time.Second {
		return wd
	}
	return time.Second
}

// onSignal reopens the file sink on SIGHUP; SIGTERM/SIGINT drains, and a
// second one aborts (a copy of the first, within repeatWindow, does not).
func (d *daemon) onSignal(sig os.Signal) {
	switch {
	case sig == syscall.SIGHUP:
		d.reopen()
	case d.deadline != nil && d.stopReq.repeated(time.Now()):
		d.log.Info("same stop request: signal repeated within the first's window", "signal", sig.String(), "window", repeatWindow)
	case d.deadline != nil:
		d.abort("second signal: exiting now without acking unfinished events")
	default:
		d.stopReq.begin(time.Now())
		d.drain(sig.String())
	}
}

func (d *daemon) reopen() {
	if d.outs.file == nil {
		return
	}
	if err := d.outs.file.Reopen(); err != nil {
		d.log.Error("reopen file sink", "error", err)
		return
	}
	d.log.Info("reopened file sink")
}

// drain starts the graceful stop, bounded by SHUTDOWN_TIMEOUT. Only the
// first call has an effect.
func (d *daemon) drain(reason string) {
	if d.deadline != nil || d.drainCtx.Err() != nil {
		return
	}
	_ = d.notify.Stopping()
	d.log.Info("stopping: finishing in-flight events", "reason", reason, "timeout", d.cfg.ShutdownTimeout)
	d.cancelDrain()
	d.deadline = time.After(d.cfg.ShutdownTimeout)
}

// abort stops at once, abandoning in-flight events unacked; msg and args
// say why. Run returns within abortGrace even if a topic does not.
func (d *daemon) abort(msg string, args ...any) {
	d.log.Error(msg, args...)
	d.fail(errAborted)
	d.cancelAbort()
	if d.grace == nil {
		d.grace = time.After(abortGrace)
	}
}

// onTopicDone handles a topic's Run returning: a failure drains the rest.
func (d *daemon) onTopicDone(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	d.log.Error("topic stopped", "error", err)
	d.fail(err)
	d.drain("a topic failed")
}

// fail records why Run fails: the first failure, unless a later one is an
// unusable checkpoint, which needs the operator (exit 78).
func (d *daemon) fail(err error) {
	if d.err == nil || errors.Is(err, consumer.ErrCheckpoint) {
		d.err = err
	}
}

// tick beats the watchdog while the main loop and every connected topic
// make progress, and updates the status line every statusEvery. (Each
// topic flushes its own checkpoint.) A stalled topic (see stalled) makes
// /healthz answer 503 and stops the WATCHDOG=1 pings, so that systemd
// restarts the process; a stop in progress has its own bound instead.
func (d *daemon) tick(now time.Time) {
	d.health.Beat()
	var stuck []string
	if d.drainCtx.Err() == nil {
		stuck = stalled(d.live, now, stallBound(d.cfg.PingInterval, d.cfg.PingTimeout))
	}

	d.health.SetStalled(stuck)

	if len(stuck) > 0 && !d.stuck {
		d.log.Error("a topic session is stalled: /healthz answers 503 and the systemd watchdog is no longer fed",
			"stalled", stuck)
	}

	if len(stuck) == 0 && d.stuck {
		d.log.Info("stalled topics moved again")
	}

	d.stuck = len(stuck) > 0
	if !d.stuck {
		_ = d.notify.Watchdog()
	}

	d.observeStatus(now)
}

// Close releases what newDaemon opened, in reverse order: the HTTP
// listener, the sinks, the dead-letter file, the checkpoint store, the
// state directory lock. It returns the sinks' close error (events they had
// not made durable may be lost) and logs the others.
func (d *daemon) Close() error {
	if d.httpDone != nil {
		d.stopHTTP()
		if err := <-d.httpDone; err != nil && !errors.Is(err, context.Canceled) {
			d.log.Error("closing the HTTP listener", "error", err)
		}
	}

	timeout := closeTimeout
	if d.abortCtx.Err() != nil {
		timeout = abortGrace
	}

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	var err error
	if d.outs != nil {
		if err = within(ctx, d.outs.fanout.Close); err != nil {
			d.log.Error("closing sinks", "error", err)
			err = reported(fmt.Errorf("close sinks: %w", err))
		}
	}

	if d.dl != nil {
		if derr := within(ctx, func(context.Context) error { return d.dl.Close() }); derr != nil {
			d.log.Error("closing dead-letter file", "error", derr)
		}
	}

	if d.store != nil {
		d.store.close()
	}

	d.cancelAbort()

	if lerr := d.lock.Release(); lerr != nil {
		d.log.Error("releasing the state directory lock", "error", lerr)
	}

	return err
}

// within runs f and waits for it until ctx is done: a close blocked behind
// a write(2) that never returns is abandoned, and the process exits anyway.
func within(ctx context.Context, f func(context.Context) error) error {
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("abandoned after %w", ctx.Err())
	}
}

func (c *Config) consumerConfig(ref topicRef) consumer.Config {
	return consumer.Config{
		Endpoint:          c.endpoint,
		Tenant:            c.Tenant,
		Namespace:         ref.namespace,
		Topic:             ref.topic,
		Mode:              consumer.Mode(c.Mode),
		Subscription:      c.Subscription,
		SubscriptionType:  c.SubscriptionType,
		ConsumerName:      c.Instance,
		Auth:              consumer.AuthMode(c.Auth),
		Credential:        c.apiKey,
		ReceiverQueueSize: c.ReceiverQueueSize,
		HandshakeTimeout:  c.HandshakeTimeout,
		PingInterval:      c.PingInterval,
		PingTimeout:       c.PingTimeout,
		ReadLimit:         c.ReadLimit,
		InflightBytes:     c.InflightBytes,
	}
}
