package pulsartest_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// subQuery is the consumer query for subscription type typ with the given
// consumer name (none when "") and extra key/value pairs.
func subQuery(typ, name string, kv ...string) url.Values {
	q := url.Values{"subscriptionType": {typ}}
	if name != "" {
		q.Set("consumerName", name)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

func subPath(sub string) string { return "/ws/v2/consumer/persistent/acme/event-v1/all/" + sub }

// The Failover active consumer follows the broker's rule, not attach order:
// the same set of names picks the same active consumer whatever the order,
// a lower priorityLevel wins over any name, and standbys get nothing.
func TestFailoverActiveFollowsBrokerRule(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	names := []string{"replica-a", "replica-b", "replica-c"}
	var want string
	for i, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}} {
		sub := fmt.Sprintf("f%d", i)
		clients := map[string]*client{}
		for _, j := range order {
			clients[names[j]] = dial(t, s, subPath(sub), subQuery("Failover", names[j]))
		}
		active := s.ActiveConsumer(allTopic, sub)
		if want == "" {
			want = active
		}
		if active != want {
			t.Fatalf("attach order %v: active %q, want %q (order must not matter)", order, active, want)
		}
		_ = s.Publish(allTopic, []byte(`{}`))
		clients[active].next()
		for name, c := range clients {
			if name != active {
				c.endOfTopic() // standby got nothing
			}
		}
	}

	// A lower priorityLevel outranks every name.
	for _, name := range names {
		sub := "prio-" + name
		for _, other := range names {
			prio := "1"
			if other == name {
				prio = "0"
			}
			dial(t, s, subPath(sub), subQuery("Failover", other, "priorityLevel", prio))
		}
		if got := s.ActiveConsumer(allTopic, sub); got != name {
			t.Errorf("priorityLevel 0 consumer %q not active, %q is", name, got)
		}
	}
}

// When the active consumer leaves, the standby takes over after
// FailoverDelay with every unacked message redelivered, and nothing is
// delivered in between.
func TestFailoverTakeoverAfterDelay(t *testing.T) {
	t.Parallel()
	const delay = 150 * time.Millisecond
	s := pulsartest.Start(t, pulsartest.Config{FailoverDelay: delay})
	first := time.Now()
	active := dial(t, s, subPath("f"), subQuery("Failover", "a", "priorityLevel", "0"))
	standby := dial(t, s, subPath("f"), subQuery("Failover", "b", "priorityLevel", "1"))
	ids := publishN(s, allTopic, 4)
	for _, id := range ids {
		if f := active.next(); f.MessageID != id {
			t.Fatalf("active got %s, want %s", f.raw, id)
		}
	}
	if time.Since(first) < delay {
		t.Errorf("first dispatch on a new subscription waited less than FailoverDelay")
	}
	if got := s.Unacked(allTopic, "f"); got["a"] != 4 || len(got) != 1 {
		t.Errorf("Unacked = %v, want a:4", got)
	}
	active.ack(ids[0])
	testutil.WaitFor(t, wait, "ack processed", func() bool { return len(s.Acked(allTopic, "f")) == 1 })
	standby.endOfTopic()

	_ = active.c.CloseNow()
	gone := time.Now()
	for _, id := range ids[1:] {
		f := standby.next()
		if f.MessageID != id || f.RedeliveryCount != 1 {
			t.Fatalf("standby got %s, want %s redelivered", f.raw, id)
		}
	}
	if took := time.Since(gone); took < delay {
		t.Errorf("takeover after %v, before FailoverDelay %v", took, delay)
	}
	if st := s.Stats(); st.ActiveChanges != 2 {
		t.Errorf("ActiveChanges = %d, want 2", st.ActiveChanges)
	}
}

