package main

import (
	"context"
	"flag"
	"os"
	"slices"
	"time"

	"github.com/streamd/streamd/internal/replay"
)

// tailHelp is the paragraph of `streamd help tail`.
const tailHelp = `Print the feed for a person: one aligned line per event with its publish
time (local), type, agent, queue, state (callState, or newState for agents) and
interaction id, coloured on a terminal. It connects as a fresh reader at the
end of each topic (or -since), never acks into a durable subscription and
never writes state, so it can run beside the daemon. Stop it with Ctrl-C
(exit 0). Configuration is the daemon's (STREAMD_*); the sinks are not used.`

// tailFlags are the flags of `streamd tail`.
type tailFlags struct {
	since  string
	types  listFlag
	topics listFlag
	json   bool
	color  string
}

func (m *Main) setupTail(fs *flag.FlagSet) action {
	f := &tailFlags{}
	fs.StringVar(&f.since, "since", "", "start with events published at or after `T` (2h, or an RFC 3339 time) instead of new ones")
	fs.Var(&f.types, "type", "only events of this `type` (repeatable or comma separated)")
	fs.Var(&f.topics, "topic", "follow this `topic` or namespace/topic (default STREAMD_TOPICS; repeatable)")
	fs.BoolVar(&f.json, "json", false, "print each event's raw envelope as JSON instead of a line")
	fs.StringVar(&f.color, "color", "auto", "`auto` (on a terminal), always or never")
	return func(ctx context.Context, _ []string, signals <-chan os.Signal) error {
		return m.tail(ctx, f, signals)
	}
}

func (f *tailFlags) check(now time.Time) (time.Time, error) {
	var since time.Time
	if f.since != "" {
		t, err := replay.ParseSince(f.since, now)
		if err != nil {
			return since, badFlag("tail", "since", f.since, "want a duration such as 2h or an RFC 3339 time")
		}
		since = t
	}

	if !slices.Contains([]string{"auto", "always", "never"}, f.color) {
		return since, badFlag("tail", "color", f.color, "want auto, always or never")
	}

	if err := checkTopics("tail", f.topics); err != nil {
		return since, err
	}

	return since, checkTypes("tail", f.types)
}

// tail runs `streamd tail` until a signal.
func (m *Main) tail(ctx context.Context, f *tailFlags, signals <-chan os.Signal) error {
	since, err := f.check(time.Now())
	if err != nil {
		return err
	}

	c, err := loadConfig(m.Getenv, m.environ(), func(c *Config) {
		if len(f.topics) > 0 {
			c.Topics = f.topics
		}
	})
	if err != nil {
		return err
	}

	log := newLogger(m.Stderr, c.LogFormat, c.LogLevel, c.secrets()...)
	c.logDerived(log)

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go stopOnSignals(ctx, signals, log, stop, stop)

	color := f.color == "always" || f.color == "auto" && isTerminal(m.Stdout)
	return replay.Tail(ctx, replay.TailConfig{
		Sources: c.readerConfigs(),
		Since:   since,
		Types:   f.types,
		Sink:    &replay.Printer{Out: m.Stdout, JSON: f.json, Color: color, Location: time.Local},
		Policy:  c.policy(),
		Logger:  log,
	})
}
