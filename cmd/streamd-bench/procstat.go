package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// sample is what /proc (and the child's /metrics) say about a live process
// at one moment.
type sample struct {
	at         time.Time
	cpu        time.Duration // on-CPU time of all threads (schedstat, ns resolution)
	wakeups    int64         // voluntary context switches of all live threads
	rssKiB     int64         // VmRSS
	hwmKiB     int64         // VmHWM
	fds        int           // open file descriptors
	threads    int
	goroutines int // go_goroutines from /metrics; -1 without it
}

// sampleProc reads pid's figures; metricsURL ("" for none) is scraped for
// go_goroutines.
func sampleProc(ctx context.Context, pid int, metricsURL string) sample {
	s := sample{
		at:         time.Now(),
		goroutines: -1,
	}
	dir := fmt.Sprintf("/proc/%d", pid)
	tasks, _ := os.ReadDir(filepath.Join(dir, "task"))
	s.threads = len(tasks)
	for _, t := range tasks {
		if b, err := os.ReadFile(filepath.Join(dir, "task", t.Name(), "schedstat")); err == nil {
			if f := strings.Fields(string(b)); len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				s.cpu += time.Duration(n)
			}
		}
		s.wakeups += statusField(filepath.Join(dir, "task", t.Name(), "status"), "voluntary_ctxt_switches:")
	}

	s.rssKiB = statusField(filepath.Join(dir, "status"), "VmRSS:")
	s.hwmKiB = statusField(filepath.Join(dir, "status"), "VmHWM:")
	fds, _ := os.ReadDir(filepath.Join(dir, "fd"))
	s.fds = len(fds)
	if metricsURL != "" {
		s.goroutines = scrapeGoroutines(ctx, metricsURL)
	}

	return s
}

// statusField returns the number after key in a /proc status file, or 0.
func statusField(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// scrapeGoroutines returns go_goroutines from a Prometheus endpoint, or -1.
func scrapeGoroutines(ctx context.Context, url string) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return -1
	}

	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}

	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)

	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int(n)
			}
		}
	}

	return -1
}

// slope is the least-squares slope of y over x.
func slope(x, y []float64) float64 {
	n := float64(len(x))

	if len(x) < 2 {
		return 0
	}

	var sx, sy, sxx, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}

	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}

	return (n*sxy - sx*sy) / d
}
