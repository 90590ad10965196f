package main

import (
	"os/exec"
	"strings"
	"testing"
)

// testOnly are the packages, and the prefixes of package paths, that only
// tests may link: the testing package, goleak, the embedded NATS server and
// this module's test helpers.
var testOnly = []string{
	"testing",
	"testing/",
	"go.uber.org/goleak",
	"github.com/nats-io/nats-server/",
	"github.com/streamd/streamd/internal/testutil",
	"github.com/streamd/streamd/internal/natstest",
	"github.com/streamd/streamd/sink/sinktest",
}

// TestBinaryHasNoTestDependencies: `go list -deps ./cmd/streamd` names no
// test-only package. The emulator is linked for `demo` and `emulate`, so it
// must not import testing (pulsartest.Start takes a pulsartest.TB).
func TestBinaryHasNoTestDependencies(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %d packages; the check would prove nothing", len(deps))
	}
	for _, dep := range deps {
		for _, bad := range testOnly {
			if dep == bad || strings.HasSuffix(bad, "/") && strings.HasPrefix(dep, bad) {
				t.Errorf("the daemon links the test-only package %s", dep)
			}
		}
	}
}
