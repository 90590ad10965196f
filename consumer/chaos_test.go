package consumer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink/sinktest"
)

// chaos publishes total events in chunks (each chunk when the sink has
// caught up to within lead events) while another goroutine drops every
// connection at random points of progress, and once, at half way, stalls
// the connection (half-open) and measures how long the Topic takes to
// replace it. It returns the published ids, the number of drops and the
// stall-to-reconnect time.
type chaosRun struct {
	ids      []string
	drops    int
	stallRec time.Duration
}

func chaos(t *testing.T, srv *pulsartest.Server, rec *sinktest.Recorder, total int, stall bool, seed uint64) chaosRun {
	t.Helper()
	// A bound, not a target: under -race on a loaded 2-core machine 20000
	// events with chaos take ~30 s.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const chunk, lead = 500, 1500
	pubDone := make(chan []string, 1)
	go func() {
		g := pulsartest.NewGenerator(tenant, int64(seed))
		var ids []string
		for len(ids) < total {
			if rec.WaitCount(ctx, len(ids)-lead) != nil {
				break
			}
			ids = append(ids, publish(srv, g, allTopic, min(chunk, total-len(ids)))...)
		}
		pubDone <- ids
	}()

	var res chaosRun
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rnd := rand.New(rand.NewPCG(seed, 7))
		stalled := !stall
		next := 100 + rnd.IntN(900)
		for next < total-200 {
			if rec.WaitCount(ctx, next) != nil {
				return
			}
			if !stalled && next >= total/2 {
				stalled = true
				before := srv.Stats().Connections
				start := time.Now()
				resume := srv.Stall()
				tick := time.NewTicker(time.Millisecond)
				for srv.Stats().Connections == before && ctx.Err() == nil {
					<-tick.C
				}
				tick.Stop()
				res.stallRec = time.Since(start)
				resume()
			} else {
				res.drops += min(srv.DropConnections(), 1)
			}
			next = rec.Count() + 100 + rnd.IntN(900)
		}
	}()
	res.ids = <-pubDone
	if err := rec.WaitCount(ctx, 1); err != nil {
		t.Fatalf("nothing delivered: %v", err)
	}
	wg.Wait()
	return res
}

// TestChaosReader: tens of thousands of events with connections dropped at
// random points and a half-open stall reach the sink exactly once, in order.
func TestChaosReader(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	rec := &sinktest.Recorder{}
	opts, _ := newOptions(t, rec)
	opts.Checkpoints = openStore(t, t.TempDir())
	opts.CheckpointEvery = 500
	var logs testutil.SyncBuffer
	opts.Logger = newLogger(t, &logs)
	cfg := newConfig(srv, consumer.ModeReader, "all")
	cfg.PingInterval = 50 * time.Millisecond
	cfg.PingTimeout = 250 * time.Millisecond
	cfg.ReceiverQueueSize = 500
	r := run(t, cfg, opts)

	const total = 20000
	start := time.Now()
	res := chaos(t, srv, rec, total, true, 11)
	if len(res.ids) != total {
		t.Fatalf("published %d of %d", len(res.ids), total)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		// Wait until the last published id arrived (duplicates may inflate
		// the count, so the count alone is not enough).
		if ids := rec.IDs(); len(ids) > 0 && ids[len(ids)-1] == res.ids[total-1] {
			break
		}
		if rec.WaitCount(ctx, rec.Count()+1) != nil {
			got, dups := dedup(rec.IDs())
			t.Fatalf("delivered %d events (%d distinct, %d duplicates), the last published not among them; %s",
				rec.Count(), len(got), dups, diffIDs(got, res.ids))
		}
	}
	elapsed := time.Since(start)
	if err := r.Stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	got, dups := dedup(rec.IDs())
	sameIDs(t, "deduplicated recorder", got, res.ids)
	st := srv.Stats()
	pingEnds := strings.Count(logs.String(), `"reason":"ping_timeout"`)
	t.Logf("reader chaos: %d events in %v, %d drops, %d connections, stall replaced after %v, ping-timeout ends %d, duplicates %d",
		total, elapsed.Round(time.Millisecond), res.drops, st.Connections, res.stallRec.Round(time.Millisecond), pingEnds, dups)
	if dups != 0 {
		t.Errorf("%d duplicates; the reader's exclusive resume should give none", dups)
	}
	if res.drops < 5 {
		t.Errorf("only %d drops happened", res.drops)
	}
	if pingEnds == 0 {
		t.Error("the stall was not ended by a ping timeout")
	}
	// Detection within interval + timeout, plus a reconnect delay (≤ Max)
	// and scheduling slack.
	if limit := cfg.PingInterval + cfg.PingTimeout + fastPolicy.Max + 500*time.Millisecond; res.stallRec > limit {
		t.Errorf("half-open connection replaced after %v, want ≤ %v", res.stallRec, limit)
	}
}

