package replay_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/streamd/streamd/internal/replay"
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
