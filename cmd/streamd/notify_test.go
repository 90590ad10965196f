package main

import (
	"bufio"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// TestStuckNotifySocketCounted: with NOTIFY_SOCKET's reader stuck (it never
// reads, so its queue fills after a few datagrams) the daemon goes on
// delivering, counts the dropped notifications in
// streamd_sdnotify_dropped_total without a log line per
// drop, and a SIGTERM still stops it.
func TestStuckNotifySocketCounted(t *testing.T) {
	t.Parallel()
	sockPath := filepath.Join(t.TempDir(), "notify.sock")
	stuck, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stuck.Close() })

	emu := pulsartest.Start(t, pulsartest.Config{})
	out := filepath.Join(t.TempDir(), "events.jsonl")
	p := start(t, streamEnv(t, emu, out, "NOTIFY_SOCKET", sockPath, "WATCHDOG_USEC", "100000",
		"STREAMD_HTTP_ADDR", "127.0.0.1:0"), "run")
	p.waitLog(20*time.Second, "serving metrics and health")
	addr := logField(t, p.stderr.String(), "serving metrics and health", "addr")

	var dropped float64
	testutil.WaitFor(t, 20*time.Second, "dropped notifications counted", func() bool {
		dropped = sampleValue(t, "http://"+addr+"/metrics", "streamd_sdnotify_dropped_total")
		return dropped >= 10 || p.exited()
	})
	publishN(emu, 0, 3)
	testutil.WaitFor(t, 20*time.Second, "3 events in the file while notifications are dropped", func() bool {
		return countLines(out) == 3 || p.exited()
	})
	if n := countLogs(p, "notif"); n > 1 {
		t.Errorf("%d log lines about notifications for %v drops; want at most one:\n%s", n, dropped, p.stderr.String())
	}

	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != exitOK {
		t.Errorf("exit %d after SIGTERM with a stuck notify socket, want %d", code, exitOK)
	}
}

// sampleValue returns the sum of the samples of name on a text exposition
// at url; -1 when there are none.
func sampleValue(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sum, found := 0.0, false
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		sum, found = sum+f, true
	}
	if !found {
		return -1
	}
	return sum
}
