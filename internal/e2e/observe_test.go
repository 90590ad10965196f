package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/natstest"
	"github.com/streamd/streamd/internal/testutil"
)

// TestDaemonMetricsAndReadiness runs the real binary (reader mode, JetStream
// sink) and watches /metrics and /readyz while events flow, while NATS is
// down and back, and while the proxy refuses every handshake and is back.
func TestDaemonMetricsAndReadiness(t *testing.T) {
	t.Parallel()
	const (
		topic   = "event-v1/all"
		full    = "persistent://" + tenant + "/" + topic
		tPart   = "topic " + topic
		sPart   = "sink nats"
		stream  = "EVENTS"
		timeout = 20 * time.Second
	)
	emu := pulsartest.Start(t, pulsartest.Config{})
	ns := natstest.Run(t, nil)
	g := pulsartest.NewGenerator(tenant, 11)
	want := publishEvents(emu, g, 200)

	d := startDaemon(t,
		"STREAMD_TENANT="+tenant, "STREAMD_API_KEY="+testKey, "STREAMD_ENDPOINT="+emu.URL(),
		"STREAMD_START=earliest", "STREAMD_STATE_DIR="+t.TempDir(),
		"STREAMD_SINKS=nats", "STREAMD_NATS_URL="+ns.URL(), "STREAMD_NATS_JETSTREAM=true", "STREAMD_NATS_STREAM="+stream,
		"STREAMD_HTTP_ADDR=127.0.0.1:0", "STREAMD_LOG_FORMAT=json",
		"STREAMD_RECONNECT_MIN=20ms", "STREAMD_RECONNECT_MAX=200ms", "STREAMD_CHECKPOINT_INTERVAL=200ms",
	)
	tl := "topic=" + topic
	acked := func(m metrics) float64 { return m.val("streamd_events_acked_total", tl) }
	accepted := func(m metrics) float64 { return m.val("streamd_sink_events_accepted_total", "sink=nats") }
	sinkErrs := func(m metrics) float64 { return m.val("streamd_sink_write_errors_total", "sink=nats") }
	connected := func(m metrics) float64 {
		v, ok := m.get("streamd_connected", tl)
		if !ok {
			return -1
		}
		return v
	}

	// 1. Events flow: counters move, connected, lag exported, ready.
	m, _ := d.poll(timeout, "backlog of 200 acked", func(m metrics, r readyz) bool {
		return r.code == http.StatusOK && r.Ready && acked(m) == 200
	})
	if got := m.val("streamd_events_received_total", tl); got < 200 {
		t.Errorf("received %v after 200 acked", got)
	}
	if got := accepted(m); got != 200 {
		t.Errorf("nats accepted %v, want 200", got)
	}
	if got := connected(m); got != 1 {
		t.Errorf("streamd_connected %v, want 1", got)
	}
	if _, ok := m.get("streamd_lag_seconds", tl); !ok {
		t.Errorf("streamd_lag_seconds{%s} missing", tl)
	}
	want = append(want, publishEvents(emu, g, 300)...)
	m, _ = d.poll(timeout, "300 live events acked", func(m metrics, r readyz) bool {
		return acked(m) == 500 && accepted(m) == 500 && r.code == http.StatusOK
	})
	t.Logf("flowing: received %v acked %v accepted %v lag %.3fs", m.val("streamd_events_received_total", tl),
		acked(m), accepted(m), m.val("streamd_lag_seconds", tl))

	// 2. NATS goes away: not ready naming the sink, errors grow, acks stop.
	errs0 := sinkErrs(m)
	ns.Stop()
	outage := time.Now()
	want = append(want, publishEvents(emu, g, 100)...)
	m, r := d.poll(timeout, "readyz 503 naming sink nats", func(m metrics, r readyz) bool {
		return r.notReady(sPart) && sinkErrs(m) > errs0 && m.val("streamd_events_received_total", tl) >= 600
	})
	if !strings.Contains(r.raw, `"`+sPart+`"`) || r.Parts[sPart].Reason == "" {
		t.Errorf("/readyz body does not name %q with a reason: %s", sPart, r.raw)
	}
	if got := acked(m); got != 500 {
		t.Errorf("acked %v while NATS is down, want 500", got)
	}
	errs1 := sinkErrs(m)
	m, _ = d.poll(timeout, "more sink errors", func(m metrics, _ readyz) bool { return sinkErrs(m) > errs1 })
	if got := acked(m); got != 500 {
		t.Errorf("acked moved to %v while NATS is down, want 500", got)
	}
	t.Logf("NATS down: readyz %d reason %q, sink errors %v -> %v, acked %v", r.code, r.Parts[sPart].Reason, errs0, sinkErrs(m), acked(m))

	// 3. NATS is back: ready again and everything delivered.
	if err := ns.Start(); err != nil {
		t.Fatal(err)
	}
	m, _ = d.poll(timeout, "ready with all 600 acked after NATS restart", func(m metrics, r readyz) bool {
		return r.code == http.StatusOK && r.Ready && acked(m) == 600 && accepted(m) >= 600
	})
	t.Logf("NATS back after %v: acked %v accepted %v", time.Since(outage).Round(time.Millisecond), acked(m), accepted(m))

	// 4. The proxy goes away: every handshake gets 503.
	rec0 := m.val("streamd_reconnects_total", tl)
	emu.RejectHandshakes(http.StatusServiceUnavailable, -1)
	if n := emu.DropConnections(); n != 1 {
		t.Errorf("dropped %d sessions, want 1", n)
	}
	want = append(want, publishEvents(emu, g, 100)...)
	m, r = d.poll(timeout, "readyz 503 naming the topic", func(m metrics, r readyz) bool {
		return r.notReady(tPart) && connected(m) == 0 && m.val("streamd_reconnects_total", tl) > rec0 &&
			m.val("streamd_handshake_failures_total", tl, "status=503") > 0
	})
	if !strings.Contains(r.raw, `"`+tPart+`"`) || !strings.Contains(r.Parts[tPart].Reason, "503") {
		t.Errorf("/readyz body does not name %q with a 503 reason: %s", tPart, r.raw)
	}
	t.Logf("proxy down: readyz %d reason %q, reconnects %v -> %v, 503 handshakes %v", r.code, r.Parts[tPart].Reason,
		rec0, m.val("streamd_reconnects_total", tl), m.val("streamd_handshake_failures_total", tl, "status=503"))

	// 5. The proxy is back: connected, ready, the rest delivered.
	emu.RejectHandshakes(0, 0)
	d.poll(timeout, "reconnected and all 700 delivered", func(m metrics, r readyz) bool {
		return r.code == http.StatusOK && r.Ready && connected(m) == 1 && acked(m) >= 700
	})
	testutil.WaitFor(t, timeout, "700 messages in the stream", func() bool {
		return streamMsgs(testutil.Context(t, 5*time.Second), ns.URL(), stream) == 700
	})
	checkStream(t, ns.URL(), stream, full, want)
	if code := d.stop(); code != 0 {
		t.Errorf("streamd exited %d after SIGTERM, want 0", code)
	}
}
