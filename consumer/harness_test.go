package consumer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/checkpoint"
	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/reconnect"
	"github.com/streamd/streamd/sink/sinktest"
)

const (
	tenant   = "acme"
	allTopic = "acme/event-v1/all"
	apiKey   = "eght_integration_key"
	sub      = "streamd"
	// wait bounds every wait. Tests normally finish far sooner; the bound
	// only decides how long a failing test takes to say so, and must hold on
	// a loaded machine (-race, packages in parallel, a shared CI runner).
	wait = 30 * time.Second
)

// newConfig is a fast-pinging session of topic ("all", an event type) on
// srv. The ping timeout is generous: on a loaded machine a pong can take
// a second, and a reconnect is not what most tests are about.
func newConfig(srv *pulsartest.Server, mode consumer.Mode, topic string) consumer.Config {
	return consumer.Config{
		Endpoint:         srv.URL(),
		Tenant:           tenant,
		Topic:            topic,
		Mode:             mode,
		Subscription:     sub,
		Credential:       apiKey,
		HandshakeTimeout: 5 * time.Second,
		PingInterval:     100 * time.Millisecond,
		PingTimeout:      5 * time.Second, // tests of dead-peer detection set their own
	}
}

// fastPolicy reconnects within milliseconds so tests run quickly.
var fastPolicy = reconnect.Policy{Min: 10 * time.Millisecond, Max: 200 * time.Millisecond, HealthyAfter: 100 * time.Millisecond}

// newOptions returns options delivering into rec, dead-lettering into a
// fresh file (returned) and starting at the earliest message.
func newOptions(t *testing.T, rec *sinktest.Recorder) (consumer.Options, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dead-letter.jsonl")
	dl, err := deadletter.Open(path)
	if err != nil {
		t.Fatalf("open dead letter: %v", err)
	}
	t.Cleanup(func() { _ = dl.Close() })
	return consumer.Options{
		Logger:             newLogger(t, new(testutil.SyncBuffer)),
		Sink:               rec,
		DeadLetter:         dl,
		Start:              "earliest",
		Policy:             fastPolicy,
		CheckpointEvery:    100,
		CheckpointInterval: 50 * time.Millisecond,
	}, path
}

// openStore opens a checkpoint store in dir.
func openStore(t *testing.T, dir string) *checkpoint.Store {
	t.Helper()
	st, err := checkpoint.Open(dir)
	if err != nil {
		t.Fatalf("open checkpoint store: %v", err)
	}
	return st
}

// running is a Topic whose Run executes in a goroutine.
type running struct {
	t     *testing.T
	topic *consumer.Topic
	stop  context.CancelFunc // graceful
	abort context.CancelFunc // hard
	done  chan struct{}
	err   error // Run's result, valid after done
}

// run starts NewTopic(cfg, opts).Run; the test's cleanup stops it gracefully.
func run(t *testing.T, cfg consumer.Config, opts consumer.Options) *running {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	hard, abort := context.WithCancel(context.Background())
	r := &running{t: t, topic: consumer.NewTopic(cfg, opts), stop: stop, abort: abort, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = r.topic.Run(ctx, hard)
	}()
	t.Cleanup(func() {
		stop()
		select {
		case <-r.done:
		case <-time.After(wait):
			t.Errorf("Run did not return within %v of a graceful stop", wait)
			abort()
			<-r.done
		}
		abort()
	})
	return r
}

// Stop cancels the graceful context and returns Run's result.
func (r *running) Stop() error {
	r.t.Helper()
	r.stop()
	return r.wait()
}

// Abort cancels the hard context and returns Run's result.
func (r *running) Abort() error {
	r.t.Helper()
	r.abort()
	return r.wait()
}

func (r *running) wait() error {
	r.t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(wait):
		r.t.Fatalf("Run did not return within %v", wait)
		return nil
	}
}

// publish publishes n generated events to topic and returns their ids.
func publish(srv *pulsartest.Server, g *pulsartest.Generator, topic string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ev, _ := g.Next()
		ids[i] = srv.Publish(topic, ev)
	}
	return ids
}

// dedup returns ids without repeats (first occurrence kept) and how many
// repeats there were.
func dedup(ids []string) (uniq []string, dups int) {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			dups++
			continue
		}
		seen[id] = true
		uniq = append(uniq, id)
	}
	return uniq, dups
}

// sameIDs fails the test unless got equals want element by element.
func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d ids, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: id %d = %q, want %q", what, i, got[i], want[i])
		}
	}
}

// jsonLines parses every JSON log line written to b.
func jsonLines(t *testing.T, b *testutil.SyncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range b.Lines() {
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// newLogger logs JSON at debug level into b and, if t fails, shows the
// lines in the test's output: a failure then says what the Topic saw.
func newLogger(t *testing.T, b *testutil.SyncBuffer) *slog.Logger {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("topic logs:\n%s", b.String())
		}
	})
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// deadLetters reads the dead-letter file.
func deadLetters(t *testing.T, path string) []deadletter.Record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read dead letters: %v", err)
	}
	var out []deadletter.Record
	for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var r deadletter.Record
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatalf("dead-letter line %q: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}