// TestChaosConsumer: drops mid-stream lose nothing in consumer mode; the
// messages in flight at a drop come back as redeliveries and are delivered.
func TestChaosConsumer(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	rec := &sinktest.Recorder{}
	opts, _ := newOptions(t, rec)
	cfg := newConfig(srv, consumer.ModeConsumer, "all")
	cfg.ReceiverQueueSize = 300
	run(t, cfg, opts)

	const total = 6000
	start := time.Now()
	res := chaos(t, srv, rec, total, false, 12)
	testutil.WaitFor(t, wait, "backlog drained", func() bool { return srv.Backlog(allTopic, sub) == 0 })
	elapsed := time.Since(start)
	got, dups := dedup(rec.IDs())
	want := map[string]bool{}
	for _, id := range res.ids {
		want[id] = true
	}
	for _, id := range got {
		if !want[id] {
			t.Fatalf("unexpected id %q", id)
		}
		delete(want, id)
	}
	if len(want) != 0 {
		t.Fatalf("%d published events never reached the sink", len(want))
	}
	redelivered := 0
	for _, e := range rec.Events() {
		if e.RedeliveryCount > 0 {
			redelivered++
		}
	}
	acked, ackDups := dedup(srv.Acked(allTopic, sub))
	if len(acked) != total {
		t.Errorf("%d distinct ids acked, want %d", len(acked), total)
	}
	st := srv.Stats()
	t.Logf("consumer chaos: %d events in %v, %d drops, redelivered frames %d, redelivered events delivered %d, sink duplicates %d, duplicate acks %d",
		total, elapsed.Round(time.Millisecond), res.drops, st.Redelivered, redelivered, dups, ackDups)
	if res.drops < 3 {
		t.Errorf("only %d drops happened", res.drops)
	}
	if redelivered == 0 {
		t.Error("no redelivered event (redeliveryCount > 0) reached the sink")
	}
}

// TestConsumerSurvivesBusySubscription: 409 answers (a fast reconnect, or
// another consumer holding an Exclusive subscription) are retried until the
// subscription frees up; the holder's unacked messages are redelivered.
func TestConsumerSurvivesBusySubscription(t *testing.T) {
	t.Run("rejected", func(t *testing.T) {
		srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
		ids := publish(srv, pulsartest.NewGenerator(tenant, 13), allTopic, 50)
		srv.RejectHandshakes(http.StatusConflict, 3)
		rec := &sinktest.Recorder{}
		opts, _ := newOptions(t, rec)
		run(t, newConfig(srv, consumer.ModeConsumer, "all"), opts)
		if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
			t.Fatal(err)
		}
		sameIDs(t, "recorder", rec.IDs(), ids)
		if n := srv.Stats().Handshakes[http.StatusConflict]; n != 3 {
			t.Errorf("409 answers = %d, want 3", n)
		}
	})
	t.Run("held", func(t *testing.T) {
		srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
		ids := publish(srv, pulsartest.NewGenerator(tenant, 14), allTopic, 50)
		cfg := newConfig(srv, consumer.ModeConsumer, "all")
		cfg.SubscriptionType = "Exclusive"
		holder, err := consumer.Dial(testutil.Context(t, wait), cfg, "earliest")
		if err != nil {
			t.Fatalf("holder dial: %v", err)
		}
		defer holder.CloseNow()
		testutil.WaitFor(t, wait, "messages in flight to the holder", func() bool { return srv.Stats().Delivered >= len(ids) })

		rec := &sinktest.Recorder{}
		opts, _ := newOptions(t, rec)
		var logs testutil.SyncBuffer
		opts.Logger = newLogger(t, &logs)
		run(t, cfg, opts)
		testutil.WaitFor(t, wait, "two 409 answers", func() bool { return srv.Stats().Handshakes[http.StatusConflict] >= 2 })
		if rec.Count() != 0 {
			t.Fatal("delivered while another consumer holds the subscription")
		}
		holder.CloseNow()
		if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
			t.Fatal(err)
		}
		sameIDs(t, "recorder", rec.IDs(), ids)
		for _, e := range rec.Events() {
			if e.RedeliveryCount < 1 {
				t.Fatalf("event %s redeliveryCount %d, want ≥ 1 (it was in flight to the holder)", e.MessageID, e.RedeliveryCount)
			}
		}
		if !strings.Contains(logs.String(), `"reason":"busy"`) {
			t.Error("no session end logged with reason busy")
		}
		if strings.Contains(logs.String(), `"level":"ERROR"`) {
			t.Error("a busy subscription was logged at error level; it is transient")
		}
	})
}

// diffIDs describes how got differs from want: the first position where they
// differ and how many of want are missing.
func diffIDs(got, want []string) string {
	have := make(map[string]bool, len(got))
	for _, id := range got {
		have[id] = true
	}
	missing, first := 0, -1
	for i, id := range want {
		if !have[id] {
			missing++
		}
		if first < 0 && (i >= len(got) || got[i] != id) {
			first = i
		}
	}
	return fmt.Sprintf("%d of %d published ids missing, first difference at index %d", missing, len(want), first)
}
