package consumer_test

import (
	"testing"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
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
	last := ids[len(ids)-1]
	testutil.WaitFor(t, wait, "the idle reader's checkpoint", func() bool {
		id, ok, err := openStore(t, dir).Load(t.Context(), tenant+"/event-v1/all")
		return err == nil && ok && id == last
	})
}
