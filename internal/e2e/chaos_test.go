package e2e

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/natstest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/reconnect"
	"github.com/streamd/streamd/sink"
	natssink "github.com/streamd/streamd/sink/nats"
)

// countingSink counts what passes through a sink.
type countingSink struct {
	sink.Sink
	accepted    atomic.Int64 // events in successful writes, repeats included
	redelivered atomic.Int64 // of those, events with RedeliveryCount > 0
	failures    atomic.Int64 // failed writes
}

func (c *countingSink) Write(ctx context.Context, batch []*sink.Event) error {
	if err := c.Sink.Write(ctx, batch); err != nil {
		c.failures.Add(1)
		return err
	}
	c.accepted.Add(int64(len(batch)))
	for _, e := range batch {
		if e.RedeliveryCount > 0 {
			c.redelivered.Add(1)
		}
	}
	return nil
}

// runTopic runs topic until the returned stop function is called; stop
// waits for Run to return and fails the test if it returned an error.
func runTopic(t *testing.T, topic *consumer.Topic) (stop func()) {
	t.Helper()
	soft, cancelSoft := context.WithCancel(context.Background())
	hard, cancelHard := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- topic.Run(soft, hard) }()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancelSoft()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run after graceful stop: %v", err)
			}
		case <-time.After(20 * time.Second):
			cancelHard()
			t.Errorf("Run did not stop within 20s of a graceful stop; aborted: %v", <-done)
		}
		cancelHard()
	}
	t.Cleanup(stop)
	return stop
}

