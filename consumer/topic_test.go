package consumer_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink/sinktest"
)

// TestConsumerAcksEachMessageOnceWithExactID: every message is acked exactly
// once, in order, with the id string byte-for-byte as received.
func TestConsumerAcksEachMessageOnceWithExactID(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	ids := publish(srv, pulsartest.NewGenerator(tenant, 1), allTopic, 300)
	if !strings.ContainsAny(ids[0], "+") || !strings.ContainsAny(ids[0], "/") || !strings.ContainsAny(ids[0], "=") {
		t.Fatalf("emulator id %q lacks + / =; the test would not prove exact ids", ids[0])
	}
	rec := &sinktest.Recorder{}
	opts, _ := newOptions(t, rec)
	cfg := newConfig(srv, consumer.ModeConsumer, "all")
	cfg.ReceiverQueueSize = 50
	r := run(t, cfg, opts)

	if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
		t.Fatalf("delivered %d of %d: %v", rec.Count(), len(ids), err)
	}
	testutil.WaitFor(t, wait, "every ack", func() bool { return len(srv.Acked(allTopic, sub)) >= len(ids) })
	if err := r.Stop(); err != nil {
		t.Fatalf("Run after graceful stop = %v, want nil", err)
	}
	sameIDs(t, "recorder", rec.IDs(), ids)
	sameIDs(t, "acks", srv.Acked(allTopic, sub), ids)
	if n := srv.Backlog(allTopic, sub); n != 0 {
		t.Errorf("backlog after stop = %d, want 0", n)
	}
	if got := r.topic.Acked(); got != int64(len(ids)) {
		t.Errorf("Topic.Acked() = %d, want %d", got, len(ids))
	}
	ev := rec.Events()[0]
	if ev.Topic != "persistent://acme/event-v1/all" || ev.EventType == "" || ev.PublishTime == "" {
		t.Errorf("first event = topic %q type %q publishTime %q", ev.Topic, ev.EventType, ev.PublishTime)
	}
}

// TestReaderResumesAfterCheckpointedID: a restarted reader resumes exclusively
// after its checkpoint, an id containing + / = (proves URL encoding: an
// unencoded '+' would reach the proxy as a space and fail with 500).
func TestReaderResumesAfterCheckpointedID(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	g := pulsartest.NewGenerator(tenant, 2)
	first := publish(srv, g, allTopic, 200)
	dir := t.TempDir()
	rec := &sinktest.Recorder{}
	opts, _ := newOptions(t, rec)
	opts.Checkpoints = openStore(t, dir)
	cfg := newConfig(srv, consumer.ModeReader, "all")
	r := run(t, cfg, opts)
	if err := rec.WaitCount(testutil.Context(t, wait), len(first)); err != nil {
		t.Fatalf("delivered %d of %d: %v", rec.Count(), len(first), err)
	}
	if err := r.Stop(); err != nil {
		t.Fatalf("Run after graceful stop = %v, want nil", err)
	}
	last := first[len(first)-1]
	if id, ok, err := openStore(t, dir).Load(t.Context(), tenant+"/event-v1/all"); err != nil || !ok || id != last {
		t.Fatalf("checkpoint = %q, %v, %v; want %q", id, ok, err, last)
	}
	if !strings.ContainsAny(last, "+/=") {
		t.Fatalf("checkpoint id %q has none of + / =", last)
	}

	more := publish(srv, g, allTopic, 100)
	opts.Checkpoints = openStore(t, dir)
	r2 := run(t, cfg, opts)
	if err := rec.WaitCount(testutil.Context(t, wait), len(first)+len(more)); err != nil {
		t.Fatalf("after restart delivered %d: %v", rec.Count(), err)
	}
	if err := r2.Stop(); err != nil {
		t.Fatalf("second Run = %v", err)
	}
	sameIDs(t, "recorder", rec.IDs(), append(first, more...))
	req := srv.LastRequest()
	if want := "messageId=" + url.QueryEscape(last); !strings.Contains(req.RawQuery, want) {
		t.Errorf("resume query %q does not contain %q", req.RawQuery, want)
	}
	if req.Query.Get("messageId") != last {
		t.Errorf("proxy decoded messageId %q, want %q", req.Query.Get("messageId"), last)
	}
}

