package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/internal/replay"
)

// replayHelp is the paragraph of `streamd help replay`.
const replayHelp = `Replay a range of events into the sinks, with a reader of its own: the
daemon's checkpoint, durable subscription and state directory are never
touched, so it can run beside a live daemon (give the file sink a path of its
own with -file then: the file sink assumes it is the file's only writer).
Configuration is the daemon's (STREAMD_*), adjusted by the flags.

Where to start (one is required):
  -from earliest   the oldest event 8x8 still retains
  -from ID         the events after message id ID (exclusive, like a
                   checkpoint: pass the id of the last event you have)
  -since T         events published at or after T (a duration ago such as 2h,
                   or an RFC 3339 time). The proxy cannot seek by time: the
                   replay reads from the oldest retained event and skips, by
                   publishTime, what is older, reporting how many it skipped.
                   If the oldest retained event is newer than T, 8x8 no longer
                   has the start: the replay stops before delivering anything
                   and exits 1 (use -from earliest to take what is retained).

Where to stop:
  -until T         the last event published at or before T (time or duration ago)
  -until ID        the event with message id ID, inclusive
  (neither)        caught up: everything published before the replay began.
  The proxy has no "end of backlog" signal (isEndOfTopic is true only for a
  terminated topic), so a replay also counts as caught up when, once the
  -until time has passed, no event arrives for -idle.

Into JetStream, replayed events carry the daemon's Nats-Msg-Id (topic and
message id): inside the stream's duplicate window (STREAMD_NATS_DUPLICATE_WINDOW)
they are stored once however often you replay. Outside the window JetStream no
longer remembers the ids: replay exactly the missing range (-from the last id
the stream has, -until the first id it has again) rather than a wider one.

Progress: a bar on a terminal, a log line every 5s otherwise; a summary line
at the end. Undecodable messages are logged and counted (and appended to
-dead-letter if given). It exits 1 when the start is older than what 8x8
retains, the -until id was not reached, the proxy refused the connection, or
it was interrupted (SIGINT/SIGTERM finish the batch in the sinks first).`

// replayFlags are the flags of `streamd replay`.
type replayFlags struct {
	from, since, until string
	types, sinks       listFlag
	topics             listFlag
	file, deadLetter   string
	idle               string
	progress           string
}

func (m *Main) setupReplay(fs *flag.FlagSet) action {
	f := &replayFlags{}
	fs.StringVar(&f.from, "from", "", "start: `earliest` or a message id to start after")
	fs.StringVar(&f.since, "since", "", "start: events published at or after `T` (2h, or 2025-10-15T09:30:00Z)")
	fs.StringVar(&f.until, "until", "", "stop after `T` (time or duration ago) or message id (default: caught up)")
	fs.Var(&f.types, "type", "only events of this `type` (repeatable or comma separated)")
	fs.Var(&f.topics, "topic", "replay this `topic` or namespace/topic (default STREAMD_TOPICS; repeatable)")
	fs.Var(&f.sinks, "sinks", "deliver to these `sinks` (stdout, file, nats; default STREAMD_SINKS)")
	fs.StringVar(&f.file, "file", "", "`path` of the file sink (default STREAMD_FILE_PATH)")
	fs.StringVar(&f.deadLetter, "dead-letter", "", "also append undecodable messages to this `file`")
	fs.StringVar(&f.idle, "idle", replay.DefaultIdle.String(), "`duration` of silence, after the -until time, that means caught up")
	fs.StringVar(&f.progress, "progress", "auto", "`auto` (a bar on a terminal, else log lines), bar, log or off")

	return func(ctx context.Context, _ []string, signals <-chan os.Signal) error {
		return m.replay(ctx, f, signals)
	}
}

// replayPlan is the checked meaning of the flags.
type replayPlan struct {
	rg         replay.Range
	sinceLabel string
	idle       time.Duration
}

func (f *replayFlags) plan(now time.Time) (replayPlan, error) {
	var p replayPlan
	switch {
	case f.from == "" && f.since == "":
		return p, badFlag("replay", "from", "", "say where to start: -from earliest, -from <message id> or -since <time>")
	case f.from != "" && f.since != "":
		return p, badFlag("replay", "since", f.since, "-from and -since exclude each other")
	case f.from != "":
		p.rg.From = f.from
	default:
		t, err := replay.ParseSince(f.since, now)
		if err != nil {
			return p, badFlag("replay", "since", f.since, "want a duration such as 2h or an RFC 3339 time")
		}
		p.rg.Since, p.sinceLabel = t, f.since
	}

	if f.until != "" {
		t, id, err := replay.ParseUntil(f.until, now)
		if err != nil {
			return p, badFlag("replay", "until", f.until, "want an RFC 3339 time, a duration ago or a message id")
		}
		p.rg.Until, p.rg.UntilID = t, id
	}

	if err := p.rg.Validate(); err != nil {
		return p, &configError{msg: "invalid flags: streamd replay: " + err.Error()}
	}

	d, err := time.ParseDuration(f.idle)
	if err != nil || d <= 0 {
		return p, badFlag("replay", "idle", f.idle, "want a positive duration such as 10s")
	}

	p.idle = d

	return p, f.check()
}

