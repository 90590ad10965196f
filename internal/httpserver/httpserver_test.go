package httpserver

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/goleak"

	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/metrics"
	"github.com/streamd/streamd/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start runs s on a free loopback port and stops it at cleanup, checking
// that Run returns nil after a graceful shutdown.
func start(t *testing.T, s *Server) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Listen(ctx); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return "http://" + s.Addr()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	h := health.New()
	h.Set("topic event-v1/all", false, "connecting")
	base := start(t, New("127.0.0.1:0", reg, h, nil))

	m.Topic("event-v1/all").Received(false)
	m.Topic("event-v1/all").Acked(1, time.Now().Add(-2*time.Second))
	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`streamd_events_received_total{topic="event-v1/all"} 1`,
		`streamd_events_acked_total{topic="event-v1/all"} 1`,
		`streamd_lag_seconds{topic="event-v1/all"}`,
		"go_goroutines ",
		"process_start_time_seconds ",
		"promhttp_metric_handler_requests_total",
		"streamd_ready 0",
		"streamd_build_info{",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	m.Topic("event-v1/all").Received(true)
	h.Set("topic event-v1/all", true, "connected")
	_, body = get(t, base+"/metrics")
	if !strings.Contains(body, `streamd_events_received_total{topic="event-v1/all"} 2`) {
		t.Error("received counter did not move to 2")
	}
	if !strings.Contains(body, "streamd_ready 1") {
		t.Error("streamd_ready did not move to 1")
	}
}

func TestRuntimeCollectorsAlreadyRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	New("127.0.0.1:0", reg, nil, nil) // must not panic
	New("127.0.0.1:0", reg, nil, nil) // nor twice
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("Gather: %v", err)
	}
}

func TestHealthz(t *testing.T) {
	h := health.New()
	s := New("127.0.0.1:0", prometheus.NewRegistry(), h, nil)
	s.Staleness = 200 * time.Millisecond
	base := start(t, s)

	code, body := get(t, base+"/healthz")
	if code != http.StatusOK || !strings.Contains(body, `"alive": true`) || strings.Contains(body, "last_beat") {
		t.Fatalf("before first beat: %d %s", code, body)
	}
	h.Beat()
	if code, body := get(t, base+"/healthz"); code != http.StatusOK || !strings.Contains(body, "last_beat") {
		t.Fatalf("after beat: %d %s", code, body)
	}
	// No more beats: the loop looks wedged once the beat is older than Staleness.
	testutil.WaitFor(t, 5*time.Second, "/healthz 503", func() bool { c, _ := get(t, base+"/healthz"); return c == http.StatusServiceUnavailable })
	h.Beat()
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("after new beat: %d", code)
	}
}

// TestHealthzStalledTopic: a stalled topic makes /healthz 503 naming it,
// although the main loop beats; clearing it makes /healthz 200 again.
func TestHealthzStalledTopic(t *testing.T) {
	h := health.New()
	base := start(t, New("127.0.0.1:0", prometheus.NewRegistry(), h, nil))
	h.Beat()

	h.SetStalled([]string{"topic event-v1/all: connected but no frame, ack or pong for 1m6s (bound 1m5s)"})
	code, body := get(t, base+"/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"alive": false`) || !strings.Contains(body, "topic event-v1/all") {
		t.Fatalf("stalled: %d %s", code, body)
	}
	h.SetStalled(nil)
	if code, body := get(t, base+"/healthz"); code != http.StatusOK || strings.Contains(body, "stalled") {
		t.Fatalf("after the topic moved: %d %s", code, body)
	}
}

func TestReadyz(t *testing.T) {
	h := health.New()
	base := start(t, New("127.0.0.1:0", prometheus.NewRegistry(), h, nil))

	decode := func() (int, readyzBody) {
		code, body := get(t, base+"/readyz")
		var rb readyzBody
		if err := json.Unmarshal([]byte(body), &rb); err != nil {
			t.Fatalf("decode /readyz %q: %v", body, err)
		}
		return code, rb
	}
	if code, rb := decode(); code != http.StatusServiceUnavailable || rb.Ready || len(rb.Parts) != 0 {
		t.Fatalf("no parts: %d %+v", code, rb)
	}
	const topic, sink = "topic event-v1/all", "sink nats"
	h.Set(topic, false, "401 from proxy: check STREAMD_API_KEY")
	h.Set(sink, true, "")
	code, rb := decode()
	if code != http.StatusServiceUnavailable || rb.Ready {
		t.Fatalf("topic down: %d %+v", code, rb)
	}
	if p := rb.Parts[topic]; p.Ready || p.Reason != "401 from proxy: check STREAMD_API_KEY" {
		t.Errorf("topic part = %+v", p)
	}
	if p := rb.Parts[sink]; !p.Ready {
		t.Errorf("sink part = %+v", p)
	}
	h.Set(topic, true, "")
	if code, rb := decode(); code != http.StatusOK || !rb.Ready || len(rb.Parts) != 2 {
		t.Fatalf("all ready: %d %+v", code, rb)
	}
	h.Set(sink, false, "nats: no servers available for connection")
	if code, rb := decode(); code != http.StatusServiceUnavailable || rb.Parts[sink].Reason == "" {
		t.Fatalf("sink down: %d %+v", code, rb)
	}
}

func TestNilHealth(t *testing.T) {
	base := start(t, New("127.0.0.1:0", nil, nil, nil))
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"parts": {}`) {
		t.Errorf("/readyz: %d %s", code, body)
	}
}

func TestIndexAndRouting(t *testing.T) {
	base := start(t, New("127.0.0.1:0", prometheus.NewRegistry(), health.New(), nil))
	if code, body := get(t, base+"/"); code != http.StatusOK || !strings.Contains(body, "/readyz") {
		t.Errorf("/: %d %q", code, body)
	}
	if code, _ := get(t, base+"/nope"); code != http.StatusNotFound {
		t.Errorf("/nope: %d, want 404", code)
	}
	resp, err := http.Post(base+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d, want 405", resp.StatusCode)
	}
}

func TestRunPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := New(ln.Addr().String(), nil, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = s.Run(ctx) // must return at once, not wait for ctx
	if err == nil || !strings.Contains(err.Error(), "listen on "+ln.Addr().String()) {
		t.Fatalf("Run on a busy port: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run waited for the context")
	}
	if s.Addr() != "" {
		t.Errorf("Addr() = %q after failed listen", s.Addr())
	}
}

func TestGracefulShutdownWaitsForRequest(t *testing.T) {
	reg := prometheus.NewRegistry()
	entered, release := make(chan struct{}), make(chan struct{})
	reg.MustRegister(blockingCollector{entered, release})
	s := New("127.0.0.1:0", reg, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Listen(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	got := make(chan int, 1)
	go func() { // not get(): t.Fatal must not run off the test goroutine
		resp, err := http.Get("http://" + s.Addr() + "/metrics")
		if err != nil {
			got <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	<-entered // the scrape is in flight
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned %v while a request was in flight", err)
	default:
	}
	close(release)
	if code := <-got; code != http.StatusOK {
		t.Errorf("in-flight scrape: %d", code)
	}
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// blockingCollector blocks Collect until release is closed.
type blockingCollector struct{ entered, release chan struct{} }

var blockDesc = prometheus.NewDesc("test_block", "test", nil, nil)

func (blockingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- blockDesc }
func (b blockingCollector) Collect(ch chan<- prometheus.Metric) {
	close(b.entered)
	<-b.release
	ch <- prometheus.MustNewConstMetric(blockDesc, prometheus.GaugeValue, 1)
}