// TestWindowNeverStalls: with a window of 10, 5000 messages flow through on
// one connection in both modes, so every slot is released.
func TestWindowNeverStalls(t *testing.T) {
	for _, mode := range []consumer.Mode{consumer.ModeConsumer, consumer.ModeReader} {
		t.Run(string(mode), func(t *testing.T) {
			srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
			ids := publish(srv, pulsartest.NewGenerator(tenant, 3), allTopic, 5000)
			rec := &sinktest.Recorder{}
			opts, _ := newOptions(t, rec)
			cfg := newConfig(srv, mode, "all")
			cfg.ReceiverQueueSize = 10
			r := run(t, cfg, opts)
			if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
				t.Fatalf("window stalled: delivered %d of %d: %v", rec.Count(), len(ids), err)
			}
			if err := r.Stop(); err != nil {
				t.Fatalf("Run = %v", err)
			}
			sameIDs(t, "recorder", rec.IDs(), ids)
			if st := srv.Stats(); st.Connections != 1 {
				t.Errorf("connections = %d, want 1 (no reconnect needed to unstick)", st.Connections)
			}
			if mode == consumer.ModeConsumer {
				// The emulator may still be processing the last acks
				// that arrived just before the close frame.
				testutil.WaitFor(t, wait, "every ack", func() bool { return len(srv.Acked(allTopic, sub)) >= len(ids) })
				sameIDs(t, "acks", srv.Acked(allTopic, sub), ids)
			}
		})
	}
}

// TestSinkFailureAcksNothing: while the sink fails nothing is acked and the
// backlog stays; after it heals everything is delivered (as redeliveries)
// and acked.
func TestSinkFailureAcksNothing(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	ids := publish(srv, pulsartest.NewGenerator(tenant, 4), allTopic, 100)
	rec := &sinktest.Recorder{}
	rec.Fail(errors.New("disk full"))
	opts, _ := newOptions(t, rec)
	cfg := newConfig(srv, consumer.ModeConsumer, "all")
	run(t, cfg, opts)

	testutil.WaitFor(t, wait, "three failed sink writes", func() bool { return rec.Calls() >= 3 })
	if n := len(srv.Acked(allTopic, sub)); n != 0 {
		t.Fatalf("%d acks while the sink fails, want 0", n)
	}
	if n := srv.Backlog(allTopic, sub); n != len(ids) {
		t.Fatalf("backlog while failing = %d, want %d", n, len(ids))
	}
	failed := rec.Calls()
	rec.Heal()
	if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
		t.Fatalf("after heal delivered %d: %v", rec.Count(), err)
	}
	testutil.WaitFor(t, wait, "backlog drained", func() bool { return srv.Backlog(allTopic, sub) == 0 })
	got, dups := dedup(rec.IDs())
	if dups != 0 {
		t.Errorf("%d duplicates in the sink", dups)
	}
	sameIDs(t, "recorder", got, ids)
	acked, _ := dedup(srv.Acked(allTopic, sub))
	sameIDs(t, "acks", acked, ids)
	redelivered := 0
	for _, e := range rec.Events() {
		if e.RedeliveryCount > 0 {
			redelivered++
		}
	}
	if redelivered == 0 {
		t.Error("no event carried redeliveryCount > 0")
	}
	t.Logf("failed sink writes before heal %d (one per session), redelivered events delivered %d", failed, redelivered)
}

// TestReaderSinkFailureKeepsCheckpoint: a failing sink never moves the
// reader's checkpoint; after healing the stream continues with no gap.
func TestReaderSinkFailureKeepsCheckpoint(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	g := pulsartest.NewGenerator(tenant, 5)
	ids := publish(srv, g, allTopic, 50)
	rec := &sinktest.Recorder{}
	opts, _ := newOptions(t, rec)
	// Read through the running Topic's own store: opening another one on the
	// directory would remove its in-progress temporary file.
	store := openStore(t, t.TempDir())
	opts.Checkpoints = store
	opts.CheckpointEvery = 1
	run(t, newConfig(srv, consumer.ModeReader, "all"), opts)
	if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, wait, "checkpoint of the last id", func() bool {
		id, _, _ := store.Load(t.Context(), tenant+"/event-v1/all")
		return id == ids[len(ids)-1]
	})
	rec.Fail(errors.New("nats down"))
	calls := rec.Calls()
	more := publish(srv, g, allTopic, 50)
	testutil.WaitFor(t, wait, "two failed writes", func() bool { return rec.Calls() >= calls+2 })
	if id, _, _ := store.Load(t.Context(), tenant+"/event-v1/all"); id != ids[len(ids)-1] {
		t.Fatalf("checkpoint moved to %q while the sink fails", id)
	}
	rec.Heal()
	if err := rec.WaitCount(testutil.Context(t, wait), len(ids)+len(more)); err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "recorder", rec.IDs(), append(ids, more...))
}
