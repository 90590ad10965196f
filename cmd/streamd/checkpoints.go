package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/internal/checkpoint"
	natssink "github.com/streamd/streamd/sink/nats"
)

// bucketName is what JetStream accepts as a key-value bucket name.
var bucketName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// validateCheckpointStore checks the STREAMD_CHECKPOINT_* store settings.
func (c *Config) validateCheckpointStore() error {
	switch c.CheckpointStore {
	case "file":
		return nil
	case "nats":
	default:
		return badVar("CHECKPOINT_STORE", c.CheckpointStore, "want file or nats")
	}

	if !bucketName.MatchString(c.CheckpointBucket) {
		return badVar("CHECKPOINT_BUCKET", c.CheckpointBucket, "want a bucket name of letters, digits, - and _")
	}

	if c.CheckpointReplicas < 1 || c.CheckpointReplicas > 5 {
		return badVar("CHECKPOINT_REPLICAS", itoa(c.CheckpointReplicas), "want 1..5")
	}

	return c.validateNATSURL()
}

// checkpointStore is the opened reader checkpoint backend and what closes it.
type checkpointStore struct {
	backend checkpoint.Backend // nil: positions are kept in memory only
	close   func()
}

// openCheckpoints opens the store STREAMD_CHECKPOINT_STORE names. The nats
// store is only opened for readers (consumers keep no checkpoints); it needs
// a server of STREAMD_NATS_URL to answer within openTimeout.
func openCheckpoints(ctx context.Context, c *Config, log *slog.Logger) (*checkpointStore, error) {
	if c.CheckpointStore != "nats" {
		s, err := checkpoint.Open(filepath.Join(c.StateDir, "checkpoints"))
		if err != nil {
			return nil, badVar("STATE_DIR", c.StateDir, "cannot use it: "+err.Error())
		}
		return &checkpointStore{backend: s, close: func() {}}, nil
	}

	if c.Mode != string(consumer.ModeReader) {
		return &checkpointStore{close: func() {}}, nil
	}

	nc, err := natssink.Connect(c.natsConnConfig(log))
	if err != nil {
		return nil, fmt.Errorf("open checkpoint store: %w", err)
	}

	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("open checkpoint store: %w", err)
	}

	const openTimeout = 30 * time.Second
	octx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	kv, err := checkpoint.OpenKV(octx, checkpoint.KVConfig{
		JetStream:       js,
		Bucket:          c.CheckpointBucket,
		Replicas:        c.CheckpointReplicas,
		Compare:         compareMessageIDs,
		Instance:        instanceName(c),
		MaxReplay:       c.CheckpointEvery + c.ReceiverQueueSize,
		MaxReplayWindow: c.CheckpointPeriod,
		Logger:          log,
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("open checkpoint store (STREAMD_CHECKPOINT_BUCKET, STREAMD_NATS_URL): %w", err)
	}

	log.Info("reader checkpoints in a NATS key-value bucket", "bucket", kv.Bucket(), "server", nc.ConnectedUrlRedacted())

	return &checkpointStore{backend: kv, close: nc.Close}, nil
}

// natsConnConfig is the nats sink's connection settings under another
// connection name.
func (c *Config) natsConnConfig(log *slog.Logger) natssink.Config {
	nc := c.natsConfig(log)
	nc.Name = "streamd-checkpoints"
	nc.Logger = log.With("checkpoints", "nats")
	return nc
}

// compareMessageIDs orders two Pulsar message ids of one topic.
func compareMessageIDs(a, b string) (int, error) {
	x, err := consumer.ParseMessageID(a)
	if err != nil {
		return 0, err
	}
	y, err := consumer.ParseMessageID(b)
	if err != nil {
		return 0, err
	}
	return x.Compare(y), nil
}

// instanceName names this process in the checkpoints it saves:
// STREAMD_INSTANCE (default the host name) and PID.
func instanceName(c *Config) string {
	return fmt.Sprintf("%s/%d", c.Instance, os.Getpid())
}

// probeCheckpointBucket looks the checkpoint bucket up without creating or
// changing anything, for `check`, and describes what it found.
func probeCheckpointBucket(ctx context.Context, c *Config) (string, error) {
	nc, err := natssink.Connect(c.natsConnConfig(newLogger(os.Stderr, "json", "error")))
	if err != nil {
		return "", err
	}

	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return "", err
	}

	kv, err := js.KeyValue(ctx, c.CheckpointBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Sprintf(": missing; run creates it with %d replicas", c.CheckpointReplicas), nil
	}

	if err != nil {
		return "", fmt.Errorf("look up bucket: %w", err)
	}

	st, err := kv.Status(ctx)
	if err != nil {
		return "", fmt.Errorf("read bucket status: %w", err)
	}

	replicas := 0
	if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
		replicas = bs.StreamInfo().Config.Replicas
	}

	return fmt.Sprintf(": exists, %d replicas, %d stored values", replicas, st.Values()), nil
}
