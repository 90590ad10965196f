package pulsartest_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

func TestFrameFormat(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	s := pulsartest.Start(t, pulsartest.Config{Now: func() time.Time { return now }})
	id := s.Publish("persistent://acme/event-v1/all", []byte(`{"a":1}`),
		pulsartest.WithKey("k<1>"), pulsartest.WithProperties(map[string]string{"b": "2", "a": "1"}))
	s.Publish(allTopic, nil)
	cl := dial(t, s, readerP, url.Values{"messageId": {"earliest"}})
	want := `{"messageId":"` + id + `","payload":"eyJhIjoxfQ==","properties":{"a":"1","b":"2"},` +
		`"publishTime":"2025-01-02T03:04:05.6Z","redeliveryCount":0,"key":"k<1>"}`
	if got := string(cl.next().raw); got != want {
		t.Errorf("frame\n got %s\nwant %s", got, want)
	}
	f := cl.next()
	if f.Payload != "" || f.Properties == nil || strings.Contains(string(f.raw), `"key"`) {
		t.Errorf("empty message frame: %s", f.raw)
	}
}

func TestJavaTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2025, 1, 2, 3, 4, 5, 967_400_000, time.UTC), "2025-01-02T03:04:05.967Z"},
		{time.Date(2025, 1, 2, 3, 4, 5, 600_000_000, time.UTC), "2025-01-02T03:04:05.6Z"},
		{time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC), "2025-01-02T03:04:00Z"},
		{time.Date(2025, 1, 2, 3, 4, 5, 10_000_000, time.FixedZone("x", 3600)), "2025-01-02T02:04:05.01Z"},
	} {
		if got := pulsartest.JavaTime(tc.in); got != tc.want {
			t.Errorf("JavaTime(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestMessageIDs(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	ids := publishN(s, allTopic, 300)
	var prev consumer.MessageID
	for i, id := range ids {
		m, err := consumer.ParseMessageID(id)
		if err != nil {
			t.Fatalf("id %d %q: %v", i, id, err)
		}
		if m.Partition != -1 || m.BatchIndex != -1 || m.BatchSize != 0 {
			t.Errorf("id %q = %+v", id, m)
		}
		if i > 0 && prev.Compare(m) >= 0 {
			t.Fatalf("ids not increasing: %v then %v", prev, m)
		}
		prev = m
		if i < 128 && !(strings.Contains(id, "+") && strings.Contains(id, "/") && strings.Contains(id, "=")) {
			t.Errorf("id %q lacks '+', '/' or '='", id)
		}
	}
}

func TestReaderWindowStallsAndResumes(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	ids := publishN(s, allTopic, 5)
	cl := dial(t, s, readerP, url.Values{"messageId": {"earliest"}, "receiverQueueSize": {"3"}})
	for i := range 3 {
		if f := cl.next(); f.MessageID != ids[i] {
			t.Fatalf("frame %d id %s, want %s", i, f.MessageID, ids[i])
		}
	}
	cl.endOfTopic()                                     // window full: the reply comes before any 4th message
	cl.send(map[string]string{"messageId": "anything"}) // reader ids are not examined
	if f := cl.next(); f.MessageID != ids[3] {
		t.Fatalf("after ack got %s, want %s", f.raw, ids[3])
	}
	cl.endOfTopic()
	cl.ack(ids[1])
	cl.ack(ids[2])
	if f := cl.next(); f.MessageID != ids[4] {
		t.Fatalf("got %s, want %s", f.raw, ids[4])
	}
	// ids[4] was sent once the first ack freed a slot, maybe before the
	// second was handled; the reply to a later command proves both were.
	cl.endOfTopic()
	if got := s.Acked(allTopic, ""); len(got) != 3 || got[0] != "anything" {
		t.Errorf("reader acks = %v", got)
	}
}

func TestReceiverQueueSizeZeroIsOne(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	ids := publishN(s, allTopic, 2)
	cl := dial(t, s, readerP, url.Values{"messageId": {"earliest"}, "receiverQueueSize": {"0"}})
	if f := cl.next(); f.MessageID != ids[0] {
		t.Fatalf("got %s", f.raw)
	}
	cl.endOfTopic()
	cl.ack(ids[0])
	if f := cl.next(); f.MessageID != ids[1] {
		t.Fatalf("got %s", f.raw)
	}
}

func TestReaderStartPositions(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	ids := publishN(s, allTopic, 4)

	// A specific id is exclusive; '+', '/', '=' must travel percent-encoded.
	cl := dial(t, s, readerP, url.Values{"messageId": {ids[1]}})
	if f := cl.next(); f.MessageID != ids[2] {
		t.Fatalf("resume after %s got %s, want %s", ids[1], f.MessageID, ids[2])
	}
	if rq := s.LastRequest().RawQuery; !strings.Contains(rq, "%2B") || strings.Contains(rq, "+") {
		t.Errorf("raw query %q", rq)
	}
	// Unencoded, '+' arrives as a space and the id is undecodable: 500.
	if got := status(t, s, readerP, "messageId="+ids[1], nil); got != 500 {
		t.Errorf("unencoded id: status %d, want 500", got)
	}

	latest := dial(t, s, readerP, nil) // default latest
	if err := s.WaitSessions(testutil.Context(t, wait), 2); err != nil {
		t.Fatal(err)
	}
	latest.endOfTopic()
	id := s.Publish(allTopic, []byte(`{}`))
	if f := latest.next(); f.MessageID != id {
		t.Fatalf("latest got %s, want %s", f.MessageID, id)
	}
	if f := cl.next(); f.MessageID != ids[3] {
		t.Fatalf("got %s, want %s", f.MessageID, ids[3])
	}
}

const consumerP = "/ws/v2/consumer/persistent/acme/event-v1/all/streamd"

func TestConsumerWindowAckAndRedeliveryAfterDrop(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	q := url.Values{"subscriptionInitialPosition": {"Earliest"}, "receiverQueueSize": {"2"}}
	ids := publishN(s, allTopic, 4)
	cl := dial(t, s, consumerP, q)
	a, b := cl.next(), cl.next()
	if a.MessageID != ids[0] || b.MessageID != ids[1] || a.RedeliveryCount != 0 {
		t.Fatalf("got %s %s", a.raw, b.raw)
	}
	cl.endOfTopic()
	cl.ack(a.MessageID)
	if f := cl.next(); f.MessageID != ids[2] {
		t.Fatalf("after ack got %s", f.raw)
	}
	testutil.WaitFor(t, wait, "ack", func() bool { return len(s.Acked(allTopic, "streamd")) == 1 })

	if n := s.DropConnections(); n != 1 {
		t.Fatalf("dropped %d", n)
	}
	if code := cl.closed(); code != -1 {
		t.Errorf("drop sent close frame %d", code)
	}
	cl2 := dial(t, s, consumerP, q) // no 409: the dropped consumer is gone
	for _, want := range []string{ids[1], ids[2]} {
		f := cl2.next()
		if f.MessageID != want || f.RedeliveryCount != 1 {
			t.Fatalf("redelivery got %s, want %s with count 1", f.raw, want)
		}
		cl2.ack(f.MessageID)
	}
	if f := cl2.next(); f.MessageID != ids[3] || f.RedeliveryCount != 0 {
		t.Fatalf("got %s", f.raw)
	}
	cl2.ack(ids[3])
	testutil.WaitFor(t, wait, "acks", func() bool { return s.Backlog(allTopic, "streamd") == 0 })
	if got := s.Acked(allTopic, "streamd"); strings.Join(got, ",") != strings.Join([]string{ids[0], ids[1], ids[2], ids[3]}, ",") {
		t.Errorf("acked %v", got)
	}
}

func TestConsumerLatestAndDurableCursor(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	publishN(s, allTopic, 2) // before the subscription exists: never delivered
	cl := dial(t, s, consumerP, nil)
	cl.endOfTopic()
	id := s.Publish(allTopic, []byte(`{}`))
	f := cl.next()
	if f.MessageID != id {
		t.Fatalf("got %s", f.raw)
	}
	cl.ack(id)
	testutil.WaitFor(t, wait, "ack", func() bool { return s.Backlog(allTopic, "streamd") == 0 })
	_ = cl.c.CloseNow()
	cl.closed()
	if err := s.WaitSessions(testutil.Context(t, wait), 0); err != nil {
		t.Fatal(err)
	}
	later := s.Publish(allTopic, []byte(`{}`)) // published while disconnected
	cl2 := dial(t, s, consumerP, url.Values{"subscriptionInitialPosition": {"Earliest"}})
	if f := cl2.next(); f.MessageID != later {
		t.Fatalf("durable cursor: got %s, want %s", f.raw, later)
	}
}

func TestConsumerNack(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	cl := dial(t, s, consumerP, url.Values{"negativeAckRedeliveryDelay": {"0"}})
	cl.endOfTopic()
	id := s.Publish(allTopic, []byte(`{}`))
	cl.next()
	cl.send(map[string]string{"type": "negativeAcknowledge", "messageId": id})
	f := cl.next()
	if f.MessageID != id || f.RedeliveryCount != 1 {
		t.Fatalf("nack redelivery %s", f.raw)
	}
	if st := s.Stats(); st.NacksReceived != 1 || st.Redelivered != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestConsumerAckTimeoutDoesNotFreeWindow(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	s.SetAckTimeout(20 * time.Millisecond)
	cl := dial(t, s, consumerP, url.Values{"receiverQueueSize": {"1"}})
	cl.endOfTopic()
	id := s.Publish(allTopic, []byte(`{}`))
	cl.next()
	testutil.WaitFor(t, wait, "ack timeout requeue", func() bool { return s.Stats().AckTimeouts == 1 })
	cl.endOfTopic()    // window still full: no redelivery
	cl.ack("CAEQAQ==") // unknown id: silently accepted, frees the slot
	if f := cl.next(); f.MessageID != id || f.RedeliveryCount < 1 {
		t.Fatalf("got %s", f.raw)
	}
}

func TestRedeliverDuplicates(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	cl := dial(t, s, consumerP, url.Values{"receiverQueueSize": {"2"}})
	cl.endOfTopic()
	id := s.Publish(allTopic, []byte(`{}`))
	cl.next()
	if n := s.Redeliver(allTopic, "streamd"); n != 1 {
		t.Fatalf("requeued %d", n)
	}
	if f := cl.next(); f.MessageID != id || f.RedeliveryCount != 1 {
		t.Fatalf("duplicate %s", f.raw)
	}
	cl.endOfTopic() // both slots taken now
}

func TestConsumerPullMode(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	ids := publishN(s, allTopic, 3)
	cl := dial(t, s, consumerP, url.Values{"pullMode": {"TRUE"}, "subscriptionInitialPosition": {"Earliest"}})
	cl.endOfTopic() // nothing without permits
	cl.send(map[string]any{"type": "permit", "permitMessages": 2})
	for i := range 2 {
		if f := cl.next(); f.MessageID != ids[i] {
			t.Fatalf("got %s", f.raw)
		}
	}
	cl.ack(ids[0]) // acks do not move the pull window
	cl.endOfTopic()
}

func TestSubscriptionTypes(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	excl := dial(t, s, consumerP, nil)
	if got := status(t, s, consumerP, "", nil); got != 409 {
		t.Errorf("second exclusive: %d, want 409", got)
	}
	if got := status(t, s, consumerP, "subscriptionType=Failover", nil); got != 409 {
		t.Errorf("type mismatch: %d, want 409", got)
	}
	_ = excl.c.CloseNow()
	excl.closed()
	if err := s.WaitSessions(testutil.Context(t, wait), 0); err != nil {
		t.Fatal(err)
	}

	// priorityLevel 0 outranks 1, whatever the names (see dispatch_test.go).
	active := dial(t, s, consumerP, url.Values{"subscriptionType": {"Failover"}, "priorityLevel": {"0"}})
	standby := dial(t, s, consumerP, url.Values{"subscriptionType": {"Failover"}, "priorityLevel": {"1"}})
	id := s.Publish(allTopic, []byte(`{}`))
	if f := active.next(); f.MessageID != id {
		t.Fatalf("active got %s", f.raw)
	}
	standby.endOfTopic() // standby got nothing
	_ = active.c.CloseNow()
	if f := standby.next(); f.MessageID != id || f.RedeliveryCount != 1 {
		t.Fatalf("standby after failover got %s", f.raw)
	}

	sp := "/ws/v2/consumer/persistent/acme/event-v1/all/shared"
	sq := url.Values{"subscriptionType": {"Shared"}, "receiverQueueSize": {"1"}}
	c1, c2 := dial(t, s, sp, sq), dial(t, s, sp, sq)
	ids := publishN(s, allTopic, 2)
	got := map[string]bool{c1.next().MessageID: true, c2.next().MessageID: true}
	if !got[ids[0]] || !got[ids[1]] {
		t.Errorf("shared distribution %v, want %v", got, ids)
	}
}

func TestPublishEventTopics(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	agent := dial(t, s, "/ws/v2/reader/persistent/acme/agent-v1/agX", nil)
	typ := dial(t, s, "/ws/v2/reader/persistent/acme/event-v1/AgentProvChange", nil)
	all := dial(t, s, readerP, nil)
	if err := s.WaitSessions(testutil.Context(t, wait), 3); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{agent, typ, all} {
		c.endOfTopic()
	}
	ev := `{"AgentProvChange":{"agentId":"agX","event":"AgentSkillChanged","msgInfo":{}}}`
	ids := s.PublishEvent(tenant, []byte(ev), "AgentSkillChanged")
	if len(ids) != 3 {
		t.Fatalf("ids %v", ids)
	}
	for _, c := range []*client{all, typ, agent} {
		if f := c.next(); f.payload(t) != ev {
			t.Errorf("payload %s", f.payload(t))
		}
	}
	s.PublishEvent(tenant, []byte(`{"Interaction":{"agentId":"agX","event":"InteractionAccepted"}}`), "InteractionAccepted")
	if f := all.next(); !strings.Contains(f.payload(t), "InteractionAccepted") {
		t.Errorf("all got %s", f.payload(t))
	}
	agent.endOfTopic() // interaction events do not go to agent topics
}

func TestProduce(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	cl := dial(t, s, readerP, nil)
	if err := s.WaitSessions(testutil.Context(t, wait), 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Produce(ctx, tenant, pulsartest.NewGenerator(tenant, 1), 2000) }()
	for range 50 {
		f := cl.next()
		cl.ack(f.MessageID)
		if _, _, err := consumer.DecodePayload([]byte(`"` + f.Payload + `"`)); err != nil {
			t.Fatalf("payload: %v", err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.Produce(context.Background(), tenant, pulsartest.NewGenerator(tenant, 1), 0); err == nil {
		t.Error("rate 0 accepted")
	}
}
