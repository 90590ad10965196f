package pulsartest_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

func TestStall(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{IdleTimeout: 100 * time.Millisecond})
	cl := dial(t, s, consumerP, nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	if err := cl.c.Ping(ctx); err != nil {
		t.Fatalf("ping before stall: %v", err)
	}
	cancel()
	resume := s.Stall()
	id := s.Publish(allTopic, []byte(`{}`))
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := cl.c.Ping(ctx) // no pong, and no idle close though 300ms > idle timeout
	cancel()
	if err == nil {
		t.Fatal("stalled session answered a ping")
	}
	select {
	case f := <-cl.frames:
		t.Fatalf("stalled session wrote %s", f.raw)
	default:
	}
	// New connections work meanwhile; the stalled consumer still holds the
	// Exclusive subscription.
	rd := dial(t, s, readerP, url.Values{"messageId": {"earliest"}})
	if f := rd.next(); f.MessageID != id {
		t.Fatalf("reader during stall got %s", f.raw)
	}
	if got := status(t, s, consumerP, "", nil); got != 409 {
		t.Errorf("consumer during stall: %d, want 409", got)
	}
	resume()
	if f := cl.next(); f.MessageID != id {
		t.Fatalf("after resume got %s", f.raw)
	}
	if st := s.Stats(); st.Pings < 2 || st.Stalls != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestStallClientGivesUp(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	cl := dial(t, s, consumerP, nil)
	if err := s.WaitSessions(testutil.Context(t, wait), 1); err != nil {
		t.Fatal(err)
	}
	resume := s.Stall()
	defer resume()
	_ = cl.c.CloseNow() // the client's ping timed out: it drops the socket
	if err := s.WaitSessions(testutil.Context(t, wait), 0); err != nil {
		t.Fatal(err)
	}
	dial(t, s, consumerP, nil).endOfTopic() // subscription released
}

func TestDropConnectionsReader(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	a, b := dial(t, s, readerP, nil), dial(t, s, consumerP, nil)
	if err := s.WaitSessions(testutil.Context(t, wait), 2); err != nil {
		t.Fatal(err)
	}
	if n := s.DropConnections(); n != 2 {
		t.Fatalf("dropped %d", n)
	}
	for _, c := range []*client{a, b} {
		if code := c.closed(); code != -1 {
			t.Errorf("close code %d, want none", code)
		}
	}
	if n := s.Sessions(); n != 0 {
		t.Errorf("sessions %d", n)
	}
}

func TestInjectFrame(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	cl := dial(t, s, readerP, url.Values{"receiverQueueSize": {"1"}})
	if err := s.WaitSessions(testutil.Context(t, wait), 1); err != nil {
		t.Fatal(err)
	}
	if n := s.InjectFrame("persistent://acme/event-v1/all", []byte(`{"messageId":"x","payload":"%%%"`)); n != 1 {
		t.Fatalf("injected into %d sessions", n)
	}
	if f := cl.next(); string(f.raw) != `{"messageId":"x","payload":"%%%"` {
		t.Fatalf("got %q", f.raw)
	}
	id := s.Publish(allTopic, []byte(`{}`))
	cl.endOfTopic() // the injected frame took the only slot
	cl.ack("x")
	if f := cl.next(); f.MessageID != id {
		t.Fatalf("got %s", f.raw)
	}
	if n := s.InjectFrame("acme/event-v1/none", []byte("x")); n != 0 {
		t.Errorf("unknown topic reached %d", n)
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = 400 * time.Millisecond
	s := pulsartest.Start(t, pulsartest.Config{IdleTimeout: idle})
	cl := dial(t, s, readerP, nil)
	// Pings keep the session alive well past the idle timeout.
	for range 6 {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		err := cl.c.Ping(ctx)
		cancel()
		if err != nil {
			t.Fatalf("ping: %v", err)
		}
		select {
		case <-cl.done:
			t.Fatalf("closed despite pings: %v", cl.err)
		case <-time.After(idle / 4):
		}
	}
	if code := cl.closed(); code != websocket.StatusGoingAway {
		t.Errorf("idle close code %d, want 1001", code)
	}
	if st := s.Stats(); st.Closes[websocket.StatusGoingAway] != 1 || st.Pings != 6 {
		t.Errorf("stats %+v", st)
	}
}

func TestCommandErrors(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	for _, tc := range []struct {
		name, path string
		frame      string
		want       websocket.StatusCode
	}{
		{"consumer malformed", consumerP, `{"messageId":`, websocket.StatusNoStatusRcvd},
		{"reader malformed", readerP, `nope`, websocket.StatusNoStatusRcvd},
		{"permit without count", consumerP, `{"type":"permit"}`, websocket.StatusNoStatusRcvd},
		{"ack without id", consumerP, `{"type":"ack"}`, websocket.StatusInternalError},
		{"nack bad id", consumerP, `{"type":"negativeAcknowledge","messageId":"@@"}`, websocket.StatusInternalError},
		{"ack non-protobuf id", consumerP, `{"messageId":"////"}`, websocket.StatusInternalError},
		{"too big", readerP, `{"messageId":"` + strings.Repeat("A", pulsartest.MaxClientFrame) + `"}`, websocket.StatusMessageTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := dial(t, s, strings.Replace(tc.path, "streamd", strings.ReplaceAll(tc.name, " ", "-"), 1), nil)
			cl.sendRaw([]byte(tc.frame))
			if got := cl.closed(); got != tc.want {
				t.Errorf("close %d, want %d", got, tc.want)
			}
		})
	}
	s2 := pulsartest.Start(t, pulsartest.Config{CommandErrorClose: websocket.StatusProtocolError})
	cl := dial(t, s2, consumerP, nil)
	cl.sendRaw([]byte(`{`))
	if got := cl.closed(); got != websocket.StatusProtocolError {
		t.Errorf("configured close %d", got)
	}
}

func TestIgnoredFrames(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	cl := dial(t, s, consumerP, url.Values{"receiverQueueSize": {"1"}})
	if err := cl.c.Write(testutil.Context(t, wait), websocket.MessageBinary, []byte("bin")); err != nil {
		t.Fatal(err)
	}
	cl.send(map[string]any{"type": "permit", "permitMessages": 5, "extra": []int{1}}) // push mode: ignored
	cl.endOfTopic()
	if st := s.Stats(); st.BinaryFrames != 1 || st.Permits != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	cl := dial(t, s, consumerP, nil)
	cl.send(map[string]string{"type": "unsubscribe"})
	cl.endOfTopic() // commands are processed in order: unsubscribe is done
	s.Publish(allTopic, []byte(`{}`))
	cl.endOfTopic() // still open, delivers nothing
	if n := s.Backlog(allTopic, "streamd"); n != 0 {
		t.Errorf("backlog of deleted subscription %d", n)
	}
}

func TestDeadLetter(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	s.SetNackDelay(0)
	dlq := dial(t, s, "/ws/v2/reader/persistent/acme/event-v1/all-streamd-DLQ", nil)
	cl := dial(t, s, consumerP, url.Values{"maxRedeliverCount": {"1"}})
	if err := s.WaitSessions(testutil.Context(t, wait), 2); err != nil {
		t.Fatal(err)
	}
	id := s.Publish(allTopic, []byte(`{"poison":true}`))
	for want := range 2 {
		f := cl.next()
		if f.MessageID != id || f.RedeliveryCount != want {
			t.Fatalf("delivery %d: %s", want, f.raw)
		}
		cl.send(map[string]string{"type": "negativeAcknowledge", "messageId": id})
	}
	if f := dlq.next(); f.payload(t) != `{"poison":true}` {
		t.Fatalf("dlq got %s", f.raw)
	}
	cl.endOfTopic()
}

func TestServeStopsOnContext(t *testing.T) {
	t.Parallel()
	s := pulsartest.Start(t, pulsartest.Config{})
	cl := dial(t, s, readerP, nil)
	s.Close()
	if code := cl.closed(); code != websocket.StatusGoingAway {
		t.Errorf("close code %d", code)
	}
	if got := status(t, s, readerP, "", nil); got != 503 {
		t.Errorf("after Close: %d", got)
	}
}
