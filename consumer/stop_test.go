package consumer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink/sinktest"
)

// TestGracefulStopConsumer: a stop mid-stream returns nil with exactly the
// delivered events acked; a restart continues with no gap and no duplicate.
func TestGracefulStopConsumer(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	ids := publish(srv, pulsartest.NewGenerator(tenant, 41), allTopic, 1500)
	rec := &sinktest.Recorder{}
	opts, _ := newOptions(t, rec)
	cfg := newConfig(srv, consumer.ModeConsumer, "all")
	cfg.ReceiverQueueSize = 100
	r := run(t, cfg, opts)
	if err := rec.WaitCount(testutil.Context(t, wait), 500); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := r.Stop(); err != nil {
		t.Fatalf("Run after graceful stop = %v, want nil", err)
	}
	stopTook := time.Since(start)
	delivered := rec.IDs()
	if len(delivered) >= len(ids) {
		t.Fatal("stop came too late to be mid-stream")
	}
	// Acks are fire-and-forget; the proxy processes them in order before
	// the close frame.
	testutil.WaitFor(t, wait, "acks processed", func() bool { return len(srv.Acked(allTopic, sub)) >= len(delivered) })
	sameIDs(t, "acks after stop", srv.Acked(allTopic, sub), delivered)
	if n := srv.Stats().Closes[websocket.StatusNormalClosure]; n != 0 {
		t.Logf("server-initiated normal closes: %d", n)
	}

	r2 := run(t, cfg, opts)
	if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
		t.Fatal(err)
	}
	if err := r2.Stop(); err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "recorder after restart", rec.IDs(), ids)
	t.Logf("stopped after %d of %d events in %v", len(delivered), len(ids), stopTook.Round(time.Millisecond))
}

// TestGracefulStopReader: the checkpoint after a stop is the last delivered
// id, and a new Topic on the same state directory continues after it with
// no gap and no duplicate.
func TestGracefulStopReader(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	ids := publish(srv, pulsartest.NewGenerator(tenant, 42), allTopic, 1500)
	dir := t.TempDir()
	rec := &sinktest.Recorder{}
	opts, _ := newOptions(t, rec)
	opts.Checkpoints = openStore(t, dir)
	opts.CheckpointEvery = 1000
	opts.CheckpointInterval = time.Hour // only the stop writes the final position
	cfg := newConfig(srv, consumer.ModeReader, "all")
	cfg.ReceiverQueueSize = 100
	r := run(t, cfg, opts)
	if err := rec.WaitCount(testutil.Context(t, wait), 500); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(); err != nil {
		t.Fatalf("Run after graceful stop = %v, want nil", err)
	}
	delivered := rec.IDs()
	if len(delivered) >= len(ids) {
		t.Fatal("stop came too late to be mid-stream")
	}
	last := delivered[len(delivered)-1]
	if id, ok, err := openStore(t, dir).Load(t.Context(), tenant+"/event-v1/all"); err != nil || !ok || id != last {
		t.Fatalf("checkpoint = %q, %v, %v; want the last delivered %q", id, ok, err, last)
	}

	opts.Checkpoints = openStore(t, dir)
	r2 := run(t, cfg, opts)
	if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
		t.Fatal(err)
	}
	if err := r2.Stop(); err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "recorder after restart", rec.IDs(), ids)
}

// TestHardAbortAcksNothingUnaccepted: aborting while the sink blocks returns
// promptly with the hard context's error, and no id is acked that the sink
// did not accept.
func TestHardAbortAcksNothingUnaccepted(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	publish(srv, pulsartest.NewGenerator(tenant, 43), allTopic, 1000)
	rec := &sinktest.Recorder{}
	defer rec.Unblock()
	opts, _ := newOptions(t, rec)
	cfg := newConfig(srv, consumer.ModeConsumer, "all")
	cfg.ReceiverQueueSize = 50
	r := run(t, cfg, opts)
	if err := rec.WaitCount(testutil.Context(t, wait), 100); err != nil {
		t.Fatal(err)
	}
	rec.Block()
	calls := rec.Calls()
	testutil.WaitFor(t, wait, "a blocked sink write", func() bool { return rec.Calls() > calls })
	r.stop() // a graceful stop cannot finish while the sink blocks...
	start := time.Now()
	err := r.Abort() // ...so the deadline aborts it
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after abort = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("abort took %v", took)
	}
	accepted := map[string]bool{}
	for _, id := range rec.IDs() {
		accepted[id] = true
	}
	acked := srv.Acked(allTopic, sub)
	for _, id := range acked {
		if !accepted[id] {
			t.Fatalf("acked %s, which no sink accepted", id)
		}
	}
	if len(acked) == 0 {
		t.Error("nothing acked before the abort; the test proves little")
	}
	t.Logf("accepted %d, acked %d, backlog %d after abort", len(accepted), len(acked), srv.Backlog(allTopic, sub))
}

