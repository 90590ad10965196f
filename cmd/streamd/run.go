package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/internal/checkpoint"
	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/httpserver"
	"github.com/streamd/streamd/internal/metrics"
	"github.com/streamd/streamd/internal/sdnotify"
	"github.com/streamd/streamd/reconnect"
)

// daemon runs `streamd run`. override, if set, adjusts the configuration
// before validation (used by demo).
func (m *Main) daemon(ctx context.Context, signals <-chan os.Signal, override func(*Config)) int {
	c, err := loadConfig(m.Getenv, override)
	if err != nil {
		return m.configFailed(err)
	}
	log := newLogger(m.Stderr, c.LogFormat, c.LogLevel)
	return m.serve(ctx, c, log, signals)
}

// serve runs the pipeline until a signal stops it and returns the exit status.
func (m *Main) serve(ctx context.Context, c *Config, log *slog.Logger, signals <-chan os.Signal) int {
	reg := prometheus.NewRegistry()
	met := metrics.New(reg)
	hs := health.New()
	store, err := checkpoint.Open(filepath.Join(c.StateDir, "checkpoints"))
	if err != nil {
		return m.configFailed(badVar("STATE_DIR", c.StateDir, "cannot use it: "+err.Error()))
	}
	dl, err := deadletter.Open(c.DeadLetterPath)
	if err != nil {
		return m.configFailed(badVar("DEAD_LETTER_PATH", c.DeadLetterPath, "cannot open it: "+err.Error()))
	}
	defer dl.Close()

	hard, cancelHard := context.WithCancel(ctx)
	defer cancelHard()
	soft, cancelSoft := context.WithCancel(hard)
	defer cancelSoft()

	outs, err := openSinks(hard, c, m.Stdout, log, met, hs)
	if err != nil {
		log.Error("cannot open sinks", "err", err)
		return exitFail
	}
	var httpDone chan error
	if c.HTTPAddr != "" {
		srv := httpserver.New(c.HTTPAddr, reg, hs, log)
		if err := srv.Listen(hard); err != nil {
			_ = outs.fanout.Close(context.Background())
			return m.configFailed(badVar("HTTP_ADDR", c.HTTPAddr, "cannot listen: "+err.Error()))
		}
		httpDone = make(chan error, 1)
		go func() { httpDone <- srv.Run(hard) }()
		log.Info("serving metrics and health", "addr", srv.Addr())
	}

	notify := sdnotify.New()
	var readyOnce sync.Once
	onConnect := func() {
		readyOnce.Do(func() {
			_ = notify.Ready()
			log.Info("ready: first handshake succeeded")
		})
	}
	topics := make([]*consumer.Topic, len(c.topics))
	for i, ref := range c.topics {
		topics[i] = consumer.NewTopic(c.consumerConfig(ref), consumer.Options{
			Sink: outs.fanout, DeadLetter: dl, Checkpoints: store,
			CheckpointEvery: c.CheckpointEvery, CheckpointInterval: c.CheckpointPeriod,
			Start:   c.Start,
			Policy:  reconnect.Policy{Min: c.ReconnectMin, Max: c.ReconnectMax},
			Metrics: met, Health: hs, Logger: log, OnConnect: onConnect,
		})
		hs.Set("topic "+ref.String(), false, "connecting")
	}
	results := make(chan error, len(topics))
	for _, t := range topics {
		go func() { results <- t.Run(soft, hard) }()
	}
	log.Info("streamd started", "version", version, "endpoint", c.endpoint, "tenant", c.Tenant,
		"mode", c.Mode, "topics", len(topics), "sinks", c.Sinks, "credential", c.credKind, "stateDir", c.StateDir)

	code := m.loop(c, log, signals, topics, results, outs, hs, notify, cancelSoft, cancelHard)

	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := outs.fanout.Close(closeCtx); err != nil {
		log.Error("closing sinks", "err", err)
		if code == exitOK {
			code = exitFail
		}
	}
	cancelHard()
	if httpDone != nil {
		<-httpDone
	}
	log.Info("streamd stopped", "exit", code)
	return code
}

// loop is the main loop: it handles signals, beats the watchdog while the
// process makes progress, and waits for every topic to finish.
func (m *Main) loop(c *Config, log *slog.Logger, signals <-chan os.Signal, topics []*consumer.Topic,
	results <-chan error, outs *outputs, hs *health.State, notify *sdnotify.Notifier,
	cancelSoft, cancelHard context.CancelFunc) int {
	beat := 5 * time.Second
	if wd, ok := sdnotify.WatchdogInterval(); ok && wd < beat {
		beat = wd
	}
	if c.CheckpointPeriod < beat {
		beat = c.CheckpointPeriod
	}
	tick := time.NewTicker(beat)
	defer tick.Stop()
	var (
		deadline <-chan time.Time
		code     = exitOK
		running  = len(topics)
	)
	stop := func(reason string) {
		if deadline != nil {
			return
		}
		_ = notify.Stopping()
		log.Info("stopping: finishing in-flight events", "reason", reason, "timeout", c.ShutdownTimeout.String())
		cancelSoft()
		deadline = time.After(c.ShutdownTimeout)
	}
	for running > 0 {
		select {
		case sig := <-signals:
			switch {
			case sig == syscall.SIGHUP:
				if outs.file != nil {
					if err := outs.file.Reopen(); err != nil {
						log.Error("reopen file sink", "err", err)
					} else {
						log.Info("reopened file sink")
					}
				}
			case deadline != nil:
				log.Error("second signal: exiting now without acking unfinished events")
				cancelHard()
				code = exitFail
			default:
				stop(sig.String())
			}
		case <-deadline:
			log.Error("shutdown timeout passed: exiting without acking unfinished events", "timeout", c.ShutdownTimeout.String())
			cancelHard()
			code = exitFail
			deadline = nil
		case err := <-results:
			running--
			if err != nil && !errors.Is(err, context.Canceled) {
				log.Error("topic stopped", "err", err)
				if errors.Is(err, consumer.ErrCheckpoint) {
					code = exitConfig
				} else if code == exitOK {
					code = exitFail
				}
				stop("a topic failed")
			}
		case <-tick.C:
			hs.Beat()
			_ = notify.Watchdog()
			_ = notify.Status(statusLine(topics, hs))
			for _, t := range topics {
				if err := t.FlushCheckpoint(); err != nil {
					log.Error("cannot write checkpoint", "topic", t.Name(), "err", err)
				}
			}
		}
	}
	return code
}

// statusLine is what `systemctl status` shows.
func statusLine(topics []*consumer.Topic, hs *health.State) string {
	up, acked := 0, int64(0)
	for _, t := range topics {
		if t.Connected() {
			up++
		}
		acked += t.Acked()
	}
	s := fmt.Sprintf("connected %d/%d topics, %d events acked", up, len(topics), acked)
	if bad := hs.NotReady(); len(bad) > 0 {
		s += "; not ready: " + bad[0]
	}
	return s
}

func (c *Config) consumerConfig(ref topicRef) consumer.Config {
	return consumer.Config{
		Endpoint: c.endpoint, Tenant: c.Tenant, Namespace: ref.namespace, Topic: ref.topic,
		Mode: consumer.Mode(c.Mode), Subscription: c.Subscription, SubscriptionType: c.SubscriptionType,
		Auth: consumer.AuthMode(c.Auth), Credential: c.apiKey, ReceiverQueueSize: c.ReceiverQueueSize,
		HandshakeTimeout: c.HandshakeTimeout, PingInterval: c.PingInterval, PingTimeout: c.PingTimeout,
		ReadLimit: c.ReadLimit,
	}
}
