package e2e

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/natstest"
	"github.com/streamd/streamd/internal/testutil"
	natssink "github.com/streamd/streamd/sink/nats"
)

// Replica tests: several real streamd processes on one Pulsar subscription
// (or reading one topic side by side) publish into one JetStream stream on
// an embedded nats-server; one is killed with SIGKILL mid-stream. Counts
// are bounded and the publisher paced to fit the CI budget.

const (
	replicaTopic  = "event-v1/all"
	replicaFull   = "persistent://" + tenant + "/" + replicaTopic
	replicaStream = "EVENTS"
	replicaWait   = 60 * time.Second
)

// replicaCounts returns the event count and publish rate of a replica test,
// smaller under the race detector (every replica is a -race binary).
func replicaCounts() (n int, rate float64) {
	if raceEnabled {
		return 1500, 300
	}
	return 3000, 600
}

// startReplica runs one streamd with its own state dir and HTTP port,
// publishing to JetStream stream replicaStream on ns; kv adds or overrides
// variables (STREAMD_MODE, STREAMD_SUBSCRIPTION_TYPE, ...).
func startReplica(t *testing.T, emu *pulsartest.Server, ns *natstest.Server, name string, kv ...string) *daemon {
	t.Helper()
	env := []string{
		"STREAMD_TENANT=" + tenant, "STREAMD_API_KEY=" + testKey, "STREAMD_ENDPOINT=" + emu.URL(),
		"STREAMD_START=earliest", "STREAMD_STATE_DIR=" + t.TempDir(), "STREAMD_INSTANCE=" + name,
		"STREAMD_SINKS=nats", "STREAMD_NATS_URL=" + ns.URL(), "STREAMD_NATS_JETSTREAM=true",
		"STREAMD_NATS_STREAM=" + replicaStream,
		"STREAMD_HTTP_ADDR=127.0.0.1:0", "STREAMD_LOG_FORMAT=json",
		"STREAMD_RECONNECT_MIN=20ms", "STREAMD_RECONNECT_MAX=200ms", "STREAMD_CHECKPOINT_INTERVAL=200ms",
	}
	return startDaemon(t, append(env, kv...)...)
}

// kill sends SIGKILL and waits for the process to end.
func (d *daemon) kill() {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		d.t.Fatalf("kill streamd: %v", err)
	}
	d.wait(10 * time.Second)
}

// acked is the replica's streamd_events_acked_total on the replica topic.
func (d *daemon) acked() float64 {
	return d.metrics().val("streamd_events_acked_total", "topic="+replicaTopic)
}

// pacer publishes generated events with PublishEvent at a steady rate in
// the background.
type pacer struct {
	emu  *pulsartest.Server
	mu   sync.Mutex
	g    *pulsartest.Generator
	pub  []published
	done chan struct{}
}

func pace(t *testing.T, emu *pulsartest.Server, seed int64, n int, rate float64) *pacer {
	p := &pacer{emu: emu, g: pulsartest.NewGenerator(tenant, seed), done: make(chan struct{})}
	stop := make(chan struct{})
	go func() {
		defer close(p.done)
		start := time.Now()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for sent := 0; sent < n; {
			select {
			case <-stop:
				return
			case <-tick.C:
				due := min(n, int(time.Since(start).Seconds()*rate)+1)
				if due > sent {
					p.burst(due - sent)
					sent = due
				}
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-p.done })
	return p
}

// burst publishes n more events at once and returns them.
func (p *pacer) burst(n int) []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := publishEvents(p.emu, p.g, n)
	p.pub = append(p.pub, b...)
	return b
}

// count returns how many events were published so far.
func (p *pacer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pub)
}

// wait returns every published event once the pacer finished.
func (p *pacer) wait(t *testing.T) []published {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(replicaWait):
		t.Fatal("publisher did not finish")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]published(nil), p.pub...)
}

// waitStream waits until the stream holds n messages.
func waitStream(t *testing.T, ns *natstest.Server, n int) {
	t.Helper()
	testutil.WaitFor(t, replicaWait, fmt.Sprintf("%d messages in the stream", n), func() bool {
		return streamMsgs(testutil.Context(t, 5*time.Second), ns.URL(), replicaStream) >= n
	})
}