// TestIdleStreamKeptAliveByPings: pings keep a silent stream open past the
// proxy's idle timeout; without them (interval above the timeout) the proxy
// closes it, so the test would fail if pings did nothing.
func TestIdleStreamKeptAliveByPings(t *testing.T) {
	// The ping interval is a twelfth of the idle timeout: a loaded machine
	// (-race, parallel packages) can delay a ping by a few intervals, and a
	// delay is not what this test is about.
	const idle = 600 * time.Millisecond
	t.Run("pings", func(t *testing.T) {
		srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}, IdleTimeout: idle})
		rec := &sinktest.Recorder{}
		opts, _ := newOptions(t, rec)
		cfg := newConfig(srv, consumer.ModeReader, "all")
		cfg.PingInterval = idle / 12
		run(t, cfg, opts)
		// 36 pings ≈ 1.8 s, three idle timeouts.
		testutil.WaitFor(t, wait, "36 pings", func() bool { return srv.Stats().Pings >= 36 })
		st := srv.Stats()
		if st.Connections != 1 || st.Closes[websocket.StatusGoingAway] != 0 {
			t.Fatalf("connections %d, idle closes %d; want 1 and 0", st.Connections, st.Closes[websocket.StatusGoingAway])
		}
		id := srv.Publish(allTopic, []byte(`{"AgentStatusChange":{"agentId":"ag1"}}`))
		if err := rec.WaitCount(testutil.Context(t, wait), 1); err != nil || rec.IDs()[0] != id {
			t.Fatalf("stream dead after idling: %v", err)
		}
	})
	t.Run("control", func(t *testing.T) {
		srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}, IdleTimeout: idle})
		rec := &sinktest.Recorder{}
		opts, _ := newOptions(t, rec)
		cfg := newConfig(srv, consumer.ModeReader, "all")
		cfg.PingInterval = 10 * idle
		run(t, cfg, opts)
		testutil.WaitFor(t, wait, "an idle close and a reconnect", func() bool {
			st := srv.Stats()
			return st.Closes[websocket.StatusGoingAway] >= 1 && st.Connections >= 2
		})
	})
}

// TestManyTopics: two Topics (event-v1/all and event-v1/AgentStatusChange)
// feed one sink, each with its own checkpoint.
func TestManyTopics(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	g := pulsartest.NewGenerator(tenant, 44)
	var all, agent []string
	for len(agent) < 30 {
		ev, typ := g.Next()
		ids := srv.PublishEvent(tenant, ev, typ)
		all = append(all, ids[0])
		if typ == "AgentStatusChange" {
			agent = append(agent, ids[1])
		}
	}
	dir := t.TempDir()
	store := openStore(t, dir)
	rec := &sinktest.Recorder{}
	var runs []*running
	for _, topic := range []string{"all", "AgentStatusChange"} {
		opts, _ := newOptions(t, rec)
		opts.Checkpoints = store
		runs = append(runs, run(t, newConfig(srv, consumer.ModeReader, topic), opts))
	}
	if err := rec.WaitCount(testutil.Context(t, wait), len(all)+len(agent)); err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if err := r.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	byTopic := map[string][]string{}
	for _, e := range rec.Events() {
		byTopic[e.Topic] = append(byTopic[e.Topic], e.MessageID)
		if e.Topic == "persistent://acme/event-v1/AgentStatusChange" && e.EventType != "AgentStatusChange" {
			t.Errorf("event type %q on the AgentStatusChange topic", e.EventType)
		}
	}
	sameIDs(t, "all", byTopic["persistent://acme/event-v1/all"], all)
	sameIDs(t, "AgentStatusChange", byTopic["persistent://acme/event-v1/AgentStatusChange"], agent)
	for key, want := range map[string]string{
		tenant + "/event-v1/all":               all[len(all)-1],
		tenant + "/event-v1/AgentStatusChange": agent[len(agent)-1],
	} {
		if id, ok, err := openStore(t, dir).Load(t.Context(), key); err != nil || !ok || id != want {
			t.Errorf("checkpoint %s = %q, %v, %v; want %q", key, id, ok, err, want)
		}
	}
}
