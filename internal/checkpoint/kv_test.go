package checkpoint_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/streamd/streamd/internal/checkpoint"
	"github.com/streamd/streamd/internal/natstest"
	"github.com/streamd/streamd/internal/testutil"
)

// compareInts orders the test's ids, decimal numbers.
func compareInts(a, b string) (int, error) {
	x, err := strconv.Atoi(a)
	if err != nil {
		return 0, err
	}
	y, err := strconv.Atoi(b)
	if err != nil {
		return 0, err
	}
	return x - y, nil
}

// jsConn opens its own connection to url, as a separate process would.
func jsConn(t *testing.T, url string) jetstream.JetStream { return natstest.JetStream(t, url) }

func openKV(t *testing.T, js jetstream.JetStream, instance string) *checkpoint.KV {
	t.Helper()
	s, err := checkpoint.OpenKV(testutil.Context(t, 30*time.Second), checkpoint.KVConfig{JetStream: js, Compare: compareInts, Instance: instance})
	if err != nil {
		t.Fatalf("OpenKV: %v", err)
	}
	return s
}

func kvLoad(t *testing.T, s checkpoint.Backend, key string) (string, bool) {
	t.Helper()
	id, ok, err := s.Load(t.Context(), key)
	if err != nil {
		t.Fatalf("Load(%q): %v", key, err)
	}
	return id, ok
}

// TestKVCreateAndResume: the bucket is created on first use, and a second
// process with nothing local resumes from what the first saved.
func TestKVCreateAndResume(t *testing.T) {
	srv := natstest.Run(t, nil)
	js := jsConn(t, srv.URL())
	first := openKV(t, js, "host-a")
	info, err := js.Stream(testutil.Context(t, 30*time.Second), "KV_"+checkpoint.DefaultBucket)
	if err != nil {
		t.Fatalf("bucket stream after OpenKV: %v", err)
	}
	if c := info.CachedInfo().Config; c.Replicas != 1 || c.MaxMsgsPerSubject != 5 || c.Storage != jetstream.FileStorage {
		t.Fatalf("created bucket: replicas %d, history %d, storage %v", c.Replicas, c.MaxMsgsPerSubject, c.Storage)
	}
	if id, ok := kvLoad(t, first, key); ok {
		t.Fatalf("Load of a new key = %q, true", id)
	}
	for _, id := range []string{"1", "2", "30"} {
		if err := first.Save(t.Context(), key, id); err != nil {
			t.Fatalf("Save(%s): %v", id, err)
		}
	}

	second := openKV(t, jsConn(t, srv.URL()), "host-b")
	if id, ok := kvLoad(t, second, key); !ok || id != "30" {
		t.Fatalf("Load from a fresh process = %q, %v; want 30, true", id, ok)
	}
	odd := "acme/event-v1/odd name:ü.x"
	if err := second.Save(t.Context(), odd, "7"); err != nil {
		t.Fatalf("Save of a key outside the KV alphabet: %v", err)
	}
	if id, ok := kvLoad(t, first, odd); !ok || id != "7" {
		t.Fatalf("Load(%q) = %q, %v; want 7", odd, id, ok)
	}
}

