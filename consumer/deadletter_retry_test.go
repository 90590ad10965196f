package consumer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/metrics"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/reconnect"
	"github.com/streamd/streamd/sink/sinktest"
)

// TestDeadLetterWaitsForItsFile: while the dead-letter file cannot be
// written (its directory replaced by a regular file) a poison message stays
// unacked, is not yet counted as dead-lettered, and the writer's health part
// names the path; once the path heals the writer's own retry (WriteRetry
// with its reconnect.Policy) records it, and only then is it counted and
// acked.
func TestDeadLetterWaitsForItsFile(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	dir := filepath.Join(t.TempDir(), "dl")
	path := filepath.Join(dir, "dead-letter.jsonl")
	hs := health.New()
	dl, err := deadletter.OpenWith(path, deadletter.Options{
		Health: hs,
		Retry:  reconnect.Policy{Min: time.Millisecond, Max: 20 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dl.Close() })
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil { // MkdirAll now fails: ENOTDIR
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	opts := consumer.Options{
		Sink:       &sinktest.Recorder{},
		DeadLetter: dl,
		Start:      "earliest",
		Policy:     fastPolicy,
		Metrics:    metrics.New(reg),
		Health:     hs,
	}
	run(t, newConfig(srv, consumer.ModeConsumer, "all"), opts)
	if err := srv.WaitSessions(testutil.Context(t, wait), 1); err != nil {
		t.Fatal(err)
	}
	srv.Publish(allTopic, []byte("not json"))

	testutil.WaitFor(t, wait, "the dead-letter part to go not ready naming the path", func() bool {
		_, parts := hs.Ready()
		p, ok := parts[deadletter.HealthPart]
		return ok && !p.Ready && strings.Contains(p.Reason, path)
	})
	if acked := srv.Acked(allTopic, sub); len(acked) != 0 {
		t.Errorf("acked %v before its dead letter was written", acked)
	}
	if n := deadLetterCount(t, reg); n != 0 {
		t.Errorf("streamd_dead_letters_total %v before the record was written, want 0", n)
	}

	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, wait, "the ack once the path healed", func() bool { return len(srv.Acked(allTopic, sub)) == 1 })
	if _, parts := hs.Ready(); !parts[deadletter.HealthPart].Ready {
		t.Errorf("dead-letter part %+v after a successful write, want ready", parts[deadletter.HealthPart])
	}
	if recs := deadLetters(t, path); len(recs) != 1 || recs[0].Reason == "" {
		t.Errorf("dead letters %+v, want one with a reason", recs)
	}
	if n := deadLetterCount(t, reg); n != 1 {
		t.Errorf("streamd_dead_letters_total %v after one record, want 1", n)
	}
}

// deadLetterCount sums streamd_dead_letters_total over its topics.
func deadLetterCount(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	return counterSum(t, reg, "streamd_dead_letters_total")
}

// counterSum sums the counter name over its labels.
func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