// Shared spreads round robin over the consumers with window room, gives
// the highest priority level everything it has room for, and redelivers a
// departed consumer's unacked messages to the others.
func TestSharedRoundRobinAndRedelivery(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	var cs []*client
	for i := range 3 {
		cs = append(cs, dial(t, s, subPath("sh"), subQuery("Shared", fmt.Sprint("c", i), "receiverQueueSize", "4")))
	}
	ids := publishN(s, allTopic, 12)
	got := map[string]int{}
	byClient := make([][]string, 3)
	for i, c := range cs {
		for range 4 {
			f := c.next()
			got[f.MessageID]++
			byClient[i] = append(byClient[i], f.MessageID)
		}
		c.endOfTopic() // window full: exactly 4 each
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Fatalf("message %s delivered %d times", id, got[id])
		}
	}
	if byClient[0][0] != ids[0] || byClient[1][0] != ids[1] || byClient[2][0] != ids[2] {
		t.Errorf("not round robin: %v", byClient)
	}

	// c0 leaves without acking: its four go to c1 and c2 once they ack.
	_ = cs[0].c.CloseNow()
	if err := s.WaitSessions(testutil.Context(t, wait), 2); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs[1:] {
		for _, id := range byClient[cs1index(cs, c)] {
			c.ack(id)
		}
	}
	redelivered := map[string]bool{}
	for len(redelivered) < 4 {
		for _, c := range cs[1:] {
			select {
			case f := <-c.frames:
				if f.RedeliveryCount != 1 {
					t.Fatalf("redelivery %s has redeliveryCount %d", f.raw, f.RedeliveryCount)
				}
				redelivered[f.MessageID] = true
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	for _, id := range byClient[0] {
		if !redelivered[id] {
			t.Errorf("unacked %s of the departed consumer not redelivered", id)
		}
	}

	// Priority: level 0 takes everything it has room for.
	hi := dial(t, s, subPath("prio"), subQuery("Shared", "z-hi", "priorityLevel", "0", "receiverQueueSize", "3"))
	lo := dial(t, s, subPath("prio"), subQuery("Shared", "a-lo", "priorityLevel", "1", "receiverQueueSize", "10"))
	pids := publishN(s, allTopic, 5)
	for _, id := range pids[:3] {
		if f := hi.next(); f.MessageID != id {
			t.Fatalf("high priority got %s, want %s", f.raw, id)
		}
	}
	for _, id := range pids[3:] {
		if f := lo.next(); f.MessageID != id {
			t.Fatalf("low priority got %s, want %s", f.raw, id)
		}
	}
}

func cs1index(cs []*client, c *client) int {
	for i, x := range cs {
		if x == c {
			return i
		}
	}
	return -1
}

// keyLog records, per key, the message ids in arrival order and which
// client saw the key, failing on a key seen by two clients.
type keyLog struct {
	t     *testing.T
	owner map[string]*client
	order map[string][]string
}

func (l *keyLog) add(c *client, f frame) {
	l.t.Helper()
	if o, ok := l.owner[f.Key]; ok && o != c {
		l.t.Fatalf("key %q delivered to two consumers", f.Key)
	}
	l.owner[f.Key] = c
	l.order[f.Key] = append(l.order[f.Key], f.MessageID)
}

// firstFrame returns the first frame any of cs receives within wait.
func firstFrame(t *testing.T, cs []*client) (*client, frame) {
	t.Helper()
	deadline := time.After(wait)
	for {
		for _, c := range cs {
			select {
			case f := <-c.frames:
				return c, f
			default:
			}
		}
		select {
		case <-deadline:
			t.Fatal("no frame within timeout")
		case <-time.After(time.Millisecond):
		}
	}
}

// Key_Shared: a key sticks to one consumer while the set is unchanged, keys
// spread over all consumers, per-key order holds, and a departed consumer's
// keys move to the others with their unacked messages first, in order.
func TestKeySharedStickyOrdered(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	var cs []*client
	for i := range 3 {
		cs = append(cs, dial(t, s, subPath("ks"), subQuery("Key_Shared", fmt.Sprint("replica-", i), "receiverQueueSize", "20")))
	}
	const keys, per = 30, 10
	want := map[string][]string{}
	for i := range keys * per {
		k := fmt.Sprint("int-", i%keys)
		want[k] = append(want[k], s.Publish(allTopic, []byte(itoa(i)), pulsartest.WithKey(k)))
	}
	log := &keyLog{t: t, owner: map[string]*client{}, order: map[string][]string{}}
	counts := map[*client]int{}
	for range keys * per {
		c, f := firstFrame(t, cs)
		log.add(c, f)
		counts[c]++
		c.ack(f.MessageID)
	}
	if len(counts) != 3 {
		t.Errorf("keys spread over %d of 3 consumers", len(counts))
	}
	for k, ids := range want {
		if fmt.Sprint(log.order[k]) != fmt.Sprint(ids) {
			t.Errorf("key %s out of order: got %v, want %v", k, log.order[k], ids)
		}
	}
	testutil.WaitFor(t, wait, "acks processed", func() bool { return s.Backlog(allTopic, "ks") == 0 })

	// The consumer holding key k0 leaves with k0's messages unacked: they
	// move, in order and redelivered, to one other consumer.
	k0 := "int-0"
	gone := log.owner[k0]
	var more []string
	for range 3 {
		more = append(more, s.Publish(allTopic, []byte(`{}`), pulsartest.WithKey(k0)))
	}
	for _, id := range more {
		if f := gone.next(); f.MessageID != id {
			t.Fatalf("owner of %s got %s", k0, f.raw)
		}
	}
	_ = gone.c.CloseNow()
	var rest []*client
	for _, c := range cs {
		if c != gone {
			rest = append(rest, c)
		}
	}
	next, f := firstFrame(t, rest)
	for i, id := range more {
		if i > 0 {
			f = next.next()
		}
		if f.MessageID != id || f.RedeliveryCount != 1 {
			t.Fatalf("after takeover got %s, want %s redelivered", f.raw, id)
		}
	}
}

// A consumer joining Key_Shared gets none of a key's messages while the
// key's previous consumer still holds unacked ones (per-key order across
// the change); after that ack, later messages of the key may go to it.
func TestKeySharedJoinWaitsForHeldKeys(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	a := dial(t, s, subPath("kj"), subQuery("Key_Shared", "a"))
	var held []string
	for i := range 50 {
		held = append(held, s.Publish(allTopic, []byte(itoa(i)), pulsartest.WithKey(fmt.Sprint("k", i))))
	}
	for _, id := range held {
		if f := a.next(); f.MessageID != id {
			t.Fatalf("a got %s", f.raw)
		}
	}
	b := dial(t, s, subPath("kj"), subQuery("Key_Shared", "b"))
	var later []string
	for i := range 50 {
		later = append(later, s.Publish(allTopic, []byte(itoa(i)), pulsartest.WithKey(fmt.Sprint("k", i))))
	}
	// Every key is held by a: b gets nothing, a gets the keys still its own.
	b.endOfTopic()
	for _, id := range held {
		a.ack(id)
	}
	gotA, gotB := 0, 0
	for gotA+gotB < len(later) {
		select {
		case <-a.frames:
			gotA++
		case <-b.frames:
			gotB++
		case <-time.After(wait):
			t.Fatalf("only %d+%d of %d delivered after the acks", gotA, gotB, len(later))
		}
	}
	if gotB == 0 {
		t.Errorf("joined consumer got no key after the holder acked (a %d, b %d)", gotA, gotB)
	}
}

// Messages published with PublishEvent carry the key 8x8's docs name as
// the correlation id: interactionGUID, or agentId for agent events.
func TestPublishEventKeys(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	cl := dial(t, s, readerP, nil)
	if err := s.WaitSessions(testutil.Context(t, wait), 1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ev, typ, key string }{
		{`{"Interaction":{"interactionGUID":"int-1-x","agentId":"agA","event":"InteractionAccepted"}}`, "InteractionAccepted", "int-1-x"},
		{`{"AgentStatusChange":{"agentId":"agB","newState":1}}`, "AgentStatusChange", "agB"},
		{`{"AgentProvChange":{"agentId":"agC","event":"AgentSkillChanged"}}`, "AgentSkillChanged", "agC"},
		{`{"Other":{"x":1}}`, "Other", ""},
	} {
		s.PublishEvent(tenant, []byte(tc.ev), tc.typ)
		if f := cl.next(); f.Key != tc.key {
			t.Errorf("%s: key %q, want %q", tc.typ, f.Key, tc.key)
		}
	}
}
