package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/internal/testutil"
)

// TestMonitoringQueriesUseRealMetrics: every PromQL query of the shipped
// Grafana dashboard and alert rules (docs/monitoring) names only metrics
// and labels that a real `streamd demo` exposes on /metrics, so no panel
// shows "no data" and no alert waits for a series that never exists. The
// counters alerts use (dead letters, reconnects, handshake failures, sink
// errors) must exist before anything went wrong.
func TestMonitoringQueriesUseRealMetrics(t *testing.T) {
	t.Parallel()
	queries := dashboardQueries(t, "../../docs/monitoring/dashboard.json")
	rules := ruleQueries(t, "../../docs/monitoring/alerts.yml")
	if len(queries) < 15 || len(rules) < 7 {
		t.Fatalf("found %d dashboard and %d rule queries; the files changed shape?", len(queries), len(rules))
	}
	exposed := scrapeDemo(t)

	for _, q := range append(queries, rules...) {
		metrics, labels := promqlNames(q)
		if len(metrics) == 0 {
			t.Errorf("query names no metric: %s", q)
		}
		known := map[string]bool{"job": true, "instance": true} // added by Prometheus
		for _, m := range metrics {
			ls, ok := exposed[m]
			if !ok && m != "up" { // up is Prometheus' own
				t.Errorf("metric %s is not exposed by a demo run (query: %s)", m, q)
			}
			for _, l := range ls {
				known[l] = true
			}
		}
		for _, l := range labels {
			if !known[l] {
				t.Errorf("label %q is not on %v (query: %s)", l, metrics, q)
			}
		}
	}
}

// scrapeDemo runs `streamd demo` with a metrics listener, waits until the
// computed gauges exist, and returns each exposed sample name with its
// label names.
func scrapeDemo(t *testing.T) map[string][]string {
	t.Helper()
	p := start(t, baseEnv(t).with("STREAMD_HTTP_ADDR", "127.0.0.1:0", "STREAMD_LOG_LEVEL", "info"), "demo")
	p.waitLog(15*time.Second, `"serving metrics and health"`)
	addr := logField(t, p.stderr.String(), "serving metrics and health", "addr")
	var exposed map[string][]string
	testutil.WaitFor(t, 20*time.Second, "checkpoint age, lag and sink latency on /metrics", func() bool {
		exposed = scrape(t, "http://"+addr+"/metrics")
		for _, m := range []string{"streamd_checkpoint_age_seconds", "streamd_lag_seconds", "streamd_sink_write_duration_seconds_bucket"} {
			if _, ok := exposed[m]; !ok {
				return p.exited()
			}
		}
		return true
	})
	p.signal(syscall.SIGTERM)
	if code := p.wait(15 * time.Second); code != exitOK {
		t.Fatalf("demo exit %d", code)
	}
	return exposed
}

// scrape returns the sample names of a text-format exposition with their
// label names.
func scrape(t *testing.T, url string) map[string][]string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	labelRe := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		name, labels, _ := strings.Cut(name, "{")
		if labels == "" {
			labels = rest
		}
		for _, m := range labelRe.FindAllStringSubmatch(labels, -1) {
			if !slices.Contains(out[name], m[1]) {
				out[name] = append(out[name], m[1])
			}
		}
		if _, ok := out[name]; !ok {
			out[name] = nil
		}
	}
	return out
}

// logField returns field of the first JSON log record whose msg is msg.
func logField(t *testing.T, logs, msg, field string) string {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			if v, ok := rec[field].(string); ok {
				return v
			}
		}
	}
	t.Fatalf("no log %q with %s", msg, field)
	return ""
}

// dashboardQueries returns every "expr" of the dashboard's panels and the
// "definition" of its template variables.
func dashboardQueries(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok && (k == "expr" || k == "definition") {
					out = append(out, s)
				}
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(doc)
	return out
}

// ruleQueries returns the one-line "expr:" values of a rules file; every
// alert must have one.
func ruleQueries(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	alerts := 0
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "- alert:") {
			alerts++
		}
		if e, ok := strings.CutPrefix(line, "expr:"); ok {
			out = append(out, strings.TrimSpace(e))
		}
	}
	if len(out) != alerts {
		t.Fatalf("%s: %d alerts but %d one-line exprs", path, alerts, len(out))
	}
	return out
}

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promMatcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	promRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true,
		"without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
)

// promqlNames returns the metric names a PromQL expression (or a Grafana
// label_values(metric{...}, label) query) selects, and the label names it
// matches or groups on. It is a lexer, not a parser: enough for the shapes
// the shipped files use.
func promqlNames(q string) (metrics, labels []string) {
	q = promString.ReplaceAllString(q, `""`)
	for _, m := range promMatchers.FindAllString(q, -1) {
		for _, l := range promMatcher.FindAllStringSubmatch(m, -1) {
			labels = append(labels, l[1])
		}
	}
	q = promMatchers.ReplaceAllString(q, " ")
	for _, g := range promGrouping.FindAllStringSubmatch(q, -1) {
		for _, l := range strings.Split(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
	}
	q = promGrouping.ReplaceAllString(q, " ")
	q = promRange.ReplaceAllString(q, " ")
	if inner, ok := strings.CutPrefix(q, "label_values("); ok { // label_values(metric , label)
		name, label, _ := strings.Cut(strings.TrimSuffix(strings.TrimSpace(inner), ")"), ",")
		return []string{strings.TrimSpace(name)}, append(labels, strings.TrimSpace(label))
	}
	for _, id := range promIdent.FindAllStringSubmatch(q, -1) {
		name := strings.TrimSpace(id[0])
		if id[1] != "" || promKeywords[name] || strings.HasPrefix(name, "$") {
			continue // a function call, keyword or variable
		}
		metrics = append(metrics, name)
	}
	return metrics, labels
}

func TestPromqlNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		q               string
		metrics, labels []string
	}{
		{`up{job="streamd"} == 0`, []string{"up"}, []string{"job"}},
		{`sum by (job, instance, topic) (increase(streamd_reconnects_total[15m])) > 10`,
			[]string{"streamd_reconnects_total"}, []string{"job", "instance", "topic"}},
		{`histogram_quantile(0.99, sum by (sink, le) (rate(streamd_sink_write_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))`,
			[]string{"streamd_sink_write_duration_seconds_bucket"}, []string{"job", "sink", "le"}},
		{`streamd_lag_seconds > 300 and on (job, instance, topic) rate(streamd_events_received_total[10m]) > 0`,
			[]string{"streamd_lag_seconds", "streamd_events_received_total"}, []string{"job", "instance", "topic"}},
		{`label_values(streamd_build_info{job=~"$job"}, instance)`, []string{"streamd_build_info"}, []string{"job", "instance"}},
		{`streamd_handshake_failures_total{status=~"401|403", topic!="a,b{c}"}`, []string{"streamd_handshake_failures_total"}, []string{"status", "topic"}},
	} {
		m, l := promqlNames(tc.q)
		if !slices.Equal(m, tc.metrics) || !slices.Equal(l, tc.labels) {
			t.Errorf("%s: metrics %v labels %v, want %v %v", tc.q, m, l, tc.metrics, tc.labels)
		}
	}
}
