package replay_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/streamd/streamd/internal/replay"
	"github.com/streamd/streamd/internal/testutil"
)

func TestBarShowsPercentEventsAndPosition(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	bar := replay.NewBar(&b, "event-v1/all")
	at := time.Date(2025, 10, 15, 9, 0, 0, 0, time.UTC)
	bar.Report(replay.Progress{Elapsed: time.Second}) // range unknown: a spinner
	bar.Finish(replay.Progress{Elapsed: 3 * time.Second, From: at, To: at.Add(4 * time.Hour),
		Result: replay.Result{Delivered: 900, Position: at.Add(4 * time.Hour), Stop: replay.StopIdle}})
	for _, want := range []string{"100%", "event-v1/all: 900 events, 300/s, at 2025-10-15 13:00:00"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("bar output %q lacks %q", b.String(), want)
		}
	}
}

func TestWatchLogsProgress(t *testing.T) {
	t.Parallel()
	var b testutil.SyncBuffer
	log := slog.New(slog.NewJSONHandler(&b, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	snap := func() replay.Progress {
		return replay.Progress{Elapsed: time.Second, Result: replay.Result{Delivered: 42, Skipped: 3}}
	}
	go func() {
		defer close(done)
		replay.Watch(ctx, time.Millisecond, snap, replay.LogReport(log, "event-v1/all"))
	}()
	testutil.WaitFor(t, 5*time.Second, "a progress line", func() bool { return strings.Contains(b.String(), `"msg":"replay progress"`) })
	cancel()
	<-done
	for _, want := range []string{`"topic":"event-v1/all"`, `"delivered":42`, `"skipped":3`, `"events_per_second":42`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("log %s lacks %s", b.String(), want)
		}
	}
}
