package metrics

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestNotifyDropped: streamd_sdnotify_dropped_total exists at 0 from the
// start and then reports the source's count at each scrape.
func TestNotifyDropped(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	const want0 = "# HELP streamd_sdnotify_dropped_total sd_notify datagrams (READY, STATUS, WATCHDOG, STOPPING) dropped because the notify socket's queue was full.\n" +
		"# TYPE streamd_sdnotify_dropped_total counter\nstreamd_sdnotify_dropped_total 0\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want0), "streamd_sdnotify_dropped_total"); err != nil {
		t.Errorf("before a source: %v", err)
	}

	var dropped atomic.Uint64
	m.NotifyDropped(dropped.Load)
	dropped.Add(3)
	want3 := strings.Replace(want0, "total 0", "total 3", 1)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want3), "streamd_sdnotify_dropped_total"); err != nil {
		t.Errorf("after 3 drops: %v", err)
	}

	var nilMetrics *Metrics
	nilMetrics.NotifyDropped(dropped.Load)
}
