package testutil_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamd/streamd/internal/testutil"
)

// fakeTB records a Fatalf instead of ending the test.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) { f.failed = fmt.Sprintf(format, args...) }

func TestWaitFor(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	testutil.WaitFor(t, 5*time.Second, "three increments", func() bool { return n.Load() == 3 })

	f := &fakeTB{TB: t}
	start := time.Now()
	testutil.WaitFor(f, 20*time.Millisecond, "never", func() bool { return f.failed != "" })
	if f.failed != "timed out after 20ms waiting for never" {
		t.Errorf("failure %q", f.failed)
	}
	if took := time.Since(start); took < 20*time.Millisecond {
		t.Errorf("gave up after %v, before the deadline", took)
	}
}

func TestContext(t *testing.T) {
	var ctx interface{ Err() error }
	t.Run("ends with the test", func(t *testing.T) {
		ctx = testutil.Context(t, time.Hour)
		if ctx.Err() != nil {
			t.Fatal("cancelled early")
		}
	})
	if ctx.Err() == nil {
		t.Error("not cancelled when the test ended")
	}

	short := testutil.Context(t, time.Millisecond)
	testutil.WaitFor(t, 5*time.Second, "the deadline", func() bool { return short.Err() != nil })
}

func TestSyncBuffer(t *testing.T) {
	var b testutil.SyncBuffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("x\n"))
				_ = b.Lines()
			}
		})
	}
	wg.Wait()
	if n := len(b.Lines()); n != 400 {
		t.Errorf("%d lines, want 400", n)
	}

	var c testutil.SyncBuffer
	_, _ = c.Write([]byte("a\nb\npart"))
	if got := c.Lines(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Lines() = %q", got)
	}
	if got := string(c.Bytes()); got != "a\nb\npart" || c.String() != got {
		t.Errorf("Bytes() = %q, String() = %q", got, c.String())
	}
}
