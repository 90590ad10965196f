package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrUnavailable is wrapped by KV errors that say nothing about the stored
// position: no server answered (within KVConfig.Timeout), or it refused the
// request. Retry later.
var ErrUnavailable = errors.New("checkpoint: store unavailable")

// Defaults applied by OpenKV to zero KVConfig fields.
const (
	DefaultBucket    = "streamd-checkpoints"
	DefaultReplicas  = 1
	DefaultKVTimeout = 5 * time.Second
	kvHistory        = 5 // past values kept per key, for operators
)

// KVConfig configures a KV store. JetStream and Compare are required.
type KVConfig struct {
	// JetStream is the connection's JetStream context. The store does not
	// own the connection.
	JetStream jetstream.JetStream
	// Bucket is the key-value bucket (default DefaultBucket). It is created
	// when missing and never changed when present.
	Bucket string
	// Replicas is the replica count of a bucket this store creates (default
	// DefaultReplicas, 1; use 3 on a three-node cluster).
	Replicas int
	// Compare orders two message ids saved under one key: negative when a
	// comes before b, zero when equal, positive after. It is what keeps a
	// checkpoint from moving backwards when several processes share a key.
	Compare func(a, b string) (int, error)
	// Instance names this process in each saved value ("savedBy"), e.g.
	// the host name; optional.
	Instance string
	// MaxReplay and MaxReplayWindow describe the checkpoint window: how many
	// events, or how long, a process may have delivered past the id it last
	// saved while its saves succeed promptly. A Load that finds a checkpoint
	// reports them (and the checkpoint's age), since a crashed process's
	// successor delivers those events again; a writer whose saves failed or
	// hung (a bucket without a leader) delivered everything since the saved
	// time past it. Optional.
	MaxReplay       int
	MaxReplayWindow time.Duration
	// Timeout bounds each Load and Save, retries included, within the
	// caller's context (default DefaultKVTimeout, 5s).
	Timeout time.Duration
	// Logger receives resumes and skipped saves; nil discards.
	Logger *slog.Logger
}

// KV keeps one message id per key in a NATS JetStream key-value bucket, so
// that a reader started on another host, with an empty state directory,
// resumes where the last one stopped. Every Save is a compare-and-set on
// the key's revision: of two processes saving one key, a save whose id is
// not after the stored one leaves the stored one in place, so a checkpoint
// only ever moves forward. Safe for concurrent use.
type KV struct {
	kv  jetstream.KeyValue
	cfg KVConfig
	log *slog.Logger
	now func() time.Time
}

var _ Backend = (*KV)(nil)

// kvValue is the JSON stored under a key.
type kvValue struct {
	Version   int       `json:"version"`
	Key       string    `json:"key"`
	MessageID string    `json:"messageId"`
	SavedAt   time.Time `json:"savedAt"`
	SavedBy   string    `json:"savedBy,omitempty"`
}

// OpenKV binds to cfg.Bucket, creating it (file storage, cfg.Replicas
// replicas, 5 values of history) when it does not exist. A bucket that
// exists is used as it is, whatever its settings. ctx bounds the JetStream
// API calls; a server that is not reachable makes OpenKV fail.
func OpenKV(ctx context.Context, cfg KVConfig) (*KV, error) {
	if cfg.JetStream == nil || cfg.Compare == nil {
		return nil, errors.New("open checkpoint bucket: JetStream and Compare are required")
	}

	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}

	if cfg.Replicas <= 0 {
		cfg.Replicas = DefaultReplicas
	}

	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultKVTimeout
	}

	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	kv, err := bindBucket(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint bucket %q: %w", cfg.Bucket, err)
	}

	return &KV{
		kv:  kv,
		cfg: cfg,
		log: cfg.Logger,
		now: time.Now,
	}, nil
}

// bindBucket looks the bucket up and creates it only when it is missing.
// CreateKeyValue never changes an existing bucket: with other settings it
// fails with ErrBucketExists (another process won the race), and the bucket
// is then looked up again.
func bindBucket(ctx context.Context, cfg KVConfig) (jetstream.KeyValue, error) {
	js := cfg.JetStream
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return kv, err
	}

	kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "streamd reader checkpoints",
		History:     kvHistory,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})

	if errors.Is(err, jetstream.ErrBucketExists) {
		return js.KeyValue(ctx, cfg.Bucket)
	}

	if err == nil {
		cfg.Logger.Info("created checkpoint bucket", "bucket", cfg.Bucket, "replicas", cfg.Replicas)
	}

	return kv, err
}

// Bucket returns the bucket's name.
func (s *KV) Bucket() string { return s.cfg.Bucket }

