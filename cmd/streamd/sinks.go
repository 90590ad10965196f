package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/metrics"
	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/file"
	natssink "github.com/streamd/streamd/sink/nats"
	"github.com/streamd/streamd/sink/stdout"
)

// outputs are the opened sinks. cmd/streamd is the only place that knows
// every sink package.
type outputs struct {
	fanout *sink.Fanout
	file   *file.Sink     // for SIGHUP reopen; nil without the file sink
	nats   *natssink.Sink // for `check`; nil without the nats sink
}

// openSinks opens every configured sink. On error the ones already opened
// are closed.
func openSinks(ctx context.Context, c *Config, out io.Writer, log *slog.Logger, m *metrics.Metrics, h *health.State) (*outputs, error) {
	var (
		o       outputs
		targets []sink.Target
	)
	fail := func(err error) (*outputs, error) {
		for _, t := range targets {
			_ = t.Sink.Close(ctx)
		}
		return nil, err
	}
	for _, name := range c.Sinks {
		switch name {
		case "stdout":
			targets = append(targets, sink.Target{Name: name, Sink: stdout.New(out, c.format), Events: c.StdoutEvents})
		case "file":
			fs, err := file.Open(file.Config{
				Path: c.FilePath, Format: c.format, Fsync: c.FileFsync, FsyncInterval: c.FileFsyncInterval,
				MaxBytes: c.FileMaxBytes, MaxBackups: c.FileMaxBackups, Logger: log.With("sink", "file"),
			})
			if err != nil {
				return fail(fmt.Errorf("open file sink (STREAMD_FILE_PATH): %w", err))
			}
			o.file = fs
			targets = append(targets, sink.Target{Name: name, Sink: fs, Events: c.FileEvents})
		case "nats":
			ns, err := natssink.Open(ctx, c.natsConfig(log))
			if err != nil {
				return fail(fmt.Errorf("open nats sink: %w", err))
			}
			o.nats = ns
			targets = append(targets, sink.Target{Name: name, Sink: ns, Events: c.NATSEvents})
		default:
			return fail(errors.New("unknown sink " + name))
		}
	}
	o.fanout = sink.NewFanout(sink.FanoutConfig{Targets: targets, Metrics: m, Health: h, Logger: log})
	return &o, nil
}

func (c *Config) natsConfig(log *slog.Logger) natssink.Config {
	return natssink.Config{
		URL: c.NATSURL, Subject: c.NATSSubject,
		CredsFile: c.NATSCredsFile, NKeySeedFile: c.NATSNKeySeedFile,
		User: c.NATSUser, Password: c.NATSPassword, Token: c.NATSToken,
		TLSCAFile: c.NATSTLSCAFile, TLSCertFile: c.NATSTLSCertFile, TLSKeyFile: c.NATSTLSKeyFile,
		JetStream: c.NATSJetStream, Stream: c.NATSStream, DuplicateWindow: c.NATSDuplicateWindow,
		MaxInflight: c.NATSMaxInflight, Name: "streamd", Logger: log.With("sink", "nats"),
	}
}
