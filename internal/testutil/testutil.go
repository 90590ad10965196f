// Package testutil holds the helpers streamd's tests share: waiting for a
// condition with a deadline, a buffer that concurrent writers and a reading
// test can share, and a context bounded by the test.
//
// It is imported only by _test.go files; the daemon's binary never links it
// (see cmd/streamd's TestBinaryHasNoTestDependencies).
package testutil

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// PollInterval is how often WaitFor evaluates its condition.
const PollInterval = 2 * time.Millisecond

// WaitFor evaluates cond every PollInterval until it returns true, and fails
// tb with Fatalf ("timed out after d waiting for what") if it still returns
// false after d. Use it instead of a sleep whenever a test reads state that
// another goroutine or process updates after the test's last action (an
// emulator processing acks, a child process writing a file). cond runs on
// the calling goroutine.
func WaitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()

	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		<-tick.C
	}
}

// Context returns a context cancelled after d or when tb's test ends,
// whichever comes first.
func Context(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// SyncBuffer is a bytes.Buffer safe for concurrent use: a logger or a child
// process writes to it while the test reads it. The zero value is empty and
// ready to use.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; it never fails.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of everything written so far.
func (b *SyncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines returns the complete lines written so far, without their '\n'; a
// final line still being written is left out.
func (b *SyncBuffer) Lines() []string {
	s := b.String()
	i := strings.LastIndexByte(s, '\n')
	if i < 0 {
		return nil
	}
	return strings.Split(s[:i], "\n")
}
