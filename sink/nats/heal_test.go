package nats_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/streamd/streamd/internal/natstest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/nats"
)

// writer writes one distinct event per Write every 10ms, with no deadline
// on ctx (as the fan-out calls a sink), retrying a failed one, and records
// when the last Write succeeded.
type writer struct {
	s      *nats.Sink
	evs    []*sink.Event
	next   atomic.Int64 // index of the next event to write
	lastOK atomic.Int64 // unix nanos of the last successful Write
	stop   chan struct{}
	done   chan struct{}
}

func startWriter(t *testing.T, s *nats.Sink, topic string) *writer {
	w := &writer{s: s, evs: testEvents(100000, topic), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	t.Cleanup(w.halt)
	return w
}

func (w *writer) run() {
	defer close(w.done)
	pace := time.NewTicker(10 * time.Millisecond) // a steady trickle, not a CPU hog
	defer pace.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-pace.C:
		}
		i := w.next.Load()
		if err := w.s.Write(context.Background(), w.evs[i:i+1]); err != nil {
			continue
		}
		w.lastOK.Store(time.Now().UnixNano())
		w.next.Add(1)
	}
}

func (w *writer) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// okAfter waits until a Write succeeded after t0 and returns how long after.
func (w *writer) okAfter(t *testing.T, t0 time.Time, limit time.Duration) time.Duration {
	t.Helper()
	testutil.WaitFor(t, 2*limit, "a successful write", func() bool { return w.lastOK.Load() > t0.UnixNano() })
	return time.Unix(0, w.lastOK.Load()).Sub(t0)
}

// TestJetStreamRecreatesDeletedStreamUnderCoreSubscriber deletes the
// stream while a plain subscriber listens on its subjects, so publishes
// get no "no responders" error and their PubAcks simply never come. The
// sink must notice (PubAck timeout, then a stream lookup), recreate the
// stream it owns, and deliver again within seconds.
func TestJetStreamRecreatesDeletedStreamUnderCoreSubscriber(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, nil)
	subscribe(t, ts.URL(), "8x8.>")
	s := openSink(t, nats.Config{URL: ts.URL(), JetStream: true, Stream: "EVENTS"})
	w := startWriter(t, s, "persistent://acme/default/events")
	testutil.WaitFor(t, 10*time.Second, "first writes", func() bool { return w.next.Load() >= 10 })

	if err := jsClient(t, ts.URL()).DeleteStream(testutil.Context(t, 5*time.Second), "EVENTS"); err != nil {
		t.Fatalf("delete stream: %v", err)
	}
	deleted := time.Now()
	stalled := w.okAfter(t, deleted, 5*time.Second)
	t.Logf("delivering again %v after the stream was deleted", stalled.Round(time.Millisecond))
	if stalled > 5*time.Second {
		t.Errorf("stalled %v after the stream was deleted, want < 5s", stalled)
	}
	from := w.next.Load()
	testutil.WaitFor(t, 10*time.Second, "more writes", func() bool { return w.next.Load() >= from+5 })
	w.halt()
	if n := streamMsgs(t, ts.URL(), "EVENTS"); n == 0 {
		t.Error("recreated stream is empty")
	}
}

// TestJetStreamLameDuckRestart restarts the server the way a rolling
// upgrade does (lame duck, then start on the same port and store): delivery
// must resume within seconds of the server being back, never waiting out a
// JetStream API request whose answer was lost with the old connection.
//
// While JetStream is down in lame-duck mode publishes fail with "no
// responders", so the sink looks the stream up; a subscriber that takes
// stream-info requests and never answers makes sure that lookup's answer
// is lost, as it is when the connection closes under it.
func TestJetStreamLameDuckRestart(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, func(o *server.Options) {
		o.LameDuckDuration = 2 * time.Second
		o.LameDuckGracePeriod = time.Second
	})
	s := openSink(t, nats.Config{URL: ts.URL(), JetStream: true, Stream: "EVENTS", ReconnectWait: 50 * time.Millisecond})
	subscribe(t, ts.URL(), "$JS.API.STREAM.INFO.>")
	w := startWriter(t, s, "persistent://acme/default/events")
	testutil.WaitFor(t, 10*time.Second, "first writes", func() bool { return w.next.Load() >= 10 })

	ts.LameDuck()
	if err := ts.Start(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	stalled := w.okAfter(t, back, 5*time.Second)
	t.Logf("delivering again %v after the server was back", stalled.Round(time.Millisecond))
	if stalled > 5*time.Second {
		t.Errorf("stalled %v after the restart, want < 5s", stalled)
	}
	w.halt()
	checkStream(t, ts.URL(), "EVENTS", w.evs[:w.next.Load()])
}

// TestJetStreamStreamLeaderLoss stops the node leading an R3 stream while
// the sink publishes through another node: the PubAcks in flight never
// come. Delivery must resume within seconds of the new leader's election.
func TestJetStreamStreamLeaderLoss(t *testing.T) {
	t.Parallel()
	c := natstest.RunCluster(t, 3)
	ctx := testutil.Context(t, 30*time.Second)
	cfg := jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"8x8.>"}, Replicas: 3, Duplicates: time.Minute}
	if _, err := jsClient(t, c.URL()).CreateStream(ctx, cfg); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	leader := streamLeader(t, c.URL(), "")
	var via *natstest.Server // a node that survives
	for _, n := range c.Nodes {
		if n.Name() != leader {
			via = n
			break
		}
	}
	s := openSink(t, nats.Config{URL: via.URL(), JetStream: true, Stream: "EVENTS", ReconnectWait: 50 * time.Millisecond})
	w := startWriter(t, s, "persistent://acme/default/events")
	testutil.WaitFor(t, 10*time.Second, "first writes", func() bool { return w.next.Load() >= 10 })

	c.Node(leader).Stop()
	stopped := time.Now()
	newLeader := streamLeader(t, via.URL(), leader)
	elected := time.Since(stopped)
	resumed := w.okAfter(t, stopped, 10*time.Second)
	t.Logf("leader %s stopped; %s elected after %v; delivering again after %v",
		leader, newLeader, elected.Round(time.Millisecond), resumed.Round(time.Millisecond))
	if resumed > elected+5*time.Second {
		t.Errorf("delivery resumed %v after the new leader was elected, want < 5s", resumed-elected)
	}
	w.halt()
}

// streamLeader polls until the EVENTS stream has a leader other than not,
// and returns its name.
func streamLeader(t *testing.T, url, not string) string {
	t.Helper()
	js := jsClient(t, url)
	var leader string
	testutil.WaitFor(t, 20*time.Second, "a stream leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		str, err := js.Stream(ctx, "EVENTS")
		if err != nil {
			return false
		}
		info, err := str.Info(ctx)
		if err != nil || info.Cluster == nil {
			return false
		}
		leader = info.Cluster.Leader
		return leader != "" && leader != not
	})
	return leader
}