// check validates the flags that do not shape the range.
func (f *replayFlags) check() error {
	if !slices.Contains([]string{"auto", "bar", "log", "off"}, f.progress) {
		return badFlag("replay", "progress", f.progress, "want auto, bar, log or off")
	}

	for _, s := range f.sinks {
		if !slices.Contains([]string{"stdout", "file", "nats"}, s) {
			return badFlag("replay", "sinks", f.sinks.String(), "want stdout, file or nats")
		}
	}

	if err := checkTopics("replay", f.topics); err != nil {
		return err
	}

	return checkTypes("replay", f.types)
}

// fileFlag is "replay" when -file gave the file sink's path, for messages
// that name it.
func (f *replayFlags) fileFlag() string {
	if f.file == "" {
		return ""
	}
	return "replay"
}

// override applies the flags that replace configuration.
func (f *replayFlags) override(c *Config) {
	if len(f.sinks) > 0 {
		c.Sinks = f.sinks
	}
	if f.file != "" {
		c.FilePath = f.file
	}
	if len(f.topics) > 0 {
		c.Topics = f.topics
	}
}

// replay runs `streamd replay`: each topic in turn, into the sinks.
func (m *Main) replay(ctx context.Context, f *replayFlags, signals <-chan os.Signal) error {
	p, err := f.plan(time.Now())
	if err != nil {
		return err
	}

	c, err := loadConfig(m.Getenv, m.environ(), f.override)
	if err != nil {
		return err
	}

	log := newLogger(m.Stderr, c.LogFormat, c.LogLevel, c.secrets()...)
	c.logDerived(log)

	abortCtx, abort := context.WithCancel(ctx)
	defer abort()
	drainCtx, drain := context.WithCancel(abortCtx)
	defer drain()
	go stopOnSignals(abortCtx, signals, log, drain, abort)

	// The sinks open as the daemon opens them, without its metrics, health
	// or state (a daemon value holding only what openSinks reads).
	outs, err := (&daemon{cfg: c, log: log, abortCtx: abortCtx, fileFlag: f.fileFlag()}).openSinks(m.Stdout)
	if err != nil {
		return err
	}

	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if cerr := outs.fanout.Close(cctx); cerr != nil {
			log.Error("closing sinks", "error", cerr)
		}
	}()

	var dl *deadletter.Writer
	if f.deadLetter != "" {
		if dl, err = deadletter.Open(f.deadLetter); err != nil {
			return badFlag("replay", "dead-letter", f.deadLetter, "cannot open it: "+err.Error())
		}
		defer dl.Close()
	}

	for _, src := range c.readerConfigs() {
		cfg := replay.Config{Source: src, Range: p.rg, SinceLabel: p.sinceLabel, Types: f.types, Sink: outs.fanout,
			Idle: p.idle, Policy: c.policy(), Logger: log}
		if dl != nil {
			cfg.DeadLetter = dl
		}

		if err := m.replayTopic(drainCtx, abortCtx, cfg, f.progress, log); err != nil {
			return err
		}
	}

	return nil
}

// replayTopic replays one topic with progress reports and logs the result.
func (m *Main) replayTopic(drainCtx, abortCtx context.Context, cfg replay.Config, progress string, log *slog.Logger) error {
	name := cfg.Source.Name()
	r := replay.New(cfg)
	wctx, stopWatch := context.WithCancel(context.Background())
	watched := make(chan struct{})
	var bar *replay.Bar
	switch {
	case progress == "bar" || progress == "auto" && isTerminal(m.Stderr):
		bar = replay.NewBar(m.Stderr, name)
		go func() { defer close(watched); replay.Watch(wctx, 200*time.Millisecond, r.Progress, bar.Report) }()
	case progress != "off":
		go func() {
			defer close(watched)
			replay.Watch(wctx, 5*time.Second, r.Progress, replay.LogReport(log, name))
		}()
	default:
		close(watched)
	}

	res, err := r.Run(drainCtx, abortCtx)
	stopWatch()
	<-watched

	if bar != nil {
		bar.Finish(r.Progress())
	}

	logResult(log, name, res, err)

	if errors.Is(err, context.Canceled) {
		err = errors.New("interrupted")
	}

	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}

	return nil
}

// logResult logs what a topic's replay did; the caller reports an error.
func logResult(log *slog.Logger, topic string, res replay.Result, err error) {
	attrs := []any{"topic", topic, "delivered", res.Delivered, "skipped_before_since", res.Skipped,
		"filtered_by_type", res.Filtered, "dead_lettered", res.DeadLettered}
	if res.First != "" {
		attrs = append(attrs, "first_message_id", res.First, "last_message_id", res.Last)
	}

	if !res.Position.IsZero() {
		attrs = append(attrs, "position", res.Position.UTC().Format(time.RFC3339Nano))
	}

	if err != nil {
		log.Warn("replay stopped early", attrs...)
		return
	}

	log.Info("replay finished: "+res.Stop, attrs...)
}
