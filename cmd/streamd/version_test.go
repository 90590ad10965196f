package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestVersionFromGitCheckout: `go build` in a git checkout, then `streamd
// version`, prints the commit (not "dev"), unmodified, with its pseudo-version
// and the Go version; -ldflags -X overrides them for releases. The checkout
// is a fresh clone of this repository's HEAD, so uncommitted work here does
// not matter (and a git worktree, whose .git is a file, is not stamped by
// the go command).
func TestVersionFromGitCheckout(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skip("not in a git checkout")
	}
	src := filepath.Join(t.TempDir(), "src")
	gitRun(t, "", "clone", "-q", "--no-hardlinks", strings.TrimSpace(string(root)), src)
	head := gitRun(t, src, "rev-parse", "HEAD")

	out := buildAndRun(t, src, "-buildvcs=true")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^streamd v\d+\.\d+\.\d+-\S*` + head[:12] + `$`),
		regexp.MustCompile(`(?m)^commit: +` + head + `$`),
		regexp.MustCompile(`(?m)^time: +\d{4}-\d\d-\d\dT`),
		regexp.MustCompile(`(?m)^go: +go1\.`),
	} {
		if !want.MatchString(out) {
			t.Errorf("version output does not match %s:\n%s", want, out)
		}
	}

	const pkg = "github.com/streamd/streamd/internal/buildinfo"
	out = buildAndRun(t, src, "-buildvcs=false", "-ldflags=-X "+pkg+".version=v9.8.7 -X "+pkg+".revision=0123abcd")
	if !strings.HasPrefix(out, "streamd v9.8.7\ncommit:  0123abcd\n") {
		t.Errorf("-ldflags override not printed:\n%s", out)
	}
}

func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// buildAndRun builds ./cmd/streamd in src with flags and returns the output
// of `streamd version`.
func buildAndRun(t *testing.T, src string, flags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "streamd")
	build := exec.Command("go", append(append([]string{"build"}, flags...), "-o", bin, "./cmd/streamd")...)
	build.Dir = src
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", flags, err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("streamd version: %v", err)
	}
	return string(out)
}
