package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// binary is the streamd executable built by TestMain for the tests that run
// it as a child process, or buildErr why it could not be built. They are
// written once before any test runs.
var binary struct {
	path     string
	buildErr error
}

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "streamd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binary.path, binary.buildErr = buildStreamd(dir)
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// buildStreamd builds ./cmd/streamd from the module root into dir (with
// -race when the tests run with it) and returns the executable's path.
func buildStreamd(dir string) (string, error) {
	if testing.Short() {
		return "", fmt.Errorf("not built in -short mode")
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("find module root: not in a module")
	}
	bin := filepath.Join(dir, "streamd")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/streamd")...)
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/streamd: %w\n%s", err, out)
	}
	return bin, nil
}

// streamdBinary returns the built executable or fails the test.
func streamdBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the streamd binary; skipped in -short mode")
	}
	if binary.buildErr != nil {
		t.Fatalf("streamd binary unavailable: %v", binary.buildErr)
	}
	return binary.path
}
