package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/internal/testutil"
)

// A shell block of the Markdown docs (```sh) says how it is kept true by an
// HTML comment on the line before it:
//
//	<!-- runnable -->             TestRunnableDocs runs it with `streamd` on
//	                              PATH, in an empty directory, offline, with
//	                              STREAMD_EMULATOR_ADDR a free port (other
//	                              runs may use the default); it must exit 0
//	                              within docsTimeout
//	<!-- runnable: interrupt -->  it runs until Ctrl-C: the test runs it from
//	                              the repository root, waits for its first
//	                              line on stdout, sends SIGINT to its process
//	                              group, and wants a clean stop (exit 0)
//	<!-- ci: SCRIPT -->           SCRIPT (under .ci/) runs it; the test checks
//	                              that SCRIPT exists and names the marker
//	<!-- manual: WHY -->          it needs what no test has (an 8x8 account,
//	                              sudo on a real host, a registry); WHY says so
//
// A block without one of them fails TestDocsBlocksMarked.
const docsTimeout = 2 * time.Minute

// docBlock is one fenced shell block of a Markdown file.
type docBlock struct {
	file   string // relative to the repository root
	line   int    // of the opening fence
	marker string // the comment before it, without <!-- -->; "" if none
	script string
}

var markerRe = regexp.MustCompile(`^<!--\s*(.*?)\s*-->$`)

// docBlocks returns every ```sh block of the Markdown files under root.
func docBlocks(t *testing.T, root string) []docBlock {
	t.Helper()
	var blocks []docBlock
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".md") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		blocks = append(blocks, shellBlocks(rel, b)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return blocks
}

// shellBlocks parses the ```sh blocks of one Markdown file.
func shellBlocks(file string, md []byte) []docBlock {
	var (
		blocks []docBlock
		cur    *docBlock
		prev   string // the last non-blank line outside a block
		body   strings.Builder
	)
	sc := bufio.NewScanner(bytes.NewReader(md))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur != nil && strings.HasPrefix(line, "```"):
			cur.script = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line + "\n")
		case line == "```sh" || line == "```bash":
			cur = &docBlock{file: file, line: n}
			if m := markerRe.FindStringSubmatch(prev); m != nil {
				cur.marker = m[1]
			}
			body.Reset()
		case strings.TrimSpace(line) != "":
			prev = strings.TrimSpace(line)
		}
	}
	return blocks
}

// repoRoot is the module root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestDocsBlocksMarked: every shell block in the docs says how it is kept
// true (see the markers above), and the CI scripts named exist and name it.
func TestDocsBlocksMarked(t *testing.T) {
	root := repoRoot(t)
	for _, b := range docBlocks(t, root) {
		kind, arg, _ := strings.Cut(b.marker, ":")
		arg = strings.TrimSpace(arg)
		switch kind {
		case "runnable", "manual":
		case "ci":
			script, err := os.ReadFile(filepath.Join(root, arg))
			if err != nil || !bytes.Contains(script, []byte("<!-- "+b.marker+" -->")) {
				t.Errorf("%s:%d: %q does not exist or does not name the marker <!-- %s -->", b.file, b.line, arg, b.marker)
			}
		default:
			t.Errorf("%s:%d: a shell block without <!-- runnable -->, <!-- runnable: interrupt -->, "+
				"<!-- ci: SCRIPT --> or <!-- manual: WHY --> on the line before it (see cmd/streamd/docs_test.go)", b.file, b.line)
		}
	}
}

// TestRunnableDocs runs the blocks marked runnable against the streamd
// built by TestMain.
func TestRunnableDocs(t *testing.T) {
	root := repoRoot(t)
	bin := t.TempDir()
	if err := os.Symlink(binPath, filepath.Join(bin, "streamd")); err != nil {
		t.Fatal(err)
	}
	for _, b := range docBlocks(t, root) {
		if b.marker != "runnable" && b.marker != "runnable: interrupt" {
			continue
		}
		t.Run(strings.ReplaceAll(b.file, "/", "_")+":"+strconv.Itoa(b.line), func(t *testing.T) {
			t.Parallel()
			e := baseEnv(t).with("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"),
				"GOCACHE", goEnv(t, "GOCACHE"), "GOMODCACHE", goEnv(t, "GOMODCACHE"), "GOFLAGS", os.Getenv("GOFLAGS"))
			if b.marker == "runnable" {
				runBlock(t, b, e.with("STREAMD_EMULATOR_ADDR", freeAddr(t)), t.TempDir())
				return
			}
			interruptBlock(t, b, e, root)
		})
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// goEnv returns `go env name`, so that blocks using go share the caches.
func goEnv(t *testing.T, name string) string {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// runBlock runs b in dir and wants exit 0 within docsTimeout.
func runBlock(t *testing.T, b docBlock, e env, dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), docsTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-eu", "-c", b.script)
	cmd.Dir, cmd.Env = dir, e.list()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s:%d: %v\n%s\noutput:\n%s", b.file, b.line, err, b.script, tail(string(out), 4000))
	}
}

// interruptBlock runs b in dir until its first line on stdout, then sends
// SIGINT to its process group, as Ctrl-C does, and wants exit 0.
func interruptBlock(t *testing.T, b docBlock, e env, dir string) {
	var stdout, stderr testutil.SyncBuffer
	// Like an interactive shell, sh survives the Ctrl-C and reports how
	// the command took it: a caught signal is reset to the default in
	// children, so they get SIGINT.
	cmd := exec.Command("sh", "-eu", "-c", "trap : INT\n"+b.script)
	cmd.Dir, cmd.Env = dir, e.list()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	kill := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	defer kill()

	deadline := time.Now().Add(docsTimeout)
	for len(stdout.Lines()) == 0 {
		select {
		case err := <-done:
			t.Fatalf("%s:%d: exited (%v) before printing a line:\n%s", b.file, b.line, err, tail(stderr.String(), 4000))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:%d: no line on stdout within %v:\n%s", b.file, b.line, docsTimeout, tail(stderr.String(), 4000))
		}
	}

	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		// cmd/go exits 1 after an interrupt whatever the program it ran
		// did; then the program's own log must show a clean stop.
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 1 && strings.Contains(b.script, "go run") &&
			strings.Contains(stderr.String(), `"msg":"streamd stopped","exit":0`) {
			err = nil
		}
		if err != nil {
			t.Fatalf("%s:%d: after Ctrl-C: %v\nstdout:\n%s\nstderr:\n%s", b.file, b.line, err, tail(stdout.String(), 2000), tail(stderr.String(), 4000))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s:%d: still running 30s after Ctrl-C:\n%s", b.file, b.line, tail(stderr.String(), 4000))
	}
}
