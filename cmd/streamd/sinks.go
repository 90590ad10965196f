package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/streamd/streamd/internal/redact"
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

// openSinks opens every configured sink, writing the stdout sink to
// out. On error the ones already opened are closed.
func (d *daemon) openSinks(out io.Writer) (*outputs, error) {
	var (
		o       outputs
		targets []sink.Target
	)

	fail := func(err error) (*outputs, error) {
		for _, t := range targets {
			_ = t.Sink.Close(d.abortCtx)
		}
		return nil, err
	}
	for _, name := range d.cfg.Sinks {
		t, err := d.openSink(name, out, &o)
		if err != nil {
			return fail(err)
		}
		targets = append(targets, t)
	}

	o.fanout = sink.NewFanout(sink.FanoutConfig{
		Targets: targets,
		Metrics: d.met,
		Health:  d.health,
		Logger:  d.log,
	})

	return &o, nil
}

// openSink opens the sink called name, recording it in o when o has a field
// for it.
func (d *daemon) openSink(name string, out io.Writer, o *outputs) (sink.Target, error) {
	c := d.cfg
	t := sink.Target{Name: name}
	switch name {
	case "stdout":
		t.Sink, t.Events = stdout.New(out, c.format), c.StdoutEvents
	case "file":
		fs, err := file.Open(c.fileConfig(d.log))
		if errors.Is(err, sink.ErrConfig) {
			if d.fileFlag != "" {
				return t, badFlag(d.fileFlag, "file", c.FilePath, "cannot open the file sink: "+err.Error())
			}
			return t, badVar("FILE_PATH", c.FilePath, "cannot open the file sink: "+err.Error())
		}
		if err != nil {
			return t, fmt.Errorf("open file sink (%s): %w", d.filePathSource(), err)
		}
		o.file = fs
		t.Sink, t.Events = fs, c.FileEvents
	case "nats":
		ns, err := natssink.Open(d.abortCtx, c.natsConfig(d.log))
		if errors.Is(err, natssink.ErrStreamSubjects) {
			return t, badVar("NATS_STREAM", c.NATSStream, "the existing stream does not cover STREAMD_NATS_SUBJECT="+c.NATSSubject+
				" (streamd never changes a stream; fix either): "+c.redact(err.Error()))
		}
		if errors.Is(err, sink.ErrConfig) {
			return t, &configError{msg: "invalid configuration: the nats sink (STREAMD_NATS_*) cannot open: " + c.redact(err.Error())}
		}
		if err != nil {
			return t, fmt.Errorf("open nats sink: %s", c.redact(err.Error()))
		}
		o.nats = ns
		t.Sink, t.Events = ns, c.NATSEvents
	default:
		return t, errors.New("unknown sink " + name)
	}

	return t, nil
}

// redact removes every secret of c, and URL userinfo, from s.
func (c *Config) redact(s string) string {
	return redact.String(s, c.secrets()...)
}

// secrets returns the credentials of c that no output may show.
func (c *Config) secrets() []string {
	return []string{c.apiKey, c.natsPassword, c.natsToken}
}

func (c *Config) fileConfig(log *slog.Logger) file.Config {
	return file.Config{
		Path:          c.FilePath,
		Format:        c.format,
		Fsync:         c.FileFsync,
		FsyncInterval: c.FileFsyncInterval,
		MaxBytes:      c.FileMaxBytes,
		MaxBackups:    c.FileMaxBackups,
		Logger:        log.With("sink", "file"),
	}
}

func (c *Config) natsConfig(log *slog.Logger) natssink.Config {
	return natssink.Config{
		URL:             c.NATSURL,
		Subject:         c.NATSSubject,
		CredsFile:       c.NATSCredsFile,
		NKeySeedFile:    c.NATSNKeySeedFile,
		User:            c.NATSUser,
		Password:        c.natsPassword,
		Token:           c.natsToken,
		TLSCAFile:       c.NATSTLSCAFile,
		TLSCertFile:     c.NATSTLSCertFile,
		TLSKeyFile:      c.NATSTLSKeyFile,
		JetStream:       c.NATSJetStream,
		Stream:          c.NATSStream,
		DuplicateWindow: c.NATSDuplicateWindow,
		MaxInflight:     c.NATSMaxInflight,
		AckTimeout:      c.NATSAckTimeout,
		MaxControlLine:  c.NATSMaxControlLine,
		Name:            "streamd",
		Instance:        c.Instance,
		Logger:          log.With("sink", "nats"),
	}
}

// filePathSource names where the file sink's path came from, for messages:
// a command's -file flag or STREAMD_FILE_PATH.
func (d *daemon) filePathSource() string {
	if d.fileFlag != "" {
		return "streamd " + d.fileFlag + " -file"
	}
	return "STREAMD_FILE_PATH"
}
