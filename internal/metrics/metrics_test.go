package metrics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const topic = "event-v1/all"

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.Topic(topic).Received(true)
	m.Topic(topic).Acked(1, time.Now())
	m.SinkWrite("nats", 1, time.Millisecond, nil)
	m.DeadLetter(topic)
	m.DecodeError(topic, "frame")
	m.Connected(topic, true)
	m.Reconnect(topic, "dial")
	m.HandshakeFailure(topic, 401)
	m.Topic(topic).Inflight(3)
	m.Checkpointed(topic, time.Now())
	m.Instance("pod-1")
	m.Topic(topic).ReaderBehind(1)
}

func TestCounters(t *testing.T) {
	m := New(prometheus.NewRegistry())
	m.Topic(topic).Received(false)
	m.Topic(topic).Received(true)
	m.Topic(topic).Acked(2, time.Time{})
	m.SinkWrite("nats", 5, time.Millisecond, nil)
	m.SinkWrite("nats", 3, time.Second, errors.New("timeout"))
	m.DeadLetter(topic)
	m.DecodeError(topic, "payload")
	m.Reconnect(topic, "unauthorized")
	m.HandshakeFailure(topic, 401)
	m.HandshakeFailure(topic, 0)
	m.Connected(topic, true)
	m.Topic(topic).Inflight(7)
	m.Instance("pod-1")
	m.Topic(topic).ReaderBehind(12)
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"received", testutil.ToFloat64(m.received.WithLabelValues(topic)), 2},
		{"redelivered", testutil.ToFloat64(m.redelivered.WithLabelValues(topic)), 1},
		{"acked", testutil.ToFloat64(m.acked.WithLabelValues(topic)), 2},
		{"accepted (errors excluded)", testutil.ToFloat64(m.accepted.WithLabelValues("nats")), 5},
		{"sink errors", testutil.ToFloat64(m.sinkErrors.WithLabelValues("nats")), 1},
		{"latency observations", float64(testutil.CollectAndCount(m.sinkLatency)), 1},
		{"dead letters", testutil.ToFloat64(m.deadLetters.WithLabelValues(topic)), 1},
		{"decode errors", testutil.ToFloat64(m.decodeErrors.WithLabelValues(topic, "payload")), 1},
		{"reconnects", testutil.ToFloat64(m.reconnects.WithLabelValues(topic, "unauthorized")), 1},
		{"handshake 401", testutil.ToFloat64(m.handshakeFail.WithLabelValues(topic, "401")), 1},
		{"handshake none", testutil.ToFloat64(m.handshakeFail.WithLabelValues(topic, "0")), 1},
		{"connected", testutil.ToFloat64(m.connected.WithLabelValues(topic)), 1},
		{"inflight", testutil.ToFloat64(m.inflight.WithLabelValues(topic)), 7},
		{"instance info", testutil.ToFloat64(m.instance.WithLabelValues("pod-1")), 1},
		{"reader behind", testutil.ToFloat64(m.readerBehind.WithLabelValues(topic)), 12},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	m.Connected(topic, false)
	if v := testutil.ToFloat64(m.connected.WithLabelValues(topic)); v != 0 {
		t.Errorf("connected after down = %v", v)
	}
}

func TestLagAndCheckpointAge(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }

	m.Topic(topic).Acked(1, now.Add(-3*time.Second))
	m.Topic(topic).Acked(1, time.Time{}) // zero keeps the previous publish time
	m.Checkpointed(topic, now.Add(-1500*time.Millisecond))
	want := `
# HELP streamd_checkpoint_age_seconds Age of the position stored as the topic's reader checkpoint: seconds since the last successful save began (it grows while saves fail or hang).
# TYPE streamd_checkpoint_age_seconds gauge
streamd_checkpoint_age_seconds{topic="event-v1/all"} 1.5
# HELP streamd_lag_seconds Now minus the publish time of the last event every sink accepted.
# TYPE streamd_lag_seconds gauge
streamd_lag_seconds{topic="event-v1/all"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"streamd_lag_seconds", "streamd_checkpoint_age_seconds"); err != nil {
		t.Fatal(err)
	}
}

func TestLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.Topic(topic).Received(true)
	m.Topic(topic).Acked(1, time.Now())
	m.SinkWrite("stdout", 1, time.Millisecond, nil)
	m.Checkpointed(topic, time.Now())
	m.Instance("pod-1")
	m.Topic(topic).ReaderBehind(3)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestStatusLabel(t *testing.T) {
	for in, want := range map[int]string{0: "0", -1: "0", 1000: "0", 401: "401", 503: "503", 200: "200"} {
		if got := statusLabel(in); got != want {
			t.Errorf("statusLabel(%d) = %q, want %q", in, got, want)
		}
	}
}
