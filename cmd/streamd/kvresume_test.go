package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/natstest"
	"github.com/streamd/streamd/internal/testutil"
	natssink "github.com/streamd/streamd/sink/nats"
)

// statelessEnv is a reader publishing to JetStream stream EVENTS on url with
// its checkpoints in the NATS key-value bucket and a fresh, empty state dir.
func statelessEnv(t *testing.T, emu *pulsartest.Server, url string, kv ...string) env {
	return baseEnv(t).with(
		"STREAMD_TENANT", "acme", "STREAMD_API_KEY", testKey, "STREAMD_ENDPOINT", emu.URL(),
		"STREAMD_STATE_DIR", t.TempDir(), "STREAMD_START", "earliest", "STREAMD_LOG_LEVEL", "info",
		"STREAMD_SINKS", "nats", "STREAMD_NATS_URL", url, "STREAMD_NATS_JETSTREAM", "true",
		"STREAMD_NATS_STREAM", "EVENTS", "STREAMD_CHECKPOINT_STORE", "nats",
		"STREAMD_RECONNECT_MIN", "50ms", "STREAMD_RECONNECT_MAX", "200ms",
	).with(kv...)
}

// streamState reads the Streamd-Message-Id of every message in stream
// EVENTS, in stream order. A read that fails (a cluster still electing a
// consumer leader answers "no responders") starts over, for at most 30s.
func streamState(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		ids, err := readStream(ctx, js)
		if err == nil {
			return ids
		}
		if ctx.Err() != nil {
			t.Fatalf("read stream EVENTS: %v", err)
		}
		t.Logf("read stream EVENTS: %v; reading again", err)
	}
}

func readStream(ctx context.Context, js jetstream.JetStream) ([]string, error) {
	st, err := js.Stream(ctx, "EVENTS")
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	var ids []string
	for uint64(len(ids)) < info.State.Msgs {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		for m := range batch.Messages() {
			ids = append(ids, m.Headers().Get(natssink.HeaderMessageID))
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("after %d messages: %w", len(ids), err)
		}
	}
	return ids, nil
}

