package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/consumer"
	natssink "github.com/streamd/streamd/sink/nats"
)

// errCheckFailed is `streamd check` finding a problem (already printed).
var errCheckFailed = errors.New("check failed")

// check validates the configuration, performs one handshake per topic and
// probes each sink, printing a report. It fails if anything did.
func (m *Main) check(ctx context.Context, _ []string, _ <-chan os.Signal) error {
	c, err := loadConfig(m.Getenv, nil)
	if err != nil {
		return err
	}
	r := &report{w: m.Stdout, ok: true}
	fmt.Fprintf(r.w, "configuration  ok    tenant %s, %s mode, %s auth, credential: %s\n", c.Tenant, c.Mode, c.Auth, c.credKind)
	for _, ref := range c.topics {
		r.topic(ctx, c, ref)
	}
	for _, name := range c.Sinks {
		r.sink(ctx, c, name)
	}
	r.checkpoints(ctx, c)
	r.stateDir(c.StateDir)
	if !r.ok {
		return reported(errCheckFailed)
	}
	return nil
}

// report is the output of `streamd check`.
type report struct {
	w  io.Writer
	ok bool // nothing failed so far
}

// mark is the status column of a line.
func (r *report) mark(good bool) string {
	if good {
		return "ok  "
	}
	r.ok = false
	return "FAIL"
}

// topic does one handshake with the topic and reports it, the URL shown
// without the credential.
func (r *report) topic(ctx context.Context, c *Config, ref topicRef) {
	cc := c.consumerConfig(ref)
	const start = "latest"
	u, _ := cc.URL(start)
	shown := consumer.Redact(u.String(), cc.Credential)

	began := time.Now()
	conn, err := consumer.Dial(ctx, cc, start)
	if err == nil {
		_ = conn.Close(websocket.StatusNormalClosure, "")
		fmt.Fprintf(r.w, "topic %-8s %s  %s: handshake 101 in %s\n", ref, r.mark(true), shown, time.Since(began).Round(time.Millisecond))
		return
	}
	fmt.Fprintf(r.w, "topic %-8s %s  %s: %v\n", ref, r.mark(false), shown, err)
	if hint := consumer.Hint(err); hint != "" {
		fmt.Fprintf(r.w, "               hint: %s\n", hint)
	}
}

// sink probes one sink and reports it.
func (r *report) sink(ctx context.Context, c *Config, name string) {
	switch name {
	case "stdout":
		fmt.Fprintf(r.w, "sink stdout    %s\n", r.mark(true))
	case "file":
		err := probeDir(filepath.Dir(c.FilePath))
		fmt.Fprintf(r.w, "sink file      %s  %s%s\n", r.mark(err == nil), c.FilePath, errSuffix(err))
	case "nats":
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := probeNATS(pctx, c)
		cancel()
		fmt.Fprintf(r.w, "sink nats      %s  %s%s\n", r.mark(err == nil), c.NATSURL, errSuffix(err))
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
	fmt.Fprintf(r.w, "checkpoints    %s  nats bucket %s%s%s\n", r.mark(err == nil), c.CheckpointBucket, what, errSuffix(err))
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

// probeDir checks that dir exists (creating it) and is writable.
func probeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".streamd-check-")
	if err != nil {
		return err
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
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
