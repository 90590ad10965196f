package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// runMain runs the command line in-process as main does and returns the
// exit status, stdout and stderr. The environment is empty, so a command
// that started for real would fail with 78 instead of printing help.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	m := &Main{
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(string) string { return "" },
	}
	code = m.exitStatus(m.Run(ctx, args, nil))
	return code, out.String(), errb.String()
}

// TestCommandHelpDoesNotRun: `streamd <command> -help` (and -h, --help)
// prints that command's help on stdout and exits 0 without running it.
func TestCommandHelpDoesNotRun(t *testing.T) {
	for _, cmd := range []string{"run", "check", "demo", "emulate", "version", "help"} {
		for _, flag := range []string{"-h", "-help", "--help"} {
			code, out, errs := runMain(t, cmd, flag)
			if code != exitOK || errs != "" {
				t.Errorf("%s %s: exit %d, stderr %q; want 0 and nothing", cmd, flag, code, errs)
			}
			if !strings.HasPrefix(out, "Usage: streamd "+cmd+" ") {
				t.Errorf("%s %s: stdout does not start with its usage:\n%s", cmd, flag, out)
			}
		}
	}
	_, out, _ := runMain(t, "run", "-help")
	if !strings.Contains(out, "STREAMD_TENANT") {
		t.Errorf("run's help does not list the variables:\n%s", out)
	}
}

// TestHelpCommand: `streamd help <command>` prints what `<command> -help`
// prints; an unknown one is a usage error.
func TestHelpCommand(t *testing.T) {
	for _, cmd := range []string{"run", "check", "version"} {
		code, out, _ := runMain(t, "help", cmd)
		_, want, _ := runMain(t, cmd, "-help")
		if code != exitOK || out != want {
			t.Errorf("help %s: exit %d, stdout\n%s\nwant exit 0 and\n%s", cmd, code, out, want)
		}
	}
	code, out, errs := runMain(t, "help", "frobnicate")
	if code != exitUsage || out != "" || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("help frobnicate: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestBadArgumentsExit2: unknown flags and arguments after a command print
// the message and the command's usage on stderr and exit 2 without running.
func TestBadArgumentsExit2(t *testing.T) {
	cases := []struct {
		args       []string
		msg, usage string
	}{
		{[]string{"run", "-x"}, "run: flag provided but not defined: -x", "Usage: streamd run "},
		{[]string{"run", "--tenant=acme"}, "flag provided but not defined: -tenant", "Usage: streamd run "},
		{[]string{"run", "now"}, `run: unexpected argument "now"`, "Usage: streamd run "},
		{[]string{"check", "extra"}, `check: unexpected argument "extra"`, "Usage: streamd check "},
		{[]string{"version", "-v"}, "version: flag provided but not defined: -v", "Usage: streamd version "},
		{[]string{"help", "run", "check"}, `help: unexpected argument "check"`, "Usage: streamd [command]"},
	}
	for _, tc := range cases {
		code, out, errs := runMain(t, tc.args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d; stderr:\n%s", tc.args, code, exitUsage, errs)
		}
		if out != "" {
			t.Errorf("%q: stdout is not empty: %q", tc.args, out)
		}
		if !strings.Contains(errs, tc.msg) || !strings.Contains(errs, tc.usage) {
			t.Errorf("%q: stderr lacks %q or %q:\n%s", tc.args, tc.msg, tc.usage, errs)
		}
	}
}
