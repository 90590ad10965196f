package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFail   = 1
	exitUsage  = 2
	exitConfig = 78 // EX_CONFIG: systemd's RestartPreventExitStatus
)

// Main is the command line: everything the process needs from outside is a
// field, so tests can run it in-process.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Run executes the command in args and returns the exit status. signals
// delivers SIGTERM/SIGINT (stop) and SIGHUP (reopen files).
func (m *Main) Run(ctx context.Context, args []string, signals <-chan os.Signal) int {
	cmd := "run"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "run":
		return m.daemon(ctx, signals, nil)
	case "check":
		return m.check(ctx)
	case "demo":
		return m.demo(ctx, signals)
	case "emulate":
		return m.emulate(ctx, signals)
	case "version", "-version", "--version":
		fmt.Fprintln(m.Stdout, "streamd", version)
		return exitOK
	case "help", "-h", "-help", "--help":
		m.help(m.Stdout)
		return exitOK
	}
	fmt.Fprintf(m.Stderr, "streamd: unknown command %q\n\n", cmd)
	m.help(m.Stderr)
	return exitUsage
}

// configFailed reports a configuration error and returns its exit status.
func (m *Main) configFailed(err error) int {
	fmt.Fprintln(m.Stderr, "streamd:", err)
	var ce *configError
	if errors.As(err, &ce) {
		return exitConfig
	}
	return exitFail
}

func (m *Main) help(w io.Writer) {
	fmt.Fprint(w, `streamd streams 8x8 contact-center events into stdout, files and NATS.

Usage: streamd [command]

Commands:
  run       run the daemon (default)
  check     validate the configuration, do one handshake per topic, probe sinks
  demo      run the pipeline against a built-in emulator (no 8x8 account needed)
  emulate   run only the emulator of 8x8's proxy, for testing your own pipeline
  version   print the version
  help      print this help

Configuration comes from environment variables (see config.example.env):

`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIABLE\tDEFAULT\tMEANING")
	for _, v := range envVars() {
		def := v[1]
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v[0], def, v[2])
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\nExit status: 0 ok, 1 failure, 78 invalid configuration.")
}
