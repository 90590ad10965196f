package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/internal/redact"
	natssink "github.com/streamd/streamd/sink/nats"
)

// errCheckFailed is `streamd check` finding a problem (already printed).
var errCheckFailed = errors.New("check failed")

// check validates the configuration, probes each topic on the reader
// endpoint (counting what it holds from earliest) and each path and sink
// that run will open, printing a report. It fails if anything did; an
// empty topic is a warning.
func (m *Main) check(ctx context.Context, _ []string, _ <-chan os.Signal) error {
	c, err := loadConfig(m.Getenv, m.environ(), nil)
	if err != nil {
		return err
	}

	r := &report{w: m.Stdout, ok: true, redact: c.redact}
	fmt.Fprintf(r.w, "configuration  ok    tenant %s, %s mode, %s auth, credential: %s\n", c.Tenant, c.Mode, c.Auth, c.credKind)
	if c.regionNote != "" {
		r.note("region: " + c.regionNote)
	}

	for _, w := range c.warnings {
		r.note("warning: " + w)
	}

	for _, ref := range c.topics {
		r.topic(ctx, c, ref)
	}

	for _, name := range c.Sinks {
		r.sink(ctx, c, name)
	}

	r.checkpoints(ctx, c)
	r.stateDir(c.StateDir)
	r.path("dead letters  ", c.DeadLetterPath, probeFile(c.DeadLetterPath, true))

	if !r.ok {
		return reported(errCheckFailed)
	}

	return nil
}

// report is the output of `streamd check`. Every line goes through redact
// whole, before anything else is done to it.
type report struct {
	w      io.Writer
	ok     bool // nothing failed so far
	redact func(string) string
}

// mark is the status column of a line.
func (r *report) mark(good bool) string {
	if good {
		return "ok  "
	}
	r.ok = false
	return "FAIL"
}

// line prints one redacted line.
func (r *report) line(format string, args ...any) {
	fmt.Fprintln(r.w, r.redact(fmt.Sprintf(format, args...)))
}

// note prints an indented remark under the previous line.
func (r *report) note(s string) { r.line("               %s", s) }

// sink probes one sink and reports it.
func (r *report) sink(ctx context.Context, c *Config, name string) {
	switch name {
	case "stdout":
		r.line("sink stdout    %s", r.mark(true))
	case "file":
		r.path("sink file     ", c.FilePath, probeFile(c.FilePath, false))
	case "nats":
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := probeNATS(pctx, c)
		cancel()
		r.line("sink nats      %s  %s%s", r.mark(err == nil), redact.Value(c.NATSURL), errSuffix(err))
	}
}

// checkpoints reports the nats checkpoint bucket of a reader (the file
// store is covered by the state dir line).
func (r *report) checkpoints(ctx context.Context, c *Config) {
	if c.CheckpointStore != "nats" || c.Mode != string(consumer.ModeReader) {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	what, err := probeCheckpointBucket(pctx, c)
	r.line("checkpoints    %s  nats bucket %s%s%s", r.mark(err == nil), c.CheckpointBucket, what, errSuffix(err))
}

// path reports the probe of a path: err, or what the probe found.
func (r *report) path(label, path string, p probe) {
	r.line("%s %s  %s%s", label, r.mark(p.err == nil), path, p.suffix())
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

func probeNATS(ctx context.Context, c *Config) error {
	nc := c.natsConfig(newLogger(os.Stderr, "json", "error"))
	s, err := natssink.Open(ctx, nc)
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	return s.Ping(ctx)
}
