package nats_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/streamd/streamd/internal/natstest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/nats"
)

func openSink(t testing.TB, cfg nats.Config) *nats.Sink {
	t.Helper()
	s, err := nats.Open(testutil.Context(t, 10*time.Second), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func subscribe(t testing.TB, url, subject string) *natsgo.Subscription {
	t.Helper()
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatalf("connect subscriber: %v", err)
	}
	t.Cleanup(nc.Close)
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush subscriber: %v", err)
	}
	return sub
}

func TestCoreDeliversEveryEventWithHeaders(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, nil)
	sub := subscribe(t, ts.URL(), ">")
	s := openSink(t, nats.Config{URL: ts.URL(), Subject: "ev.{tenant}.{namespace}.{topic}.{type}", Name: "streamd-test", Instance: "pod-7"})

	evs := testEvents(60, "persistent://ac.me/cc ns/events")
	if err := s.Write(testutil.Context(t, 5*time.Second), evs[:1]); err != nil {
		t.Fatalf("Write 1: %v", err)
	}
	if err := s.Write(testutil.Context(t, 5*time.Second), evs[1:]); err != nil {
		t.Fatalf("Write rest: %v", err)
	}
	for i, e := range evs {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		checkMessage(t, m, e, "ev.ac_me.cc_ns.events."+sanitisedType(e.EventType))
		if got := m.Header.Get(nats.HeaderMsgID); got != "" {
			t.Errorf("core message has %s %q", nats.HeaderMsgID, got)
		}
		if got := m.Header.Get(nats.HeaderInstance); got != "pod-7" {
			t.Errorf("header %s = %q, want the configured instance", nats.HeaderInstance, got)
		}
	}
	if err := s.Ping(testutil.Context(t, 5*time.Second)); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func sanitisedType(typ string) string {
	if typ == "Agent Status" {
		return "Agent_Status"
	}
	return typ
}

// checkMessage verifies the subject, body and Streamd-* headers of m.
func checkMessage(t testing.TB, m *natsgo.Msg, e *sink.Event, subject string) {
	t.Helper()
	if m.Subject != subject {
		t.Errorf("subject = %q, want %q", m.Subject, subject)
	}
	if string(m.Data) != string(e.Payload) {
		t.Errorf("body = %s, want %s", m.Data, e.Payload)
	}
	want := map[string]string{
		nats.HeaderMessageID:       e.MessageID,
		nats.HeaderTopic:           e.Topic,
		nats.HeaderPublishTime:     e.PublishTime,
		nats.HeaderEventType:       e.EventType,
		nats.HeaderRedeliveryCount: strconv.Itoa(e.RedeliveryCount),
		nats.HeaderKey:             e.Key,
	}
	for k, v := range want {
		if got := m.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if _, ok := m.Header[nats.HeaderKey]; ok != (e.Key != "") {
		t.Errorf("header %s present = %v, event key %q", nats.HeaderKey, ok, e.Key)
	}
}

func TestCoreOutageFailsThenRecovers(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, nil)
	s := openSink(t, nats.Config{URL: ts.URL(), ReconnectWait: 20 * time.Millisecond})
	evs := testEvents(10, "persistent://acme/default/events")
	if err := s.Write(testutil.Context(t, 5*time.Second), evs); err != nil {
		t.Fatalf("Write: %v", err)
	}
	ts.Stop()
	start := time.Now()
	if err := s.Write(testutil.Context(t, time.Second), evs); err == nil {
		t.Fatal("Write with the server down succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("failing Write took %v", d)
	}
	if err := s.Ping(testutil.Context(t, time.Second)); err == nil {
		t.Error("Ping with the server down succeeded")
	}
	if err := ts.Start(); err != nil {
		t.Fatal(err)
	}
	sub := subscribe(t, ts.URL(), "8x8.>")
	testutil.WaitFor(t, 10*time.Second, "write after restart", func() bool {
		return s.Write(testutil.Context(t, time.Second), evs) == nil
	})
	for i := range evs {
		if _, err := sub.NextMsg(5 * time.Second); err != nil {
			t.Fatalf("event %d after restart: %v", i, err)
		}
	}
}

func TestOpenWhileServerDown(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, nil)
	ts.Stop()
	s := openSink(t, nats.Config{URL: ts.URL(), JetStream: true, Stream: "EVENTS", ReconnectWait: 20 * time.Millisecond})
	evs := testEvents(5, "persistent://acme/default/events")
	if err := s.Write(testutil.Context(t, time.Second), evs); err == nil {
		t.Fatal("Write before the server is up succeeded")
	}
	if err := ts.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "write after server start", func() bool {
		return s.Write(testutil.Context(t, time.Second), evs) == nil
	})
	if n := streamMsgs(t, ts.URL(), "EVENTS"); n != uint64(len(evs)) {
		t.Errorf("stream has %d messages, want %d", n, len(evs))
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, nil)
	s, err := nats.Open(testutil.Context(t, 5*time.Second), nats.Config{URL: ts.URL()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for range 2 {
		if err := s.Close(testutil.Context(t, 5*time.Second)); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	err = s.Write(testutil.Context(t, time.Second), testEvents(1, "persistent://a/b/c"))
	if !errors.Is(err, sink.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
}

func TestCloseWhileServerDown(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, nil)
	ts.Stop()
	s, err := nats.Open(testutil.Context(t, 5*time.Second), nats.Config{URL: ts.URL(), JetStream: true, Stream: "EVENTS"})
	if err != nil {
		t.Fatalf("Open with the server down: %v", err)
	}
	start := time.Now()
	if err := s.Close(testutil.Context(t, 5*time.Second)); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
}