// Load returns the message id saved for key. A missing key gives ok=false
// and a nil error; a value that is not a checkpoint for key gives an error
// wrapping ErrCorrupt; a server that does not answer within the timeout
// (or before ctx ends) gives an error wrapping ErrUnavailable.
func (s *KV) Load(ctx context.Context, key string) (id string, ok bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()

	v, _, err := s.get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", false, nil
	}

	if err != nil {
		return "", false, err
	}

	s.log.Info("resuming from the checkpoint in the bucket; events after it that the last writer "+
		"delivered before it stopped are delivered again: up to max_replay_events while its saves kept up, "+
		"everything it delivered after saved_at if they were failing or slow (its log and "+
		"streamd_checkpoint_age_seconds tell)", "bucket", s.cfg.Bucket, "key", key,
		"message_id", v.MessageID, "saved_at", v.SavedAt, "saved_by", v.SavedBy,
		"checkpoint_age", s.now().Sub(v.SavedAt).Round(time.Millisecond).String(),
		"max_replay_events", s.cfg.MaxReplay, "max_replay_window", s.cfg.MaxReplayWindow.String())

	return v.MessageID, true, nil
}

// get reads and checks the value of key and returns its revision.
func (s *KV) get(ctx context.Context, key string) (kvValue, uint64, error) {
	e, err := s.kv.Get(ctx, kvKey(key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return kvValue{}, 0, err
	}

	if err != nil {
		return kvValue{}, 0, fmt.Errorf("read checkpoint %q from bucket %q: %w: %w", key, s.cfg.Bucket, ErrUnavailable, err)
	}

	var v kvValue
	where := fmt.Sprintf("bucket %q key %q revision %d", s.cfg.Bucket, e.Key(), e.Revision())
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return kvValue{}, 0, fmt.Errorf("%w: %s: %v", ErrCorrupt, where, err)
	}

	switch {
	case v.Version != version:
		return kvValue{}, 0, fmt.Errorf("%w: %s: unknown version %d", ErrCorrupt, where, v.Version)
	case v.Key != key:
		return kvValue{}, 0, fmt.Errorf("%w: %s: written for key %q", ErrCorrupt, where, v.Key)
	case v.MessageID == "":
		return kvValue{}, 0, fmt.Errorf("%w: %s: empty message id", ErrCorrupt, where)
	}

	return v, e.Revision(), nil
}

// Save records id as the position of key unless the bucket already holds
// id or a later one (another process got further; nothing to do). It
// compares against the stored value and writes with that value's revision
// as the expected last revision, so a concurrent write in between makes it
// read and compare again instead of overwriting. When it returns nil the
// bucket holds id or a later id, acknowledged by the server (and, with
// replicas, by a quorum). It gives up when ctx ends or after the timeout.
func (s *KV) Save(ctx context.Context, key, id string) error {
	if key == "" || id == "" {
		return fmt.Errorf("save checkpoint %q: empty key or message id", key)
	}

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()

	data, err := json.Marshal(kvValue{
		Version:   version,
		Key:       key,
		MessageID: id,
		SavedAt:   s.now().UTC().Round(0),
		SavedBy:   s.cfg.Instance,
	})

	if err != nil {
		return fmt.Errorf("encode checkpoint %q: %w", key, err)
	}

	for {
		done, err := s.trySave(ctx, key, id, data)
		if done || err != nil {
			return err
		}
	}
}

// trySave makes one compare-and-set attempt. done=false with a nil error
// means another process wrote the key in between: read it again.
func (s *KV) trySave(ctx context.Context, key, id string, data []byte) (done bool, err error) {
	cur, rev, err := s.get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		_, err = s.kv.Create(ctx, kvKey(key), data)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return false, nil
		}
		return err == nil, s.saveErr(key, err)
	}

	if err != nil {
		return false, fmt.Errorf("save checkpoint %q: %w", key, err)
	}

	c, err := s.cfg.Compare(cur.MessageID, id)
	if err != nil {
		return false, fmt.Errorf("save checkpoint %q: compare with the stored id: %w", key, err)
	}

	if c >= 0 {
		if c > 0 {
			s.log.Debug("checkpoint in bucket is ahead; keeping it", "key", key, "message_id", id,
				"stored_message_id", cur.MessageID, "saved_by", cur.SavedBy)
		}
		return true, nil
	}

	_, err = s.kv.Update(ctx, kvKey(key), data, rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return false, nil
	}

	return err == nil, s.saveErr(key, err)
}

func (s *KV) saveErr(key string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("save checkpoint %q to bucket %q: %w: %w", key, s.cfg.Bucket, ErrUnavailable, err)
}

// kvKeyRe is what a KV key may hold (nats.go's rule, minus '=' and '.'
// kept out so that a key is never split into empty subject tokens).
var kvKeyRe = regexp.MustCompile(`^[-/_A-Za-z0-9]+$`)

// kvKey maps a checkpoint key to a bucket key: the key itself when it only
// holds [-/_A-Za-z0-9] (e.g. "acme/event-v1/all", readable with `nats kv
// get`), else the sanitised name of Store.Path, which carries a hash.
func kvKey(key string) string {
	if kvKeyRe.MatchString(key) {
		return key
	}
	return safeName(key, false)
}