// TestJetStreamExactlyOnceUnderChaos streams 20,000 events through a Shared
// consumer subscription into JetStream while the proxy drops every
// connection at random points of progress (so Pulsar redelivers batches the
// sink may already have stored) and the nats-server is shut down for ~2s and
// restarted with the same store mid-run (so the fan-out retries batches
// JetStream partly stored). The stream must end with exactly one message
// per event, each byte-equal to what was published.
func TestJetStreamExactlyOnceUnderChaos(t *testing.T) {
	t.Parallel()
	const (
		total   = 20000
		outage  = 2 * time.Second
		stream  = "EVENTS"
		allName = tenant + "/event-v1/all"
		full    = "persistent://" + allName
		subName = "streamd"
	)
	seed := time.Now().UnixNano()
	t.Logf("chaos seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 42))

	emu := pulsartest.Start(t, pulsartest.Config{})
	ns := natstest.Run(t, nil)
	ctx := testutil.Context(t, 80*time.Second)

	js, err := natssink.Open(ctx, natssink.Config{
		URL: ns.URL(), JetStream: true, Stream: stream, MaxInflight: 256,
		ReconnectWait: 20 * time.Millisecond, WriteTimeout: 2 * time.Second, Name: "e2e",
	})
	if err != nil {
		t.Fatalf("open nats sink: %v", err)
	}
	counted := &countingSink{Sink: js}
	hs := health.New()
	fan := sink.NewFanout(sink.FanoutConfig{
		Targets: []sink.Target{{Name: "nats", Sink: counted}},
		Health:  hs, RetryMin: 5 * time.Millisecond, RetryMax: 100 * time.Millisecond,
	})
	t.Cleanup(func() { _ = fan.Close(context.Background()) })
	dl, err := deadletter.Open(filepath.Join(t.TempDir(), "dead-letter.jsonl"))
	if err != nil {
		t.Fatalf("open dead letters: %v", err)
	}
	t.Cleanup(func() { _ = dl.Close() })

	// A quarter is backlog before the subscription exists; the rest is
	// published live, in bursts, while the chaos runs.
	g := pulsartest.NewGenerator(tenant, seed)
	want := publishAll(emu, g, total/4)
	produced := make(chan []published, 1)
	go func() {
		more := make([]published, 0, total-total/4)
		for len(more) < cap(more) {
			more = append(more, publishAll(emu, g, min(500, cap(more)-len(more)))...)
			if ctx.Err() != nil {
				break
			}
		}
		produced <- more
	}()
	topic := consumer.NewTopic(consumer.Config{
		Endpoint: emu.URL(), Tenant: tenant, Topic: "all", Mode: consumer.ModeConsumer,
		Subscription: subName, SubscriptionType: "Shared", Credential: testKey,
	}, consumer.Options{
		Sink: fan, DeadLetter: dl, Start: "earliest", Health: hs,
		Policy: reconnect.Policy{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond},
	})
	began := time.Now()
	stop := runTopic(t, topic)

	// Chaos, driven by the events the sink accepted so far: drop every
	// connection every 1000..3000 accepted events, repeats included (at whatever point the
	// pipeline happens to be), and take NATS down once half is acked.
	var (
		drops, dropCalls int
		outageStart      time.Time
		outageLen        time.Duration
		sawNotReady      bool
		outageDrop       bool
		nextDrop         = int64(500 + rnd.IntN(2500))
		tick             = time.NewTicker(2 * time.Millisecond)
	)
	defer tick.Stop()
	for rest := produced; rest != nil || emu.Backlog(allName, subName) > 0 || outageLen == 0 || dropCalls < 5; {
		select {
		case more := <-rest:
			want, rest = append(want, more...), nil
			continue
		case <-ctx.Done():
			t.Fatalf("chaos run did not finish: backlog %d, acked %d, drops %d, outage %v, stats %+v",
				emu.Backlog(allName, subName), topic.Acked(), drops, outageLen, emu.Stats())
		case <-tick.C:
		}
		if acc := counted.accepted.Load(); acc >= nextDrop {
			dropCalls++
			drops += emu.DropConnections()
			nextDrop = acc + int64(1000+rnd.IntN(2000))
		}
		switch {
		case outageStart.IsZero() && topic.Acked() >= total/2:
			ns.Stop()
			outageStart = time.Now()
		case !outageStart.IsZero() && outageLen == 0:
			for _, p := range hs.NotReady() {
				sawNotReady = sawNotReady || strings.HasPrefix(p, "sink nats")
			}
			if !outageDrop && time.Since(outageStart) >= outage/2 {
				// One drop while the fan-out is stuck retrying a batch.
				outageDrop = true
				dropCalls++
				drops += emu.DropConnections()
			}
			if time.Since(outageStart) >= outage && counted.failures.Load() >= 3 {
				if err := ns.Start(); err != nil {
					t.Fatal(err)
				}
				outageLen = time.Since(outageStart)
			}
		}
	}
	// Everything is acked; the last PubAcks arrived before the acks.
	stop()
	elapsed := time.Since(began)

	st := emu.Stats()
	t.Logf("events %d, drop calls %d (sessions dropped %d), emulator redeliveries %d, "+
		"redelivered events reaching the sink %d, events accepted by the sink %d (%d repeats), "+
		"failed sink writes %d, NATS outage %v, duration %v",
		total, dropCalls, drops, st.Redelivered, counted.redelivered.Load(), counted.accepted.Load(),
		counted.accepted.Load()-total, counted.failures.Load(), outageLen.Round(time.Millisecond),
		elapsed.Round(time.Millisecond))
	if st.Redelivered == 0 || counted.redelivered.Load() == 0 {
		t.Errorf("no redeliveries happened (emulator %d, seen by sink %d); the test proves nothing",
			st.Redelivered, counted.redelivered.Load())
	}
	if drops == 0 {
		t.Errorf("no session was dropped")
	}
	if !sawNotReady {
		t.Errorf(`health never showed "sink nats" not ready during the outage`)
	}
	if counted.failures.Load() == 0 {
		t.Errorf("the sink never failed during the NATS outage")
	}
	checkStart := time.Now()
	checkStream(t, ns.URL(), stream, full, want)
	t.Logf("stream checked in %v", time.Since(checkStart).Round(time.Millisecond))
}
