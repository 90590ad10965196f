package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/reconnect"
)

// This file holds what the one-shot readers `replay` and `tail` share: list
// flags, flag-value errors, the topics they read and their signal handling.
// Neither opens the state directory, the dead-letter file, the HTTP
// listener or a durable subscription, so both run beside a daemon.

// listFlag is a repeatable flag whose values may also be comma separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		*l = append(*l, strings.TrimSpace(s))
	}
	return nil
}

// badFlag is a flag whose value is wrong: exit status 78 like any invalid
// configuration. (A flag streamd does not know is a usage error: 2.)
func badFlag(cmd, name, value, why string) error {
	return &configError{msg: fmt.Sprintf("invalid flag: streamd %s -%s=%q: %s", cmd, name, value, why)}
}

var typeName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// checkTypes validates --type values: event type names such as
// InteractionQueued (unknown names are allowed: 8x8 adds types).
func checkTypes(cmd string, types []string) error {
	for _, t := range types {
		if !typeName.MatchString(t) {
			return badFlag(cmd, "type", t, "want an event type name such as InteractionQueued")
		}
	}
	return nil
}

// checkTopics validates --topic values with the rules of STREAMD_TOPICS.
func checkTopics(cmd string, topics []string) error {
	for _, raw := range topics {
		ns, topic, ok := strings.Cut(raw, "/")
		if !ok {
			topic = ns
		}
		if topic == "" || ok && ns == "" || strings.ContainsAny(topic, "/?#% ") {
			return badFlag(cmd, "topic", raw, "want topic or namespace/topic, e.g. all or event-v1/InteractionQueued")
		}
	}
	return nil
}

// readerConfigs returns a reader configuration for each configured topic.
// The mode is always reader: these commands never use the daemon's durable
// subscription.
func (c *Config) readerConfigs() []consumer.Config {
	out := make([]consumer.Config, len(c.topics))
	for i, ref := range c.topics {
		out[i] = c.consumerConfig(ref)
		out[i].Mode = consumer.ModeReader
	}
	return out
}

func (c *Config) policy() reconnect.Policy {
	return reconnect.Policy{Min: c.ReconnectMin, Max: c.ReconnectMax}
}

// stopOnSignals cancels drain at the first SIGTERM/SIGINT and abort at the
// second (a copy of the first, within repeatWindow, is not one), until ctx
// is done. SIGHUP is ignored.
func stopOnSignals(ctx context.Context, signals <-chan os.Signal, log *slog.Logger, drain, abort context.CancelFunc) {
	drained := false
	var req stopRequest
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-signals:
			switch {
			case sig == syscall.SIGHUP:
			case drained && req.repeated(time.Now()):
				log.Info("same stop request: signal repeated within the first's window", "signal", sig.String(), "window", repeatWindow)
			case drained:
				log.Warn("second signal: stopping now")
				abort()
			default:
				drained = true
				req.begin(time.Now())
				log.Info("stopping: finishing the batch in the sinks", "reason", sig.String())
				drain()
			}
		}
	}
}
