package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sys/unix"

	"github.com/streamd/streamd/consumer"
)

// How `check` counts what a topic holds: at most countLimit messages (the
// proxy's largest window, so no flow ack is ever sent), within countTime,
// ending early once no message came for countIdle.
const (
	countLimit = 1000
	countTime  = 5 * time.Second
	countIdle  = time.Second
)

// topic probes ref on the reader endpoint at earliest, in either mode, and
// reports the handshake and how many messages the topic holds. The reader
// is non-durable and acks nothing: in consumer mode the durable
// subscription is never attached, so check cannot take messages from it or
// create it from a mistyped name. The same key, tenant and topic are
// proved all the same (the proxy authorizes readers and consumers alike).
func (r *report) topic(ctx context.Context, c *Config, ref topicRef) {
	cc := c.consumerConfig(ref)
	cc.Mode, cc.ReceiverQueueSize = consumer.ModeReader, countLimit
	const start = "earliest"
	u, _ := cc.URL(start)

	began := time.Now()
	conn, err := consumer.Dial(ctx, cc, start)
	if err != nil {
		r.line("topic %-8s %s  %s: %v", ref, r.mark(false), u, err)
		if hint := consumer.Hint(err); hint != "" {
			r.note("hint: " + hint)
		}
		return
	}

	took := time.Since(began).Round(time.Millisecond)
	n, err := countMessages(ctx, conn)
	_ = conn.Close(websocket.StatusNormalClosure, "")

	held := fmt.Sprintf("%d messages from earliest", n)
	if n == countLimit {
		held = fmt.Sprintf("at least %d messages from earliest", n)
	}

	r.line("topic %-8s %s  %s: reader handshake 101 in %s; %s", ref, r.mark(true), u, took, held)
	r.note(probedWhat(c))

	if err != nil {
		r.note("the proxy ended the count early: " + err.Error())
	}

	if n == 0 {
		r.note("warning: the topic holds no messages from earliest. 8x8 documents that a wrong region " +
			"authenticates fine and then delivers nothing: check STREAMD_REGION against your Contact Center " +
			"cluster (vcc-<cluster>.8x8.com), or the topic may simply be quiet or new")
	}
}

// probedWhat says what the topic probe did, and did not do, in c's mode.
func probedWhat(c *Config) string {
	s := fmt.Sprintf("probed: a non-durable reader at earliest, up to %d messages or %s, nothing acked", countLimit, countTime)
	if c.Mode == string(consumer.ModeConsumer) {
		s += fmt.Sprintf("; subscription %q (%s) not attached, so nothing was taken from it", c.Subscription, c.SubscriptionType)
	}
	return s
}

// countMessages reads message frames from conn until countLimit, countTime
// or countIdle without one. It never acks. err is a failure other than
// reaching those bounds.
func countMessages(ctx context.Context, conn *websocket.Conn) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, countTime)
	defer cancel()
	n := 0
	for n < countLimit {
		rctx, rcancel := context.WithTimeout(ctx, countIdle)
		_, data, err := conn.Read(rctx)
		idle := rctx.Err() != nil
		rcancel()
		if err != nil {
			if idle {
				return n, nil
			}
			return n, fmt.Errorf("read: %w", err)
		}

		var f struct {
			MessageID string `json:"messageId"`
		}
		if json.Unmarshal(data, &f) == nil && f.MessageID != "" {
			n++
		}
	}

	return n, nil
}

// probe is what checking a path found: err, or a note on what is there.
type probe struct {
	err  error
	note string
}

func (p probe) suffix() string {
	switch {
	case p.err != nil:
		return ": " + p.err.Error()
	case p.note != "":
		return " (" + p.note + ")"
	}
	return ""
}

// probeDir checks that run can use dir, which run creates when missing: an
// existing dir must be a writable directory, a missing one needs a
// writable nearest existing ancestor. Nothing is created.
func probeDir(dir string) probe {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return probe{err: errors.New("not a directory")}
	case err == nil:
		return probe{err: writable(dir)}
	case !os.IsNotExist(err):
		return probe{err: err}
	}

	anc, err := existingAncestor(dir)
	if err != nil {
		return probe{err: err}
	}

	if err := writable(anc); err != nil {
		return probe{err: fmt.Errorf("missing, and cannot be created in %s: %w", anc, err)}
	}

	return probe{note: "missing; run creates it in " + anc}
}

// probeFile checks that run can open path for appending. An existing path
// must open for writing (a directory fails). A missing one needs its
// directory: existing and writable, or, with mkdir (run creates it), a
// directory probeDir accepts. Nothing is created.
func probeFile(path string, mkdir bool) probe {
	fi, err := os.Stat(path)
	if err == nil {
		if fi.IsDir() {
			return probe{err: errors.New("is a directory")}
		}

		if fi.Mode().Type() == os.ModeNamedPipe {
			return probeFIFO(path)
		}

		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return probe{err: err}
		}

		_ = f.Close()

		if !fi.Mode().IsRegular() {
			return probe{note: "exists, a special file (" + fi.Mode().Type().String() + "), appendable"}
		}

		return probe{note: fmt.Sprintf("exists, %d bytes, appendable", fi.Size())}
	}

	if !os.IsNotExist(err) {
		return probe{err: err}
	}

	dir := filepath.Dir(path)
	if mkdir {
		if p := probeDir(dir); p.err != nil {
			return probe{err: fmt.Errorf("directory %s: %w", dir, p.err)}
		}
		return probe{note: "missing; run creates it"}
	}

	di, err := os.Stat(dir)
	switch {
	case err != nil && os.IsNotExist(err):
		return probe{err: fmt.Errorf("directory %s does not exist, and run does not create it", dir)}
	case err != nil:
		return probe{err: err}
	case !di.IsDir():
		return probe{err: fmt.Errorf("%s is not a directory", dir)}
	}

	if err := writable(dir); err != nil {
		return probe{err: fmt.Errorf("directory %s: %w", dir, err)}
	}

	return probe{note: "missing; run creates it"}
}

// probeFIFO checks that run can write to the named pipe at path without
// opening it: an open for writing waits for a reader, and closing it again
// would end a reading collector's stream (it reads EOF).
func probeFIFO(path string) probe {
	if err := unix.Access(path, unix.W_OK); err != nil {
		return probe{err: fmt.Errorf("named pipe not writable: %w", err)}
	}
	return probe{note: "named pipe, writable; run waits for a reader"}
}

// writable reports whether files can be created in dir (access(2) with
// W_OK|X_OK: permissions and read-only mounts).
func writable(dir string) error {
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	return nil
}

// existingAncestor is the nearest ancestor of dir that exists; it must be
// a directory.
func existingAncestor(dir string) (string, error) {
	for d := filepath.Dir(filepath.Clean(dir)); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return "", fmt.Errorf("%s is not a directory", d)
			}
			return d, nil
		}

		if !os.IsNotExist(err) || d == filepath.Dir(d) {
			return "", err
		}
	}
}
