package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/consumer"
	natssink "github.com/streamd/streamd/sink/nats"
)

// check validates the configuration, performs one handshake per topic and
// probes each sink, printing a report. It exits 0 only if everything passed.
func (m *Main) check(ctx context.Context) int {
	c, err := loadConfig(m.Getenv, nil)
	if err != nil {
		return m.configFailed(err)
	}
	w := m.Stdout
	ok := true
	mark := func(good bool) string {
		if good {
			return "ok  "
		}
		ok = false
		return "FAIL"
	}
	fmt.Fprintf(w, "configuration  ok    tenant %s, %s mode, %s auth, credential: %s\n", c.Tenant, c.Mode, c.Auth, c.credKind)
	for _, ref := range c.topics {
		cc := c.consumerConfig(ref)
		start := "latest"
		u, _ := cc.URL(start)
		shown := *u
		q := shown.Query()
		if q.Has("x-api-key") {
			q.Set("x-api-key", "REDACTED")
			shown.RawQuery = q.Encode()
		}
		began := time.Now()
		conn, err := consumer.Dial(ctx, cc, start)
		if err == nil {
			_ = conn.Close(websocket.StatusNormalClosure, "")
			fmt.Fprintf(w, "topic %-8s %s  %s: handshake 101 in %s\n", ref, mark(true), shown.String(), time.Since(began).Round(time.Millisecond))
			continue
		}
		fmt.Fprintf(w, "topic %-8s %s  %s: %v\n", ref, mark(false), shown.String(), err)
		if hint := consumer.Hint(err); hint != "" {
			fmt.Fprintf(w, "               hint: %s\n", hint)
		}
	}
	for _, name := range c.Sinks {
		switch name {
		case "stdout":
			fmt.Fprintf(w, "sink stdout    %s\n", mark(true))
		case "file":
			err := probeDir(filepath.Dir(c.FilePath))
			fmt.Fprintf(w, "sink file      %s  %s%s\n", mark(err == nil), c.FilePath, errSuffix(err))
		case "nats":
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := probeNATS(pctx, c)
			cancel()
			fmt.Fprintf(w, "sink nats      %s  %s%s\n", mark(err == nil), c.NATSURL, errSuffix(err))
		}
	}
	err = probeDir(c.StateDir)
	fmt.Fprintf(w, "state dir      %s  %s%s\n", mark(err == nil), c.StateDir, errSuffix(err))
	if !ok {
		return exitFail
	}
	return exitOK
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
