package pulsartest_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/relay"
	"github.com/streamd/streamd/internal/testutil"
)

// dialVia dials the emulator's consumer path through the relay.
func dialVia(t *testing.T, r *relay.Relay, path string, q url.Values) *client {
	t.Helper()
	u := "ws://" + r.Addr() + path + "?" + q.Encode()
	c, resp, err := websocket.Dial(testutil.Context(t, wait), u, &websocket.DialOptions{HTTPHeader: http.Header{"X-Api-Key": {key}}})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("dial via relay: %v", err)
	}
	return newClient(t, c)
}

// keepAlive pings from c every period until the test ends, as a live
// client does, so only a dead session idles out.
func keepAlive(t *testing.T, c *client, period time.Duration) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-c.done:
				return
			case <-tick.C:
				ctx, cancel := context.WithTimeout(context.Background(), period)
				_ = c.c.Ping(ctx)
				cancel()
			}
		}
	}()
	t.Cleanup(func() { close(done); <-stopped })
}

// After a silent TCP death of the active Failover consumer the proxy keeps
// it as the active one until its idle timeout notices the dead session
// (Jetty's webSocketSessionIdleTimeoutMillis; nothing else does): the
// standby gets nothing meanwhile, then everything unacked.
func TestFailoverSilentDeathHeldUntilIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = 400 * time.Millisecond
	s := pulsartest.Start(t, pulsartest.Config{IdleTimeout: idle})
	r := relay.Start(t, strings.TrimPrefix(s.URL(), "ws://"))
	active := dialVia(t, r, subPath("sd"), subQuery("Failover", "a", "priorityLevel", "0"))
	standby := dial(t, s, subPath("sd"), subQuery("Failover", "b", "priorityLevel", "1"))
	keepAlive(t, standby, idle/12) // a loaded machine can delay a ping by a few periods
	ids := publishN(s, allTopic, 3)
	for _, id := range ids {
		if f := active.next(); f.MessageID != id {
			t.Fatalf("active got %s", f.raw)
		}
	}

	r.Blackhole()
	died := time.Now()
	standby.endOfTopic() // nothing for the standby while the dead one is active
	for _, id := range ids {
		f := standby.next()
		if f.MessageID != id || f.RedeliveryCount != 1 {
			t.Fatalf("standby got %s, want %s redelivered", f.raw, id)
		}
	}
	held := time.Since(died)
	if held < idle/2 {
		t.Errorf("standby took over %v after the silent death, before the idle timeout %v", held, idle)
	}
	t.Logf("dead active consumer held the subscription for %v (idle timeout %v)", held.Round(time.Millisecond), idle)
	if got := s.Stats().Closes[websocket.StatusGoingAway]; got != 1 {
		t.Errorf("idle-timeout closes = %d, want 1", got)
	}
}

// A client that reconnects under the same consumerName after a silent TCP
// death becomes the active consumer at once, although the dead session is
// still attached: on the broker's hash ring a later consumer with an equal
// name takes the earlier one's points. So a stable consumer name per
// replica makes Failover take over promptly.
func TestFailoverSameNameReconnectTakesOver(t *testing.T) {
	t.Parallel()
	const delay = 50 * time.Millisecond
	s := pulsartest.Start(t, pulsartest.Config{IdleTimeout: time.Minute, FailoverDelay: delay})
	r := relay.Start(t, strings.TrimPrefix(s.URL(), "ws://"))
	dead := dialVia(t, r, subPath("sn"), subQuery("Failover", "replica-1"))
	other := dial(t, s, subPath("sn"), subQuery("Failover", "replica-2", "priorityLevel", "1"))
	ids := publishN(s, allTopic, 3)
	for _, id := range ids {
		if f := dead.next(); f.MessageID != id {
			t.Fatalf("active got %s", f.raw)
		}
	}
	r.Blackhole()

	start := time.Now()
	again := dial(t, s, subPath("sn"), subQuery("Failover", "replica-1"))
	for _, id := range ids {
		f := again.next()
		if f.MessageID != id || f.RedeliveryCount != 1 {
			t.Fatalf("reconnected consumer got %s, want %s redelivered", f.raw, id)
		}
	}
	took := time.Since(start)
	if took > 10*delay+time.Second {
		t.Errorf("same-name takeover took %v", took)
	}
	t.Logf("same-name reconnect took over in %v (FailoverDelay %v)", took.Round(time.Millisecond), delay)
	other.endOfTopic()
	if got := s.Sessions(); got != 3 {
		t.Errorf("sessions = %d, want 3 (the dead one is still attached)", got)
	}
}
