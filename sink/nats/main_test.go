package nats_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/goleak"

	"github.com/streamd/streamd/sink"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testServer is an embedded nats-server with JetStream that can be stopped
// and restarted on the same port with the same store.
type testServer struct {
	t    testing.TB
	opts server.Options
	srv  *server.Server
}

// startServer starts a server on a random loopback port; modify adjusts the
// options (auth, TLS) first. It is shut down at test cleanup.
func startServer(t testing.TB, modify func(*server.Options)) *testServer {
	t.Helper()
	ts := &testServer{t: t, opts: server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}}
	if modify != nil {
		modify(&ts.opts)
	}
	ts.start()
	ts.opts.Port = ts.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) start() {
	ts.t.Helper()
	opts := ts.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		ts.t.Fatalf("new nats server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		ts.t.Fatal("nats server not ready")
	}
	ts.srv = srv
}

// stop shuts the server down and waits for it; it is idempotent.
func (ts *testServer) stop() {
	if ts.srv == nil {
		return
	}
	ts.srv.Shutdown()
	ts.srv.WaitForShutdown()
	ts.srv = nil
}

// restart starts a new server on the same port with the same store.
func (ts *testServer) restart() {
	ts.t.Helper()
	ts.stop()
	ts.start()
}

func (ts *testServer) url() string {
	return fmt.Sprintf("nats://127.0.0.1:%d", ts.opts.Port)
}

// testEvents returns n distinct events on one topic. Message ids contain
// '+', '/' and '=' like real base64 Pulsar ids.
func testEvents(n int, topic string) []*sink.Event {
	types := []string{"InteractionCreated", "InteractionDeleted", "Agent Status"}
	evs := make([]*sink.Event, n)
	for i := range evs {
		raw := []byte{0xfb, 0xff, byte(i >> 16), byte(i >> 8), byte(i), 0xfe}
		evs[i] = &sink.Event{
			MessageID:       base64.StdEncoding.EncodeToString(raw) + "=",
			Topic:           topic,
			PublishTime:     "2026-11-22T10:00:00.123Z",
			RedeliveryCount: i % 3,
			Properties:      []byte("{}"),
			EventType:       types[i%len(types)],
			Payload:         []byte(fmt.Sprintf(`{"interaction":{"eventType":%q,"seq":%d}}`, types[i%len(types)], i)),
		}
		if i%2 == 0 {
			evs[i].Key = fmt.Sprintf("key-%d", i)
		}
	}
	return evs
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
