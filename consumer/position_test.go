package consumer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/checkpoint"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink/sinktest"
)

// TestIdleReaderCheckpointFlushedWithinInterval: a reader whose stream goes
// idle writes its checkpoint within about one CheckpointInterval, without
// being stopped and without anyone else calling a flush. The messages arrive
// within the Tracker's first interval, so neither its count nor its interval
// trigger fires on Advance; only the consumer's own tick writes them.
func TestIdleReaderCheckpointFlushedWithinInterval(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	g := pulsartest.NewGenerator(tenant, 2)
	ids := publish(srv, g, allTopic, 20)
	dir := t.TempDir()
	rec := &sinktest.Recorder{}
	opts, _ := newOptions(t, rec)
	opts.Checkpoints = openStore(t, dir)
	opts.CheckpointEvery = 1_000_000
	opts.CheckpointInterval = 200 * time.Millisecond
	run(t, newConfig(srv, consumer.ModeReader, "all"), opts)

	if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
		t.Fatalf("delivered %d of %d: %v", rec.Count(), len(ids), err)
	}
	stored := func(last string) func() bool {
		return func() bool {
			id, ok, err := openStore(t, dir).Load(t.Context(), tenant+"/event-v1/all")
			return err == nil && ok && id == last
		}
	}
	testutil.WaitFor(t, wait, "the idle reader's checkpoint", stored(ids[len(ids)-1]))

	// The flush timer sleeps while nothing is unsaved; a delivery after
	// the idle spell starts it again.
	more := publish(srv, g, allTopic, 1)
	testutil.WaitFor(t, wait, "the checkpoint after an idle spell", stored(more[0]))
}

// hangingStore is a checkpoint backend whose saves hang until release is
// closed, as they do while a NATS bucket elects a leader. began receives
// the start of the first save.
type hangingStore struct {
	checkpoint.Backend
	began   chan time.Time
	release chan struct{}
}

func (s hangingStore) Save(ctx context.Context, key, id string) error {
	select {
	case s.began <- time.Now():
	default:
	}
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Backend.Save(ctx, key, id)
}

// TestReaderSlowCheckpointSaveLogged: delivery goes on while a checkpoint
// save hangs, and a save that succeeds only after more than
// CheckpointInterval is logged as slow with the events delivered meanwhile:
// until it finished, a crash would have replayed more than the reported
// checkpoint window.
func TestReaderSlowCheckpointSaveLogged(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	g := pulsartest.NewGenerator(tenant, 3)
	ids := publish(srv, g, allTopic, 5)
	rec := &sinktest.Recorder{}
	var logs testutil.SyncBuffer
	opts, _ := newOptions(t, rec)
	opts.Logger = newLogger(t, &logs)
	st := hangingStore{Backend: openStore(t, t.TempDir()), began: make(chan time.Time, 1), release: make(chan struct{})}
	opts.Checkpoints = st
	opts.CheckpointEvery = 5
	opts.CheckpointInterval = 100 * time.Millisecond
	run(t, newConfig(srv, consumer.ModeReader, "all"), opts)

	var began time.Time
	select {
	case began = <-st.began:
	case <-time.After(wait):
		t.Fatal("no checkpoint save started")
	}
	ids = append(ids, publish(srv, g, allTopic, 20)...)
	if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
		t.Fatalf("delivered %d of %d while the save hung: %v", rec.Count(), len(ids), err)
	}
	testutil.WaitFor(t, wait, "the save hanging for longer than the interval", func() bool {
		return time.Since(began) > opts.CheckpointInterval
	})
	if strings.Contains(logs.String(), "checkpoint save was slow") {
		t.Fatal("a save still hanging was logged as slow")
	}
	close(st.release)
	testutil.WaitFor(t, wait, "the slow save logged", func() bool {
		return strings.Contains(logs.String(), "checkpoint save was slow")
	})
	if n := slowSaveBehind(t, logs.String()); n < 20 {
		t.Errorf("the slow-save line counts %d events delivered meanwhile, want at least the 20 published during the save", n)
	}
}

// slowSaveBehind returns events_delivered_meanwhile of the first slow-save
// log line.
func slowSaveBehind(t *testing.T, logs string) int {
	t.Helper()
	for _, l := range strings.Split(logs, "\n") {
		var v struct {
			Msg    string `json:"msg"`
			Behind int    `json:"events_delivered_meanwhile"`
		}
		if json.Unmarshal([]byte(l), &v) == nil && strings.HasPrefix(v.Msg, "checkpoint save was slow") {
			return v.Behind
		}
	}
	t.Fatal("no slow-save line")
	return 0
}

// savesRecorder is a checkpoint backend that records every id saved.
type savesRecorder struct {
	checkpoint.Backend
	mu  sync.Mutex
	ids []string
}

func (s *savesRecorder) Save(ctx context.Context, key, id string) error {
	if err := s.Backend.Save(ctx, key, id); err != nil {
		return err
	}
	s.mu.Lock()
	s.ids = append(s.ids, id)
	s.mu.Unlock()
	return nil
}

func (s *savesRecorder) saved() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...)
}

// TestReaderCheckpointCountTrigger: delivery wakes the checkpoint goroutine
// only when a save is due, and the count trigger still saves exactly every
// CheckpointEvery messages while they arrive one at a time (the interval
// is an hour, so no tick helps), then the final save on stop. The next
// message is published only once the save it triggered is written: a save
// takes a write and two fsyncs, and the Tracker saves the newest position
// it is handed, so messages delivered meanwhile would move it.
func TestReaderCheckpointCountTrigger(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{})
	g := pulsartest.NewGenerator(tenant, 3)
	rec := &sinktest.Recorder{}
	opts, _ := newOptions(t, rec)
	store := &savesRecorder{Backend: openStore(t, t.TempDir())}
	opts.Checkpoints = store
	opts.CheckpointEvery = 10
	opts.CheckpointInterval = time.Hour
	r := run(t, newConfig(srv, consumer.ModeReader, "all"), opts)

	var ids []string
	for range 25 {
		ids = append(ids, publish(srv, g, allTopic, 1)...)
		if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
			t.Fatal(err)
		}

		if len(ids)%10 == 0 {
			testutil.WaitFor(t, wait, fmt.Sprintf("the save after message %d", len(ids)), func() bool {
				return len(store.saved()) == len(ids)/10
			})
		}
	}

	if err := r.Stop(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop: %v", err)
	}
	sameIDs(t, "saved checkpoints", store.saved(), []string{ids[9], ids[19], ids[24]})
}
