package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
)

// Main is the command line: everything the process needs from outside is a
// field, so tests can run it in-process.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Environ lists the environment as NAME=value entries, to find
	// STREAMD_ names streamd does not read; nil checks none.
	Environ func() []string
}

func (m *Main) environ() []string {
	if m.Environ == nil {
		return nil
	}
	return m.Environ()
}

// command is one entry of the command table. To add a command, add an entry
// to Main.commands: flags are defined on the command's own FlagSet in setup
// and parsed before its action runs.
type command struct {
	name    string
	aliases []string // other spellings, such as -help
	args    string   // positional arguments in the usage line; "" accepts none
	summary string   // one line in `streamd help`
	help    string   // the paragraph of `streamd help <name>`
	// setup defines the command's flags on fs and returns the action that
	// runs once they are parsed.
	setup func(fs *flag.FlagSet) action
}

// action runs a command with its positional arguments. signals delivers
// SIGTERM/SIGINT (stop) and SIGHUP (reopen files).
type action func(ctx context.Context, args []string, signals <-chan os.Signal) error

// commands is the command table, in the order `streamd help` lists it.
func (m *Main) commands() []command {
	return []command{
		{
			name:    "run",
			summary: "run the daemon (default)",
			help:    "Stream events from 8x8 into the configured sinks until SIGTERM or SIGINT.\nSIGHUP reopens the file sink.",
			setup:   func(*flag.FlagSet) action { return m.run },
		},
		{
			name:    "check",
			summary: "validate the configuration, probe each topic, sink and path run will use",
			help: "Validate the configuration; per topic, do one handshake on the reader endpoint at\n" +
				"earliest and count the messages it holds (at most 1000 in 5s, nothing acked; in\n" +
				"consumer mode the durable subscription is never attached); probe each sink, the\n" +
				"file sink and dead-letter paths and the state directory the way run opens them,\n" +
				"creating nothing. Prints a report; an empty topic is a warning (a wrong region\n" +
				"delivers nothing). Exit status 0 only if everything passed.",
			setup: func(*flag.FlagSet) action { return m.check },
		},
		{
			name:    "replay",
			summary: "replay a range of events into the sinks, beside a running daemon",
			help:    replayHelp,
			setup:   m.setupReplay,
		},
		{
			name:    "tail",
			summary: "print the feed for a person, one aligned line per event",
			help:    tailHelp,
			setup:   m.setupTail,
		},
		{
			name:    "demo",
			summary: "run the pipeline against a built-in emulator (no 8x8 account needed)",
			help:    "Run the real pipeline against a built-in emulator of 8x8's proxy on loopback.",
			setup:   func(*flag.FlagSet) action { return m.demo },
		},
		{
			name:    "emulate",
			summary: "run only the emulator of 8x8's proxy, for testing your own pipeline",
			help:    emulateHelp,
			setup:   func(*flag.FlagSet) action { return m.emulate },
		},
		{
			name:    "version",
			aliases: []string{"-version", "--version"},
			summary: "print the version, commit and Go version",
			help:    "Print the version, the commit it was built from (with its time, and\n\"(modified)\" for a tree with uncommitted changes) and the Go version.",
			setup:   func(*flag.FlagSet) action { return m.version },
		},
		{
			name:    "help",
			aliases: []string{"-h", "-help", "--help"},
			args:    "[command]",
			summary: "print this help, or a command's",
			help:    "Print the overview, or the help of one command.",
			setup:   func(*flag.FlagSet) action { return m.helpCommand },
		},
	}
}

// Run executes the command in args (run when args is empty). It returns
// nil, a *usageError, a *configError or another error; exitStatus maps
// them to the exit status.
func (m *Main) Run(ctx context.Context, args []string, signals <-chan os.Signal) error {
	name := "run"
	if len(args) > 0 {
		name, args = args[0], args[1:]
	}

	cmd, ok := m.lookup(name)
	if !ok {
		return &usageError{msg: fmt.Sprintf("unknown command %q", name), usage: m.help}
	}

	fs := flag.NewFlagSet("streamd "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	act := cmd.setup(fs)
	usage := func(w io.Writer) { m.commandHelp(w, cmd, fs) }
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(m.Stdout)
		return nil
	case err != nil:
		return &usageError{msg: cmd.name + ": " + err.Error(), usage: usage}
	case cmd.args == "" && fs.NArg() > 0:
		return &usageError{msg: fmt.Sprintf("%s: unexpected argument %q", cmd.name, fs.Arg(0)), usage: usage}
	}

	return act(ctx, fs.Args(), signals)
}