// spreadAndKill runs three replicas of subType, kills one mid-stream and
// checks that the stream holds every event exactly once and that every
// replica did a share of the work. It returns the stored messages.
func spreadAndKill(t *testing.T, subType string, seed int64) ([]published, []streamMessage) {
	n, rate := replicaCounts()
	emu := pulsartest.Start(t, pulsartest.Config{})
	ns := natstest.Run(t, nil)
	var ds []*daemon
	for i := range 3 {
		ds = append(ds, startReplica(t, emu, ns, fmt.Sprint("replica-", i),
			"STREAMD_MODE=consumer", "STREAMD_SUBSCRIPTION_TYPE="+subType, "STREAMD_RECEIVER_QUEUE_SIZE=100"))
	}
	testutil.WaitFor(t, replicaWait, "3 consumer sessions", func() bool { return emu.Sessions() == 3 })
	start := time.Now()
	p := pace(t, emu, seed, n, rate)

	testutil.WaitFor(t, replicaWait, "a third of the events published", func() bool { return p.count() >= n/3 })
	shares := make([]float64, 3)
	for i, d := range ds {
		shares[i] = d.acked()
	}
	// Freeze replica-0, let its window fill, then kill it: it dies holding
	// a full window of unacked messages.
	if err := ds[0].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	p.burst(300)
	testutil.WaitFor(t, replicaWait, "replica-0's window full", func() bool {
		return emu.Unacked(replicaFull, "streamd")["replica-0"] >= 100
	})
	unacked := emu.Unacked(replicaFull, "streamd")["replica-0"]
	ds[0].kill()
	t.Logf("%s: killed replica-0 holding %d unacked after it acked %v (acks so far %v)", subType, unacked, shares[0], shares)

	// It comes back under the same name and rejoins.
	testutil.WaitFor(t, replicaWait, "two thirds of the events published", func() bool { return p.count() >= 2*n/3 })
	ds[0] = startReplica(t, emu, ns, "replica-0",
		"STREAMD_MODE=consumer", "STREAMD_SUBSCRIPTION_TYPE="+subType, "STREAMD_RECEIVER_QUEUE_SIZE=100")

	want := p.wait(t)
	waitStream(t, ns, len(want))
	took := time.Since(start)
	checkStream(t, ns.URL(), replicaStream, replicaFull, want)
	got := readStream(t, ns.URL(), replicaStream)
	stored := map[string]int{}
	for _, m := range got {
		stored[m.header.Get(natssink.HeaderInstance)]++
	}
	for i := range 3 {
		if stored[fmt.Sprint("replica-", i)] == 0 {
			t.Errorf("%s: replica-%d stored nothing (per %s: %v)", subType, i, natssink.HeaderInstance, stored)
		}
	}
	t.Logf("%s: %d events, 3 replicas (one killed with %d unacked and restarted), stored exactly once in %v; stored per replica %v",
		subType, len(want), unacked, took.Round(time.Millisecond), stored)
	return want, got
}

// Shared: three replicas spread the load and lose nothing when one is
// killed (its unacked messages go to the others; JetStream drops the
// copies it had already published).
func TestReplicasSharedKill(t *testing.T) {
	t.Parallel()
	spreadAndKill(t, "Shared", 21)
}

// Key_Shared: the same, and the stream keeps every key's events in
// publish order (the key is the interaction or agent id).
func TestReplicasKeySharedKillKeepsKeyOrder(t *testing.T) {
	t.Parallel()
	want, got := spreadAndKill(t, "Key_Shared", 22)
	pos := make(map[string]int, len(want))
	keyOf := make(map[string]string, len(want))
	for i, p := range want {
		id := replicaFull + ":" + p.id
		pos[id] = i
		keyOf[id] = pulsartest.EventKey(p.payload)
	}
	last := map[string]int{}
	by := map[string]map[string]bool{} // key → replicas that stored it
	bad := 0
	for _, m := range got {
		k := keyOf[m.msgID]
		if k == "" {
			continue
		}
		if by[k] == nil {
			by[k] = map[string]bool{}
		}
		by[k][m.header.Get(natssink.HeaderInstance)] = true
		if prev, ok := last[k]; ok && pos[m.msgID] < prev {
			if bad++; bad <= 5 {
				t.Errorf("key %s: event %d stored after event %d", k, pos[m.msgID], prev)
			}
		}
		last[k] = pos[m.msgID]
	}
	// Consistent hashing moves only the keys of a consumer that leaves or
	// joins: no key is ever served by both replicas that stayed up.
	for k, rs := range by {
		if rs["replica-1"] && rs["replica-2"] {
			t.Errorf("key %s stored by both replica-1 and replica-2", k)
		}
	}
	t.Logf("Key_Shared: %d keys kept in order (%d out-of-order), none on both surviving replicas", len(last), bad)
}

