// Package metrics holds streamd's Prometheus instruments. A nil *Metrics is
// valid and records nothing, so packages can be used without metrics.
package metrics

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamd/streamd/internal/buildinfo"
)

// Metrics is the set of instruments. Labels stay low-cardinality: "topic" is
// a configured topic entry (e.g. "event-v1/all"), "sink" a sink name.
type Metrics struct {
	received      *prometheus.CounterVec
	acked         *prometheus.CounterVec
	accepted      *prometheus.CounterVec
	sinkErrors    *prometheus.CounterVec
	sinkLatency   *prometheus.HistogramVec
	deadLetters   *prometheus.CounterVec
	decodeErrors  *prometheus.CounterVec
	connected     *prometheus.GaugeVec
	reconnects    *prometheus.CounterVec
	handshakeFail *prometheus.CounterVec
	inflight      *prometheus.GaugeVec
	redelivered   *prometheus.CounterVec
	sinkReady     *prometheus.GaugeVec
	notifyDropped atomic.Pointer[func() uint64] // see NotifyDropped
	instance      *prometheus.GaugeVec
	readerBehind  *prometheus.GaugeVec

	mu         sync.Mutex
	checkpoint map[string]time.Time // topic → last checkpoint write
	published  map[string]time.Time // topic → publish time of last accepted event
	now        func() time.Time

	ageDesc, lagDesc *prometheus.Desc
}

// New creates the instruments and registers them with reg, including
// streamd_build_info for the running binary (see internal/buildinfo).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamd_events_received_total",
			Help: "Data frames read from the proxy.",
		}, []string{"topic"}),
		acked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamd_events_acked_total",
			Help: "Messages acknowledged to the proxy after every sink accepted them (or after dead-lettering).",
		}, []string{"topic"}),
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamd_events_redelivered_total",
			Help: "Data frames with redeliveryCount > 0.",
		}, []string{"topic"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamd_sink_events_accepted_total",
			Help: "Events a sink accepted durably (filtered-out events excluded).",
		}, []string{"sink"}),
		sinkErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamd_sink_write_errors_total",
			Help: "Failed sink writes; the batch is retried.",
		}, []string{"sink"}),
		sinkLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "streamd_sink_write_duration_seconds",
			Help:    "Time for a sink to accept a batch.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"sink"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamd_dead_letters_total",
			Help: "Messages written to the dead-letter file.",
		}, []string{"topic"}),
		decodeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamd_decode_errors_total",
			Help: "Frames that could not be delivered, by stage (frame, message_id, payload).",
		}, []string{"topic", "stage"}),
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streamd_connected",
			Help: "1 while the topic session is connected to the proxy.",
		}, []string{"topic"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamd_reconnects_total",
			Help: "Session ends followed by a reconnect, by reason.",
		}, []string{"topic", "reason"}),
		handshakeFail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "streamd_handshake_failures_total",
			Help: "Failed WebSocket handshakes by HTTP status (0: no HTTP response).",
		}, []string{"topic", "status"}),
		sinkReady: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streamd_sink_ready",
			Help: "1 while the sink accepts writes, 0 while its writes fail and are retried.",
		}, []string{"sink"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streamd_inflight_events",
			Help: "Messages received but not yet acked (the proxy window in use).",
		}, []string{"topic"}),
		instance: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streamd_instance_info",
			Help: "Always 1; the replica label is this replica's STREAMD_INSTANCE.",
		}, []string{"replica"}), // not "instance": Prometheus sets that to the scrape target
		readerBehind: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "streamd_reader_behind_messages",
			Help: "Reader: distinct message ids received on the topic that are newer than the last one every sink accepted.",
		}, []string{"topic"}),
		checkpoint: make(map[string]time.Time),
		published:  make(map[string]time.Time),
		now:        time.Now,
		ageDesc: prometheus.NewDesc("streamd_checkpoint_age_seconds",
			"Age of the position stored as the topic's reader checkpoint: seconds since the last successful save began (it grows while saves fail or hang).", []string{"topic"}, nil),
		lagDesc: prometheus.NewDesc("streamd_lag_seconds",
			"Now minus the publish time of the last event every sink accepted.", []string{"topic"}, nil),
	}

	reg.MustRegister(m.received, m.acked, m.redelivered, m.accepted, m.sinkErrors, m.sinkLatency,
		m.deadLetters, m.decodeErrors, m.connected, m.reconnects, m.handshakeFail, m.inflight, m.sinkReady,
		m.instance, m.readerBehind, m, buildInfoGauge(buildinfo.Read()), m.notifyDroppedCounter())

	return m
}

// Describe implements prometheus.Collector for the computed gauges.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.ageDesc
	ch <- m.lagDesc
}

// Collect implements prometheus.Collector for the computed gauges.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for topic, t := range m.checkpoint {
		ch <- prometheus.MustNewConstMetric(m.ageDesc, prometheus.GaugeValue, now.Sub(t).Seconds(), topic)
	}
	for topic, t := range m.published {
		ch <- prometheus.MustNewConstMetric(m.lagDesc, prometheus.GaugeValue, now.Sub(t).Seconds(), topic)
	}
}

// SinkWrite records one Write call of a sink: events accepted, duration, error.
func (m *Metrics) SinkWrite(sink string, accepted int, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.sinkLatency.WithLabelValues(sink).Observe(d.Seconds())
	if err != nil {
		m.sinkErrors.WithLabelValues(sink).Inc()
		return
	}
	m.accepted.WithLabelValues(sink).Add(float64(accepted))
}

// DeadLetter counts a message written to the dead-letter file.
func (m *Metrics) DeadLetter(topic string) {
	if m == nil {
		return
	}
	m.deadLetters.WithLabelValues(topic).Inc()
}

// DecodeError counts a frame that could not be delivered at stage "frame",
// "message_id" or "payload".
func (m *Metrics) DecodeError(topic, stage string) {
	if m == nil {
		return
	}
	m.decodeErrors.WithLabelValues(topic, stage).Inc()
}

// Connected sets the connection state of topic.
func (m *Metrics) Connected(topic string, up bool) {
	if m == nil {
		return
	}
	m.connected.WithLabelValues(topic).Set(boolGauge(up))
}

// boolGauge is the value of a 0/1 gauge.
func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Reconnect counts a session end on topic with a short reason such as
// "unauthorized", "busy", "server_error", "dial", "closed" or "ping_timeout".
func (m *Metrics) Reconnect(topic, reason string) {
	if m == nil {
		return
	}
	m.reconnects.WithLabelValues(topic, reason).Inc()
}

// HandshakeFailure counts a failed handshake by HTTP status (0: none).
func (m *Metrics) HandshakeFailure(topic string, status int) {
	if m == nil {
		return
	}
	m.handshakeFail.WithLabelValues(topic, statusLabel(status)).Inc()
}

// Instance exports name as the replica label of streamd_instance_info.
func (m *Metrics) Instance(name string) {
	if m == nil {
		return
	}
	m.instance.WithLabelValues(name).Set(1)
}

// Checkpointed records that topic's checkpoint was written at t.
func (m *Metrics) Checkpointed(topic string, t time.Time) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.checkpoint[topic] = t
	m.mu.Unlock()
}

func statusLabel(status int) string {
	if status <= 0 || status > 999 {
		return "0"
	}
	return string([]byte{byte('0' + status/100), byte('0' + status/10%10), byte('0' + status%10)})
}
