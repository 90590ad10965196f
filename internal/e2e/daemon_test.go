package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/internal/testutil"
)

// daemon is a running `streamd run` child process.
type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout testutil.SyncBuffer
	stderr testutil.SyncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, valid after done
	base   string        // "http://127.0.0.1:port" once known
	client *http.Client
}

// startDaemon runs the binary with exactly env (plus PATH) and waits until
// it logs its HTTP address when STREAMD_HTTP_ADDR is set. The process is
// killed at cleanup if still running; its logs are shown when the test
// failed.
func startDaemon(t *testing.T, env ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, done: make(chan struct{}), client: &http.Client{Timeout: 5 * time.Second}}
	d.cmd = exec.Command(streamdBinary(t), "run")
	d.cmd.Env = append([]string{"GORACE=halt_on_error=1", "HOME=" + t.TempDir()}, env...)
	d.cmd.Stdout, d.cmd.Stderr = &d.stdout, &d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start streamd: %v", err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("streamd stderr:\n%s", tail(d.stderr.String(), 60))
		}
	})
	for _, kv := range env {
		if strings.HasPrefix(kv, "STREAMD_HTTP_ADDR=") && kv != "STREAMD_HTTP_ADDR=" {
			d.base = "http://" + d.waitLog("serving metrics and health", "addr")
		}
	}
	return d
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// waitLog waits for a JSON log line with msg and returns its string
// attribute key.
func (d *daemon) waitLog(msg, key string) string {
	d.t.Helper()
	var val string
	testutil.WaitFor(d.t, 30*time.Second, "log line "+strconv.Quote(msg), func() bool {
		select {
		case <-d.done:
			d.t.Fatalf("streamd exited early (%v)", d.err)
		default:
		}
		sc := bufio.NewScanner(bytes.NewReader(d.stderr.Bytes()))
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == msg {
				val, _ = rec[key].(string)
				return true
			}
		}
		return false
	})
	return val
}

// stop sends SIGTERM and returns the exit status.
func (d *daemon) stop() int {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.t.Fatalf("signal streamd: %v", err)
	}
	return d.wait(30 * time.Second)
}

// wait returns the exit status once the process exits.
func (d *daemon) wait(within time.Duration) int {
	d.t.Helper()
	select {
	case <-d.done:
	case <-time.After(within):
		d.t.Fatalf("streamd did not exit within %v", within)
	}
	return d.cmd.ProcessState.ExitCode()
}

// get fetches path and returns the status and body.
func (d *daemon) get(path string) (int, []byte) {
	d.t.Helper()
	resp, err := d.client.Get(d.base + path)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp.StatusCode, body
}

// readyz is the /readyz answer.
type readyz struct {
	code  int
	Ready bool `json:"ready"`
	Parts map[string]struct {
		Ready  bool   `json:"ready"`
		Reason string `json:"reason"`
	} `json:"parts"`
	raw string
}

func (d *daemon) readyz() readyz {
	d.t.Helper()
	code, body := d.get("/readyz")
	r := readyz{code: code, raw: string(body)}
	if err := json.Unmarshal(body, &r); err != nil {
		d.t.Fatalf("/readyz body is not JSON: %v: %s", err, body)
	}
	return r
}

// notReady reports whether /readyz answers 503 with part not ready.
func (r readyz) notReady(part string) bool {
	p, ok := r.Parts[part]
	return r.code == http.StatusServiceUnavailable && !r.Ready && ok && !p.Ready
}

// metrics is one scrape of /metrics.
type metrics []sample

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var labelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

func (d *daemon) metrics() metrics {
	d.t.Helper()
	code, body := d.get("/metrics")
	if code != http.StatusOK {
		d.t.Fatalf("/metrics answered %d", code)
	}
	m, err := parseMetrics(body)
	if err != nil {
		d.t.Fatalf("parse /metrics: %v", err)
	}
	return m
}

// parseMetrics reads the Prometheus text exposition format.
func parseMetrics(body []byte) (metrics, error) {
	var out metrics
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s := sample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("bad line %q", line)
			}
			s.name = line[:i]
			for _, m := range labelRE.FindAllStringSubmatch(line[i+1:j], -1) {
				s.labels[m[1]] = m[2]
			}
			rest = strings.TrimSpace(line[j+1:])
		} else {
			var ok bool
			s.name, rest, ok = strings.Cut(line, " ")
			if !ok {
				return nil, fmt.Errorf("bad line %q", line)
			}
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("no value in %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("bad value in %q: %w", line, err)
		}
		s.value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

// get sums the samples of name whose labels include every "k=v" of match,
// and reports whether there was any.
func (m metrics) get(name string, match ...string) (float64, bool) {
	var sum float64
	found := false
next:
	for _, s := range m {
		if s.name != name {
			continue
		}
		for _, kv := range match {
			k, v, _ := strings.Cut(kv, "=")
			if s.labels[k] != v {
				continue next
			}
		}
		sum += s.value
		found = true
	}
	return sum, found
}

// val is get without the presence flag.
func (m metrics) val(name string, match ...string) float64 {
	v, _ := m.get(name, match...)
	return v
}

// poll scrapes until cond holds, failing after d; it returns the last
// scrape.
func (d *daemon) poll(d2 time.Duration, what string, cond func(metrics, readyz) bool) (metrics, readyz) {
	d.t.Helper()
	var (
		m metrics
		r readyz
	)
	ctx, cancel := context.WithTimeout(context.Background(), d2)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-d.done:
			d.t.Fatalf("streamd exited (%v) while waiting for %s", d.err, what)
		default:
		}
		m, r = d.metrics(), d.readyz()
		if cond(m, r) {
			return m, r
		}
		select {
		case <-ctx.Done():
			d.t.Fatalf("timed out after %v waiting for %s; /readyz %d %s", d2, what, r.code, r.raw)
		case <-tick.C:
		}
	}
}
