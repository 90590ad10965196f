package e2e

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/natstest"
	"github.com/streamd/streamd/internal/relay"
	"github.com/streamd/streamd/internal/testutil"
)

// Failover after a silent TCP death of streamd's own connection: streamd
// notices the dead peer by its ping timeout and reconnects, while the proxy
// still holds the dead session (until its 5-minute idle timeout). Because
// streamd subscribes under its instance name, the broker makes the new
// session the active consumer at once (a later consumer with an equal name
// takes the earlier one's hash-ring points), so delivery resumes after the
// failover delay instead of after the proxy's idle timeout, whether or not
// the dead session held unacked messages.
func TestFailoverSilentDeathReconnectTakesOver(t *testing.T) {
	t.Parallel()
	n, rate := replicaCounts()
	n /= 2
	emu := pulsartest.Start(t, pulsartest.Config{FailoverDelay: pulsartest.DefaultFailoverDelay})
	ns := natstest.Run(t, nil)
	r := relay.Start(t, strings.TrimPrefix(emu.URL(), "ws://"))
	d := startReplica(t, emu, ns, "replica-0", "STREAMD_ENDPOINT=ws://"+r.Addr(),
		"STREAMD_MODE=consumer", "STREAMD_SUBSCRIPTION_TYPE=Failover",
		"STREAMD_PING_INTERVAL=200ms", "STREAMD_PING_TIMEOUT=500ms")
	testutil.WaitFor(t, replicaWait, "1 consumer session", func() bool { return emu.Sessions() == 1 })
	p := pace(t, emu, 25, n, rate)
	testutil.WaitFor(t, replicaWait, "a third of the events acked", func() bool { return d.acked() >= float64(n/3) })

	// Nothing that reaches the daemon after the blackhole can have come over
	// the dead connection, so the first ack of an event published after it
	// marks the takeover. (Waiting for a redelivery instead depended on the
	// dead session holding unacked messages when the new one took over: at
	// times the daemon had acked all it was sent and the pacer was done.)
	redelivered := emu.Stats().Redelivered
	r.Blackhole()
	died := time.Now()
	marker := p.burst(1)[0]
	testutil.WaitFor(t, replicaWait, "an event published after the silent death acked", func() bool {
		return slices.Contains(emu.Acked(replicaFull, "streamd"), marker.id)
	})
	resumed := time.Since(died)
	if got := emu.Stats().Closes[websocket.StatusGoingAway]; got != 0 {
		t.Errorf("the proxy idled out %d sessions: the takeover must not wait for that", got)
	}
	if resumed >= pulsartest.DefaultIdleTimeout {
		t.Errorf("delivery resumed only after %v", resumed)
	}

	want := p.wait(t)
	waitStream(t, ns, len(want))
	checkStream(t, ns.URL(), replicaStream, replicaFull, want)
	t.Logf("silent TCP death: delivery resumed %v later (ping 200ms + timeout 500ms, failover delay %v; the proxy holds the dead session for %v); %d redelivered; %d events exactly once",
		resumed.Round(time.Millisecond), pulsartest.DefaultFailoverDelay, pulsartest.DefaultIdleTimeout,
		emu.Stats().Redelivered-redelivered, len(want))
}

// A frozen active replica (SIGSTOP: a GC pause, a hung host, a partition)
// keeps its TCP connection open, so the proxy keeps it as the active
// Failover consumer until its idle timeout closes the session; only then
// does the standby take over. The proxy's idle timeout (Pulsar's
// webSocketSessionIdleTimeoutMillis, 5 minutes by default) is shortened
// here to keep the test short.
func TestFailoverFrozenActiveHeldUntilIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = 2 * time.Second
	n, rate := replicaCounts()
	n /= 2
	emu := pulsartest.Start(t, pulsartest.Config{IdleTimeout: idle, FailoverDelay: pulsartest.DefaultFailoverDelay})
	ns := natstest.Run(t, nil)
	ds := map[string]*daemon{}
	for _, name := range []string{"replica-0", "replica-1"} {
		ds[name] = startReplica(t, emu, ns, name, "STREAMD_MODE=consumer", "STREAMD_SUBSCRIPTION_TYPE=Failover",
			"STREAMD_PING_INTERVAL=500ms")
	}
	testutil.WaitFor(t, replicaWait, "2 consumer sessions", func() bool { return emu.Sessions() == 2 })
	p := pace(t, emu, 26, n, rate)
	testutil.WaitFor(t, replicaWait, "a third of the events published", func() bool { return p.count() >= n/3 })
	name := emu.ActiveConsumer(replicaFull, "streamd")
	active := ds[name]
	if active == nil {
		t.Fatalf("active consumer %q is not a replica", name)
	}

	standbyName := "replica-0"
	if name == "replica-0" {
		standbyName = "replica-1"
	}
	standby := ds[standbyName]
	if err := active.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	testutil.WaitFor(t, replicaWait, "the standby's first delivery", func() bool {
		return emu.Unacked(replicaFull, "streamd")[standbyName] > 0 || standby.acked() > 0
	})
	held := time.Since(frozen)
	if held < idle/2 {
		t.Errorf("standby took over %v after the freeze, before the proxy's idle timeout %v", held, idle)
	}
	if err := active.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}

	want := p.wait(t)
	waitStream(t, ns, len(want))
	checkStream(t, ns.URL(), replicaStream, replicaFull, want)
	t.Logf("frozen active replica: standby took over %v after SIGSTOP (proxy idle timeout %v + failover delay %v); %d events exactly once",
		held.Round(time.Millisecond), idle, pulsartest.DefaultFailoverDelay, len(want))
}