// Failover: the standby takes over when the active replica is killed, with
// the broker's default failover delay; the takeover time is measured from
// the kill to the emulator's first delivery to the standby.
func TestReplicasFailoverTakeover(t *testing.T) {
	t.Parallel()
	n, rate := replicaCounts()
	emu := pulsartest.Start(t, pulsartest.Config{FailoverDelay: pulsartest.DefaultFailoverDelay})
	ns := natstest.Run(t, nil)
	ds := []*daemon{
		startReplica(t, emu, ns, "replica-0", "STREAMD_MODE=consumer", "STREAMD_SUBSCRIPTION_TYPE=Failover"),
		startReplica(t, emu, ns, "replica-1", "STREAMD_MODE=consumer", "STREAMD_SUBSCRIPTION_TYPE=Failover"),
	}
	testutil.WaitFor(t, replicaWait, "2 consumer sessions", func() bool { return emu.Sessions() == 2 })
	p := pace(t, emu, 23, n, rate)
	testutil.WaitFor(t, replicaWait, "a third of the events published", func() bool { return p.count() >= n/3 })
	active, standby, standbyName := ds[0], ds[1], "replica-1"
	if emu.ActiveConsumer(replicaFull, "streamd") == "replica-1" {
		active, standby, standbyName = standby, active, "replica-0"
	}
	if standby.acked() != 0 || active.acked() == 0 {
		t.Fatalf("Failover: active acked %v, standby acked %v", active.acked(), standby.acked())
	}

	killed := time.Now()
	active.kill()
	testutil.WaitFor(t, replicaWait, "the standby's first delivery", func() bool {
		return emu.Unacked(replicaFull, "streamd")[standbyName] > 0 || standby.acked() > 0
	})
	takeover := time.Since(killed)

	want := p.wait(t)
	waitStream(t, ns, len(want))
	checkStream(t, ns.URL(), replicaStream, replicaFull, want)
	t.Logf("Failover: standby took over %v after SIGKILL of the active replica (failover delay %v); %d events stored exactly once",
		takeover.Round(time.Millisecond), pulsartest.DefaultFailoverDelay, len(want))
	if takeover > pulsartest.DefaultFailoverDelay+5*time.Second {
		t.Errorf("takeover took %v", takeover)
	}
}

// Active-active readers: two reader-mode replicas read the same topic and
// publish into one stream; one is killed; Nats-Msg-Id de-duplication keeps
// the stream exactly once.
func TestReplicasActiveActiveReaders(t *testing.T) {
	t.Parallel()
	n, rate := replicaCounts()
	emu := pulsartest.Start(t, pulsartest.Config{})
	ns := natstest.Run(t, nil)
	ds := []*daemon{
		startReplica(t, emu, ns, "reader-0", "STREAMD_MODE=reader"),
		startReplica(t, emu, ns, "reader-1", "STREAMD_MODE=reader"),
	}
	testutil.WaitFor(t, replicaWait, "2 reader sessions", func() bool { return emu.Sessions() == 2 })
	start := time.Now()
	p := pace(t, emu, 24, n, rate)
	testutil.WaitFor(t, replicaWait, "a third of the events published", func() bool { return p.count() >= n/3 })
	ds[0].kill()
	maxBehind := 0.0
	tick := time.NewTicker(20 * time.Millisecond) // sampling, not synchronisation
	defer tick.Stop()
	for p.count() < n {
		maxBehind = max(maxBehind, ds[1].metrics().val("streamd_reader_behind_messages", "topic="+replicaTopic))
		<-tick.C
	}

	want := p.wait(t)
	waitStream(t, ns, len(want))
	checkStream(t, ns.URL(), replicaStream, replicaFull, want)
	m, _ := ds[1].poll(replicaWait, "reader caught up", func(m metrics, _ readyz) bool {
		v, ok := m.get("streamd_reader_behind_messages", "topic="+replicaTopic)
		return ok && v == 0
	})
	if _, ok := m.get("streamd_instance_info", "replica=reader-1"); !ok {
		t.Errorf("streamd_instance_info{replica=\"reader-1\"} missing")
	}
	t.Logf("readers: %d events, 2 active-active readers (one killed), stored exactly once in %v; survivor acked %v, behind at most %v messages",
		len(want), time.Since(start).Round(time.Millisecond), ds[1].acked(), maxBehind)
}