// TestKVNeverMovesBackwards: a process that saves an older id than the
// stored one leaves the stored one, and writers racing on one key produce a
// monotonic sequence of values.
func TestKVNeverMovesBackwards(t *testing.T) {
	srv := natstest.Run(t, nil)
	a, b := openKV(t, jsConn(t, srv.URL()), "a"), openKV(t, jsConn(t, srv.URL()), "b")
	if err := a.Save(t.Context(), key, "100"); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(t.Context(), key, "50"); err != nil {
		t.Fatalf("Save of an older id: %v", err)
	}
	if id, _ := kvLoad(t, a, key); id != "100" {
		t.Fatalf("after a save of 50 over 100 the bucket holds %q", id)
	}

	watched := watchKey(t, jsConn(t, srv.URL()), key)
	const perWriter = 150
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w, s := range []*checkpoint.KV{a, b, a, b} {
		wg.Go(func() {
			// Writers interleave ids, each one increasing, so that every
			// write races another one close to it.
			for i := range perWriter {
				if err := s.Save(t.Context(), key, strconv.Itoa(101+i*4+w)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	last := strconv.Itoa(100 + perWriter*4)
	if id, _ := kvLoad(t, b, key); id != last {
		t.Fatalf("final checkpoint %q, want %s", id, last)
	}
	seen := watched(last)
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("checkpoint moved from %d to %d (values %v)", seen[i-1], seen[i], seen)
		}
	}
	t.Logf("%d concurrent saves gave %d stored values, all increasing", 4*perWriter, len(seen))
}

// watchKey records every value written to key; the returned function waits
// for want and returns the ids seen, in order.
func watchKey(t *testing.T, js jetstream.JetStream, k string) func(want string) []int {
	t.Helper()
	ctx := testutil.Context(t, 30*time.Second)
	kv, err := js.KeyValue(ctx, checkpoint.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	w, err := kv.Watch(ctx, k, jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Stop() })
	return func(want string) []int {
		var seen []int
		for {
			select {
			case e := <-w.Updates():
				if e == nil {
					continue
				}
				var v struct{ MessageID string }
				if err := json.Unmarshal(e.Value(), &v); err != nil {
					t.Fatal(err)
				}
				n, _ := strconv.Atoi(v.MessageID)
				seen = append(seen, n)
				if v.MessageID == want {
					return seen
				}
			case <-ctx.Done():
				t.Fatalf("watch never saw %s; saw %v", want, seen)
			}
		}
	}
}

// TestKVKeepsExistingBucket: a bucket made by an operator with other
// settings is used and left exactly as it was.
func TestKVKeepsExistingBucket(t *testing.T) {
	srv := natstest.Run(t, nil)
	js := jsConn(t, srv.URL())
	ctx := testutil.Context(t, 30*time.Second)
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:       "ops-ckpt",
		Description:  "made by ops",
		History:      1,
		MaxValueSize: 4096,
		TTL:          time.Hour,
	}); err != nil {
		t.Fatal(err)
	}
	before := bucketConfig(t, js, "ops-ckpt")

	s, err := checkpoint.OpenKV(ctx, checkpoint.KVConfig{JetStream: js, Bucket: "ops-ckpt", Replicas: 1, Compare: compareInts})
	if err != nil {
		t.Fatalf("OpenKV on an existing bucket: %v", err)
	}
	if err := s.Save(t.Context(), key, "5"); err != nil {
		t.Fatal(err)
	}
	if after := bucketConfig(t, js, "ops-ckpt"); !reflect.DeepEqual(before, after) {
		t.Fatalf("bucket config changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if id, _ := kvLoad(t, s, key); id != "5" {
		t.Fatalf("Load = %q", id)
	}
	if _, err := js.KeyValue(ctx, checkpoint.DefaultBucket); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("default bucket lookup = %v; want it never created", err)
	}
}

func bucketConfig(t *testing.T, js jetstream.JetStream, bucket string) jetstream.StreamConfig {
	t.Helper()
	st, err := js.Stream(testutil.Context(t, 30*time.Second), "KV_"+bucket)
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().Config
}

// TestKVCorruptAndUnreachable: a value that is not a checkpoint wraps
// ErrCorrupt; a server that is gone is an ordinary error, not ErrCorrupt.
func TestKVCorruptAndUnreachable(t *testing.T) {
	srv := natstest.Run(t, nil)
	js := jsConn(t, srv.URL())
	s, err := checkpoint.OpenKV(testutil.Context(t, 30*time.Second), checkpoint.KVConfig{JetStream: js, Compare: compareInts, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(testutil.Context(t, 30*time.Second), checkpoint.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	for name, val := range map[string]string{
		"not json":  "garbage",
		"other key": fmt.Sprintf(`{"version":1,"key":"x","messageId":"1","savedAt":%q}`, time.Now().Format(time.RFC3339)),
		"no id":     fmt.Sprintf(`{"version":1,"key":%q}`, key),
	} {
		if _, err := kv.Put(testutil.Context(t, 30*time.Second), key, []byte(val)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Load(t.Context(), key); !errors.Is(err, checkpoint.ErrCorrupt) {
			t.Errorf("%s: Load = %v, want ErrCorrupt", name, err)
		}
		if err := s.Save(t.Context(), key, "9"); err == nil {
			t.Errorf("%s: Save over a corrupt value = nil, want an error", name)
		}
	}

	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	s2, err := checkpoint.OpenKV(ctx, checkpoint.KVConfig{JetStream: js, Compare: compareInts})
	if err == nil {
		t.Fatalf("OpenKV with the server down = %v, nil", s2)
	}
	if _, _, err := s.Load(t.Context(), key); !errors.Is(err, checkpoint.ErrUnavailable) || errors.Is(err, checkpoint.ErrCorrupt) {
		t.Fatalf("Load with the server down = %v; want ErrUnavailable", err)
	}
	if err := s.Save(t.Context(), key, "10"); !errors.Is(err, checkpoint.ErrUnavailable) {
		t.Fatalf("Save with the server down = %v; want ErrUnavailable", err)
	}
}

// TestKVHonoursCallerContext: with the server gone, Load and Save end when
// the caller's context does, not after the store's own (long) timeout.
func TestKVHonoursCallerContext(t *testing.T) {
	srv := natstest.Run(t, nil)
	js := jsConn(t, srv.URL())
	s, err := checkpoint.OpenKV(testutil.Context(t, 30*time.Second), checkpoint.KVConfig{JetStream: js, Compare: compareInts, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, _, err := s.Load(ctx, key); !errors.Is(err, checkpoint.ErrUnavailable) {
		t.Errorf("Load = %v, want ErrUnavailable", err)
	}
	if err := s.Save(ctx, key, "1"); err == nil {
		t.Error("Save with the server down = nil")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Load and Save took %v after a 200ms caller deadline", d)
	}
}