func (m *Main) lookup(name string) (command, bool) {
	for _, c := range m.commands() {
		if c.name == name || slices.Contains(c.aliases, name) {
			return c, true
		}
	}
	return command{}, false
}

// helpCommand prints the overview, or with one argument that command's help.
func (m *Main) helpCommand(_ context.Context, args []string, _ <-chan os.Signal) error {
	switch len(args) {
	case 0:
		m.help(m.Stdout)
		return nil
	case 1:
		cmd, ok := m.lookup(args[0])
		if !ok {
			return &usageError{msg: fmt.Sprintf("help: unknown command %q", args[0]), usage: m.help}
		}
		fs := flag.NewFlagSet("streamd "+cmd.name, flag.ContinueOnError)
		cmd.setup(fs)
		m.commandHelp(m.Stdout, cmd, fs)
		return nil
	}

	return &usageError{msg: fmt.Sprintf("help: unexpected argument %q", args[1]), usage: m.help}
}

// commandHelp prints one command's usage line, help, flags and, for the
// commands that read it, the configuration.
func (m *Main) commandHelp(w io.Writer, cmd command, fs *flag.FlagSet) {
	synopsis := "Usage: streamd " + cmd.name + " [flags]"
	if cmd.args != "" {
		synopsis += " " + cmd.args
	}

	fmt.Fprintf(w, "%s\n\n%s\n", synopsis, cmd.help)

	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "  -h, -help\n    \tprint this help")

	if slices.Contains([]string{"run", "check", "replay", "tail"}, cmd.name) {
		fmt.Fprint(w, "\nConfiguration comes from environment variables (see config.example.env):\n\n")
		printVars(w, envVars())
	}

	if cmd.name == "emulate" {
		fmt.Fprint(w, "\nIt reads these environment variables:\n\n")
		printVars(w, emulatorVars())
	}

	fmt.Fprintln(w, "\nExit status: 0 ok, 1 failure, 2 usage error (unknown command or flag), 78 invalid configuration or flag value.")
}

// help prints the overview: commands and every variable.
func (m *Main) help(w io.Writer) {
	fmt.Fprint(w, `streamd streams 8x8 contact-center events into stdout, files and NATS.

Usage: streamd [command] [flags]

Commands:
`)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range m.commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}

	_ = tw.Flush()
	fmt.Fprint(w, "\n`streamd help <command>` or `streamd <command> -help` describes one command.\n")

	fmt.Fprint(w, "\nConfiguration comes from environment variables (see config.example.env):\n\n")
	printVars(w, envVars())
	fmt.Fprint(w, "\n`emulate` serves the tenant STREAMD_TENANT (default demo) and accepts only\nSTREAMD_API_KEY or STREAMD_API_KEY_FILE when set; `streamd help emulate` has details.\n")
	fmt.Fprintln(w, "\nExit status: 0 ok, 1 failure, 2 usage error (unknown command or flag), 78 invalid configuration or flag value.")
}

// printVars prints vars (name, default, meaning) as a table.
func printVars(w io.Writer, vars [][3]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIABLE\tDEFAULT\tMEANING")
	for _, v := range vars {
		def := v[1]
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v[0], def, v[2])
	}
	_ = tw.Flush()
}

// runDaemon runs the daemon of `streamd run`. override, if set, adjusts
// the configuration before validation (used by demo).
func (m *Main) runDaemon(ctx context.Context, signals <-chan os.Signal, override func(*Config)) error {
	c, err := loadConfig(m.Getenv, m.environ(), override)
	if err != nil {
		return err
	}

	if err := refuseJournalStdout(c, m.Stdout, m.Getenv); err != nil {
		return err
	}

	log := newLogger(m.Stderr, c.LogFormat, c.LogLevel, c.secrets()...)
	c.logDerived(log)
	d, err := newDaemon(ctx, c, log, m.Stdout)
	if err != nil {
		return err
	}

	err = d.Run(signals)
	if cerr := d.Close(); err == nil {
		err = cerr
	}

	log.Info("streamd stopped", "exit", exitCode(err))

	return err
}

func (m *Main) run(ctx context.Context, _ []string, signals <-chan os.Signal) error {
	return m.runDaemon(ctx, signals, nil)
}