// storedCount is the number of messages in stream EVENTS (0 when missing).
func storedCount(js jetstream.JetStream) uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "EVENTS")
	if err != nil {
		return 0
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

// resumeLine is the resume report a reader logs when the bucket has its
// checkpoint.
type resumeLine struct {
	Msg       string `json:"msg"`
	MessageID string `json:"message_id"`
	MaxReplay int    `json:"max_replay_events"`
	SavedBy   string `json:"saved_by"`
	Age       string `json:"checkpoint_age"`
}

func findResume(t *testing.T, p *proc) resumeLine {
	t.Helper()
	p.waitLog(30*time.Second, "resuming from the checkpoint in the bucket")
	for _, l := range p.stderr.Lines() {
		var r resumeLine
		if json.Unmarshal([]byte(l), &r) == nil && strings.HasPrefix(r.Msg, "resuming from the checkpoint in the bucket") {
			return r
		}
	}
	t.Fatal("no resume line")
	return resumeLine{}
}

// statelessKillRun runs a stateless reader into stream EVENTS on natsURL,
// calls midRun once a quarter of the events is stored, kills it with
// SIGKILL at half, starts a fresh one with another empty state dir, and
// checks that the stream ends with every event exactly once and that the
// fresh process resumed from the bucket within the checkpoint window.
func statelessKillRun(t *testing.T, natsURL string, midRun func(), kv ...string) {
	const (
		total = 3000
		every = 100
		queue = 100
	)
	emu := pulsartest.Start(t, pulsartest.Config{})
	js := natstest.JetStream(t, natsURL)
	kv = append([]string{"STREAMD_CHECKPOINT_EVERY", fmt.Sprint(every), "STREAMD_CHECKPOINT_INTERVAL", "200ms",
		"STREAMD_RECEIVER_QUEUE_SIZE", fmt.Sprint(queue)}, kv...)

	first := start(t, statelessEnv(t, emu, natsURL, kv...), "run")
	first.waitLog(20*time.Second, "ready: first handshake succeeded")
	pub := publish(t, emu, total, 5, 10*time.Millisecond) // 500/s for 6s
	testutil.WaitFor(t, 30*time.Second, "a quarter stored", func() bool { return storedCount(js) >= total/4 || first.exited() })
	if midRun != nil {
		midRun()
	}
	testutil.WaitFor(t, 60*time.Second, "half stored", func() bool { return storedCount(js) >= total/2 || first.exited() })
	// The replay bound a successor reports is the checkpoint window only while
	// saves keep up. While a bucket elects a leader they hang, the stored
	// position falls behind (the daemon logs the slow save and its
	// streamd_checkpoint_age_seconds grows), and a kill then replays more:
	// once 1026 events. Kill when the saves keep up again.
	testutil.WaitFor(t, 30*time.Second, "the checkpoint within one trigger of the stream", func() bool {
		lag := checkpointLag(js, pub.published())
		return lag >= 0 && lag <= every || first.exited()
	})
	first.signal(syscall.SIGKILL)
	if code := first.wait(20 * time.Second); code != -1 {
		t.Fatalf("exit %d after SIGKILL", code)
	}
	atKill := storedCount(js)

	second := start(t, statelessEnv(t, emu, natsURL, kv...), "run")
	r := findResume(t, second)
	testutil.WaitFor(t, 60*time.Second, "publisher done", pub.finished)
	testutil.WaitFor(t, 60*time.Second, "every event stored", func() bool { return storedCount(js) >= total || second.exited() })
	second.signal(syscall.SIGTERM)
	if code := second.wait(20 * time.Second); code != exitOK {
		t.Fatalf("second run: exit %d after SIGTERM, want 0", code)
	}

	published, got := pub.published(), streamState(t, js)
	missing, dups := compare(t, published, got)
	if missing != 0 || dups != 0 || len(got) != total {
		t.Fatalf("stream holds %d of %d, %d missing, %d duplicates; want exactly once", len(got), total, missing, dups)
	}
	at := indexOf(published, r.MessageID)
	if at < 0 {
		t.Fatalf("resumed after %q, which was never published", r.MessageID)
	}
	replayed := int(atKill) - (at + 1)
	t.Logf("kill -9 at %d stored; fresh process resumed after #%d (saved by %s, %s old): replayed %d, reported bound %d; %d slow saves logged",
		atKill, at, r.SavedBy, r.Age, replayed, r.MaxReplay, strings.Count(first.stderr.String(), "checkpoint save was slow"))
	if replayed < 0 || replayed > every+queue || r.MaxReplay != every+queue {
		t.Fatalf("replayed %d events (reported bound %d), want 0..%d", replayed, r.MaxReplay, every+queue)
	}
}

// checkpointLag is how many messages stream EVENTS holds after the reader
// checkpoint stored in the bucket, given the published ids in order; -1
// while it cannot tell.
func checkpointLag(js jetstream.JetStream, ids []string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, "streamd-checkpoints")
	if err != nil {
		return -1
	}
	e, err := kv.Get(ctx, streamTopic)
	if err != nil {
		return -1
	}
	var v struct {
		MessageID string `json:"messageId"`
	}
	at := -1
	if json.Unmarshal(e.Value(), &v) == nil {
		at = indexOf(ids, v.MessageID)
	}
	if at < 0 {
		return -1
	}
	return int(storedCount(js)) - (at + 1)
}

func indexOf(ids []string, id string) int {
	for i, x := range ids {
		if x == id {
			return i
		}
	}
	return -1
}

// TestStatelessReaderResumesFromBucket: kill -9 of a reader that keeps its
// checkpoints in NATS, then a fresh process with an empty state dir: the
// stream ends with every event exactly once, and the replay is within the
// reported checkpoint window.
func TestStatelessReaderResumesFromBucket(t *testing.T) {
	t.Parallel()
	srv := natstest.Run(t, nil)
	statelessKillRun(t, srv.URL(), nil)
}

