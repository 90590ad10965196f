// Command streamd streams 8x8 contact-center events from 8x8's Event
// Streaming service (a Pulsar WebSocket proxy) into stdout, files, NATS and
// JetStream without losing any. Run `streamd help` for commands and variables.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/internal/redact"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFail   = 1
	exitUsage  = 2
	exitConfig = 78 // EX_CONFIG: systemd's RestartPreventExitStatus
)

func main() {
	m := &Main{
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Getenv:  os.Getenv,
		Environ: os.Environ,
	}
	backstop()
	err := m.Run(context.Background(), os.Args[1:], signalChannel())
	os.Exit(m.exitStatus(err))
}

// forceExitAfter is how long after a second SIGTERM/SIGINT backstop ends
// the process: longer than the daemon's own abort takes (two abortGrace
// waits), so it only acts when the daemon cannot.
const forceExitAfter = 3 * abortGrace

// backstop makes a second SIGTERM/SIGINT end the process within
// forceExitAfter even when the daemon cannot act on it, because its main
// loop is blocked itself: logging to a stderr pipe nobody reads
// (`streamd run 2>&1 | sleep 100`) blocks every log call. It writes
// nothing, for the same reason, and exits 1. Signals are delivered to this
// channel as well as to the daemon's.
func backstop() {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-ch
		<-ch
		<-time.After(forceExitAfter)
		os.Exit(exitFail)
	}()
}

// signalChannel delivers SIGTERM, SIGINT and SIGHUP.
func signalChannel() <-chan os.Signal {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	return ch
}

// exitStatus reports err on Stderr, unless it was reported already (and
// after a *usageError, the usage), and returns its exit status.
func (m *Main) exitStatus(err error) int {
	if err == nil {
		return exitOK
	}

	var re *reportedError
	if !errors.As(err, &re) {
		// The whole text, redacted once more: no URL userinfo leaves
		// whatever produced the error.
		fmt.Fprintln(m.Stderr, "streamd:", redact.String(err.Error()))
	}

	var ue *usageError
	if errors.As(err, &ue) && ue.usage != nil {
		fmt.Fprintln(m.Stderr)
		ue.usage(m.Stderr)
	}

	return exitCode(err)
}

// exitCode maps what Main.Run returned to the exit status, in one place:
//
//	nil                                      0
//	*usageError                              2
//	*configError or consumer.ErrCheckpoint  78
//	anything else                            1
func exitCode(err error) int {
	var (
		ue *usageError
		ce *configError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ce), errors.Is(err, consumer.ErrCheckpoint):
		return exitConfig
	}

	return exitFail
}

// usageError is a command line streamd does not understand: exit status 2,
// with usage printed after the message.
type usageError struct {
	msg   string
	usage func(io.Writer)
}

func (e *usageError) Error() string { return e.msg }

// reportedError is a failure already reported (logged, or printed in a
// report): exitStatus only maps it to a status.
type reportedError struct{ err error }

func (e *reportedError) Error() string { return e.err.Error() }

func (e *reportedError) Unwrap() error { return e.err }

// reported marks err as reported; nil stays nil.
func reported(err error) error {
	if err == nil {
		return nil
	}
	return &reportedError{err: err}
}
