package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Topic is the per-event instruments of one topic with their label values
// resolved once: the hot path then costs an atomic add per event instead of
// a label hash and map lookup (WithLabelValues). A nil *Topic records
// nothing, like a nil *Metrics.
type Topic struct {
	m           *Metrics
	topic       string
	received    prometheus.Counter
	redelivered prometheus.Counter
	acked       prometheus.Counter
	inflight    prometheus.Gauge
	behind      prometheus.Gauge
}

// Topic resolves the per-event instruments of topic; nil when m is nil.
func (m *Metrics) Topic(topic string) *Topic {
	if m == nil {
		return nil
	}

	return &Topic{
		m:           m,
		topic:       topic,
		received:    m.received.WithLabelValues(topic),
		redelivered: m.redelivered.WithLabelValues(topic),
		acked:       m.acked.WithLabelValues(topic),
		inflight:    m.inflight.WithLabelValues(topic),
		behind:      m.readerBehind.WithLabelValues(topic),
	}
}

// Received counts one data frame, and a redelivery when redelivered.
func (t *Topic) Received(redelivered bool) {
	if t == nil {
		return
	}
	t.received.Inc()
	if redelivered {
		t.redelivered.Inc()
	}
}

// Acked counts n acks sent after every sink accepted their events, and
// records published (the last event's publish time; zero: unknown) for the
// lag gauge.
func (t *Topic) Acked(n int, published time.Time) {
	if t == nil {
		return
	}
	t.acked.Add(float64(n))
	if !published.IsZero() {
		t.m.mu.Lock()
		t.m.published[t.topic] = published
		t.m.mu.Unlock()
	}
}

// Inflight sets the number of unacked messages.
func (t *Topic) Inflight(n int) {
	if t == nil {
		return
	}
	t.inflight.Set(float64(n))
}

// ReaderBehind sets streamd_reader_behind_messages: how many distinct
// message ids a reader has received that are newer than the last one every
// sink accepted (see consumer's behind tracking).
func (t *Topic) ReaderBehind(n int) {
	if t == nil {
		return
	}
	t.behind.Set(float64(n))
}
