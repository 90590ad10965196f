package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestKnownSeriesStartAtZero: the series alerts use exist at 0 before the
// first event, so increase() sees the first dead letter, reconnect or sink
// error after a start.
func TestKnownSeriesStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.InitTopic(topic, []string{"unauthorized", "dial"}, []int{0, 401})
	m.InitSink("nats")
	want := map[string]int{
		"streamd_events_received_total":       1,
		"streamd_events_acked_total":          1,
		"streamd_events_redelivered_total":    1,
		"streamd_dead_letters_total":          1,
		"streamd_decode_errors_total":         2,
		"streamd_reconnects_total":            2,
		"streamd_handshake_failures_total":    2,
		"streamd_connected":                   1,
		"streamd_inflight_events":             1,
		"streamd_sink_events_accepted_total":  1,
		"streamd_sink_write_errors_total":     1,
		"streamd_sink_write_duration_seconds": 1,
		"streamd_sink_ready":                  1,
		"streamd_build_info":                  1,
	}
	for name, n := range want {
		if got := testutil.CollectAndCount(reg, name); got != n {
			t.Errorf("%s: %d series, want %d", name, got, n)
		}
	}
	if v := testutil.ToFloat64(m.deadLetters.WithLabelValues(topic)); v != 0 {
		t.Errorf("dead letters start at %v", v)
	}
	if v := testutil.ToFloat64(m.sinkReady.WithLabelValues("nats")); v != 1 {
		t.Errorf("sink ready starts at %v", v)
	}
	m.SinkReady("nats", false)
	if v := testutil.ToFloat64(m.sinkReady.WithLabelValues("nats")); v != 0 {
		t.Errorf("sink ready after failure %v", v)
	}
	var nilM *Metrics
	nilM.InitTopic(topic, nil, nil)
	nilM.InitSink("nats")
	nilM.SinkReady("nats", true)
}

func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "streamd_build_info" {
			continue
		}
		labels := map[string]string{}
		for _, l := range mf.GetMetric()[0].GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["version"] == "" || labels["revision"] == "" || !strings.HasPrefix(labels["go_version"], "go") {
			t.Errorf("build info labels %v", labels)
		}
		if v := mf.GetMetric()[0].GetGauge().GetValue(); v != 1 {
			t.Errorf("build info value %v", v)
		}
		return
	}
	t.Error("no streamd_build_info")
}
