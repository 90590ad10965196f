package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamd/streamd/internal/buildinfo"
)

// Decode stages, the values of the "stage" label of streamd_decode_errors_total.
var decodeStages = []string{"frame", "payload"}

// InitTopic creates every series of topic at 0 (counters) or "not
// connected" (gauges), with reasons as the known values of
// streamd_reconnects_total's "reason" label and statuses as the known
// handshake failure statuses (0: no HTTP response). Series that exist from
// the start let alerts such as increase(streamd_dead_letters_total[10m]) > 0
// fire on the first occurrence after a start, and dashboards show 0, not
// "no data".
func (m *Metrics) InitTopic(topic string, reasons []string, statuses []int) {
	if m == nil {
		return
	}

	m.received.WithLabelValues(topic)
	m.acked.WithLabelValues(topic)
	m.redelivered.WithLabelValues(topic)
	m.deadLetters.WithLabelValues(topic)

	for _, s := range decodeStages {
		m.decodeErrors.WithLabelValues(topic, s)
	}

	for _, r := range reasons {
		m.reconnects.WithLabelValues(topic, r)
	}

	for _, s := range statuses {
		m.handshakeFail.WithLabelValues(topic, statusLabel(s))
	}

	m.connected.WithLabelValues(topic).Set(0)
	m.inflight.WithLabelValues(topic).Set(0)
}

// InitSink creates the series of sink at 0 and marks it ready.
func (m *Metrics) InitSink(sink string) {
	if m == nil {
		return
	}
	m.accepted.WithLabelValues(sink)
	m.sinkErrors.WithLabelValues(sink)
	m.sinkLatency.WithLabelValues(sink)
	m.sinkReady.WithLabelValues(sink).Set(1)
}

// SinkReady sets streamd_sink_ready of sink: false while its writes fail.
func (m *Metrics) SinkReady(sink string, ready bool) {
	if m == nil {
		return
	}
	m.sinkReady.WithLabelValues(sink).Set(boolGauge(ready))
}

// buildInfoGauge is streamd_build_info: constant 1, with the build as labels
// (the Prometheus "info" metric convention).
func buildInfoGauge(i buildinfo.Info) prometheus.Collector {
	rev := i.Revision
	if rev == "" {
		rev = "unknown"
	}

	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "streamd_build_info",
		Help: "Always 1; the labels say which build is running (version, VCS revision, Go version).",
		ConstLabels: prometheus.Labels{
			"version":    i.Version,
			"revision":   rev,
			"go_version": i.GoVersion,
		},
	})

	g.Set(1)

	return g
}
