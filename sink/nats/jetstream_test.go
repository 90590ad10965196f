package nats_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/streamd/streamd/internal/natstest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/nats"
)

// jsClient is an independent JetStream client for inspecting streams.
func jsClient(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatalf("connect inspector: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}

func streamInfo(t testing.TB, url, name string) *jetstream.StreamInfo {
	t.Helper()
	ctx := testutil.Context(t, 5*time.Second)
	str, err := jsClient(t, url).Stream(ctx, name)
	if err != nil {
		t.Fatalf("get stream %s: %v", name, err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	return info
}

func streamMsgs(t testing.TB, url, name string) uint64 {
	t.Helper()
	return streamInfo(t, url, name).State.Msgs
}

// streamContent returns every message of the stream keyed by Nats-Msg-Id,
// failing on a repeated id.
func streamContent(t testing.TB, url, name string) map[string]*jetstream.RawStreamMsg {
	t.Helper()
	ctx := testutil.Context(t, 10*time.Second)
	info := streamInfo(t, url, name)
	str, err := jsClient(t, url).Stream(ctx, name)
	if err != nil {
		t.Fatalf("get stream: %v", err)
	}
	got := make(map[string]*jetstream.RawStreamMsg)
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		// One deadline per request: thousands of them under -race on a
		// loaded machine do not fit one shared budget.
		mctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m, err := str.GetMsg(mctx, seq)
		cancel()
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		id := m.Header.Get(nats.HeaderMsgID)
		if _, dup := got[id]; dup {
			t.Errorf("message id %s stored twice", id)
		}
		got[id] = m
	}
	return got
}

// checkStream verifies the stream holds exactly one message per event, with
// the right body and headers.
func checkStream(t testing.TB, url, name string, evs []*sink.Event) {
	t.Helper()
	got := streamContent(t, url, name)
	if len(got) != len(evs) {
		t.Errorf("stream %s has %d distinct messages, want %d", name, len(got), len(evs))
	}
	for _, e := range evs {
		m, ok := got[nats.MsgID(e)]
		if !ok {
			t.Errorf("event %s missing from stream", nats.MsgID(e))
			continue
		}
		checkMessage(t, &natsgo.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data}, e, nats.Subject("", e))
	}
}

func TestJetStreamCreatesStreamAndDeduplicates(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, nil)
	s := openSink(t, nats.Config{URL: ts.URL(), JetStream: true, Stream: "EVENTS", DuplicateWindow: 5 * time.Minute})

	info := streamInfo(t, ts.URL(), "EVENTS") // created by Open
	cfg := info.Config
	if cfg.Duplicates != 5*time.Minute || cfg.Storage != jetstream.FileStorage ||
		cfg.Retention != jetstream.LimitsPolicy || len(cfg.Subjects) != 1 || cfg.Subjects[0] != "8x8.*.*" {
		t.Errorf("created stream config: dup %v storage %v retention %v subjects %q",
			cfg.Duplicates, cfg.Storage, cfg.Retention, cfg.Subjects)
	}
	evs := testEvents(300, "persistent://acme/default/events")
	for range 2 {
		if err := s.Write(testutil.Context(t, 10*time.Second), evs); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if err := s.Write(testutil.Context(t, 10*time.Second), evs[100:150]); err != nil {
		t.Fatalf("Write part again: %v", err)
	}
	checkStream(t, ts.URL(), "EVENTS", evs)
	if err := s.Ping(testutil.Context(t, 5*time.Second)); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestJetStreamKeepsExistingStream(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, nil)
	ctx := testutil.Context(t, 10*time.Second)
	existing := jetstream.StreamConfig{
		Name: "EXISTING", Subjects: []string{"8x8.>"}, Storage: jetstream.MemoryStorage,
		Duplicates: 10 * time.Second, MaxMsgs: 10000,
	}
	if _, err := jsClient(t, ts.URL()).CreateStream(ctx, existing); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	before := streamInfo(t, ts.URL(), "EXISTING").Config
	s := openSink(t, nats.Config{URL: ts.URL(), JetStream: true, Stream: "EXISTING", DuplicateWindow: time.Hour})
	evs := testEvents(20, "persistent://acme/default/events")
	if err := s.Write(ctx, evs); err != nil {
		t.Fatalf("Write: %v", err)
	}
	after := streamInfo(t, ts.URL(), "EXISTING").Config
	if after.Duplicates != before.Duplicates || after.Storage != before.Storage ||
		after.MaxMsgs != before.MaxMsgs || fmt.Sprint(after.Subjects) != fmt.Sprint(before.Subjects) {
		t.Errorf("stream config changed: before %+v after %+v", before, after)
	}
	checkStream(t, ts.URL(), "EXISTING", evs)
}

func TestJetStreamRejectsStreamNotCoveringSubjects(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, nil)
	ctx := testutil.Context(t, 10*time.Second)
	if _, err := jsClient(t, ts.URL()).CreateStream(ctx, jetstream.StreamConfig{Name: "NARROW", Subjects: []string{"8x8.acme.*"}}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	s, err := nats.Open(ctx, nats.Config{URL: ts.URL(), JetStream: true, Stream: "NARROW"})
	if err == nil {
		_ = s.Close(ctx)
		t.Fatal("Open succeeded with a stream that does not cover the subjects")
	}
	if !errors.Is(err, nats.ErrStreamSubjects) {
		t.Errorf("Open error = %v, want ErrStreamSubjects", err)
	}
}

func TestJetStreamWithoutStreamFails(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, nil)
	s := openSink(t, nats.Config{URL: ts.URL(), JetStream: true})
	if err := s.Write(testutil.Context(t, 5*time.Second), testEvents(3, "persistent://a/b/c")); err == nil {
		t.Error("Write with no stream for the subjects succeeded")
	}
}

func TestJetStreamConcurrentWritesSmallWindow(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, nil)
	s := openSink(t, nats.Config{URL: ts.URL(), JetStream: true, Stream: "EVENTS", MaxInflight: 4})
	var all []*sink.Event
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		evs := testEvents(200, fmt.Sprintf("persistent://acme/default/topic-%d", w))
		all = append(all, evs...)
		wg.Go(func() {
			for i := 0; i < len(evs); i += 50 {
				if err := s.Write(testutil.Context(t, 10*time.Second), evs[i:i+50]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Write: %v", err)
	}
	checkStream(t, ts.URL(), "EVENTS", all)
}

func TestJetStreamWriteHonoursContext(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, nil)
	s := openSink(t, nats.Config{URL: ts.URL(), JetStream: true, Stream: "EVENTS"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Write(ctx, testEvents(10, "persistent://a/b/c")); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with cancelled ctx = %v, want context.Canceled", err)
	}
}

func TestJetStreamRecreatesDeletedStream(t *testing.T) {
	t.Parallel()
	ts := natstest.Run(t, nil)
	s := openSink(t, nats.Config{URL: ts.URL(), JetStream: true, Stream: "EVENTS"})
	evs := testEvents(10, "persistent://acme/default/events")
	if err := s.Write(testutil.Context(t, 5*time.Second), evs[:5]); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := jsClient(t, ts.URL()).DeleteStream(testutil.Context(t, 5*time.Second), "EVENTS"); err != nil {
		t.Fatalf("delete stream: %v", err)
	}
	if err := s.Write(testutil.Context(t, 5*time.Second), evs[5:]); err == nil {
		t.Fatal("Write to a deleted stream succeeded")
	}
	if err := s.Write(testutil.Context(t, 5*time.Second), evs[5:]); err != nil {
		t.Fatalf("Write after the stream was deleted: %v", err)
	}
	checkStream(t, ts.URL(), "EVENTS", evs[5:])
}