// TestClusterNodeLossAndKill: a 3-node cluster, an R3 stream and an R3
// bucket; the node streamd publishes through is shut down mid-run, then
// streamd is killed and a fresh process resumes from the bucket. Every
// event is in the stream exactly once.
func TestClusterNodeLossAndKill(t *testing.T) {
	t.Parallel()
	c := natstest.RunCluster(t, 3)
	js := natstest.JetStream(t, c.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"8x8.>"},
		Replicas: 3, Duplicates: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}

	stopped := ""
	statelessKillRun(t, c.URL(), func() {
		start := time.Now()
		var stoppedIn time.Duration
		for _, node := range c.Nodes {
			if node.HasClient("streamd") {
				stopped = node.Name()
				node.Stop()
				stoppedIn = time.Since(start).Round(time.Millisecond)
				break
			}
		}
		if stopped == "" {
			t.Fatal("no node has streamd's connection")
		}
		before := storedCount(js)
		testutil.WaitFor(t, 60*time.Second, "progress after the node stop", func() bool { return storedCount(js) >= before+50 })
		t.Logf("stopped node %s (streamd's sink connection) in %v; 50 more events stored %v after the stop",
			stopped, stoppedIn, time.Since(start).Round(time.Millisecond))
	}, "STREAMD_CHECKPOINT_REPLICAS", "3")
	if info, err := js.KeyValue(ctx, "streamd-checkpoints"); err != nil {
		t.Fatalf("bucket after the run: %v", err)
	} else if st, err := info.Status(ctx); err != nil || st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas != 3 {
		t.Fatalf("bucket status %v, %v; want 3 replicas", st, err)
	}
}

// TestCheckCheckpointBucket: `check` reports the bucket and never creates
// it; with the bucket present it reports its replicas.
func TestCheckCheckpointBucket(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{Keys: []string{testKey}})
	srv := natstest.Run(t, nil)
	e := checkEnv(t, emu, "STREAMD_CHECKPOINT_STORE", "nats", "STREAMD_NATS_URL", srv.URL(), "STREAMD_CHECKPOINT_BUCKET", "ckpt")
	p := run(t, e, "check")
	if want := "checkpoints    ok    nats bucket ckpt: missing; run creates it with 1 replicas"; p.code != exitOK || !strings.Contains(p.stdout.String(), want) {
		t.Fatalf("exit %d, want 0 and %q:\n%s", p.code, want, p.stdout.String())
	}

	js := natstest.JetStream(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.KeyValue(ctx, "ckpt"); err == nil {
		t.Fatal("check created the bucket")
	}
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "ckpt"}); err != nil {
		t.Fatal(err)
	}
	p = run(t, e, "check")
	if want := "checkpoints    ok    nats bucket ckpt: exists, 1 replicas, 0 stored values"; p.code != exitOK || !strings.Contains(p.stdout.String(), want) {
		t.Fatalf("exit %d, want 0 and %q:\n%s", p.code, want, p.stdout.String())
	}

	srv.Stop()
	p = run(t, e, "check")
	if want := "checkpoints    FAIL  nats bucket ckpt: "; p.code == exitOK || !strings.Contains(p.stdout.String(), want) {
		t.Fatalf("exit %d, want non-zero and %q:\n%s", p.code, want, p.stdout.String())
	}
}

// TestCorruptBucketCheckpointExits78: a value in the bucket that is not a
// checkpoint stops the reader with exit 78 naming the bucket and key, never
// silently replaced by STREAMD_START.
func TestCorruptBucketCheckpointExits78(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{Keys: []string{testKey}})
	srv := natstest.Run(t, nil)
	js := natstest.JetStream(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "streamd-checkpoints"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, streamTopic, []byte("not a checkpoint")); err != nil {
		t.Fatal(err)
	}

	p := run(t, statelessEnv(t, emu, srv.URL(), "STREAMD_SINKS", "stdout"), "run")
	if p.code != exitConfig {
		t.Fatalf("exit %d, want %d:\n%s", p.code, exitConfig, p.stderr.String())
	}
	if msg := p.stderr.String(); !strings.Contains(msg, `bucket \"streamd-checkpoints\" key \"acme/event-v1/all\"`) {
		t.Errorf("the error does not name the bucket and key:\n%s", tail(msg, 2000))
	}
	if n := emu.Stats().Handshakes[101]; n != 0 {
		t.Errorf("%d handshakes with a corrupt checkpoint, want 0", n)
	}
}
