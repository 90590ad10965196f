// Package checkpoint persists, per topic, the message ID up to which a
// reader has delivered every event, so that a restart resumes there. Two
// Backends: Store keeps one file per key in a local directory, crash-safe
// (temp file, fsync, rename, fsync of the directory) with a checksum in
// every file, so a torn or edited file is reported as corrupt instead of
// being read as a wrong position; KV keeps them in a NATS JetStream
// key-value bucket, written by compare-and-set so that processes sharing a
// key never move it backwards. Tracker decides when to write.
package checkpoint

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrCorrupt is wrapped by Load errors for files that exist but cannot be
// trusted: truncated, not JSON, bad checksum, or written for another key.
var ErrCorrupt = errors.New("checkpoint: corrupt")

const (
	fileExt   = ".ckpt"
	tmpMarker = ".tmp-"
	version   = 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Store keeps one file per key in a directory. Different keys may be saved
// and loaded concurrently; saves of one key must not overlap (Tracker
// serialises them). One process should own a directory: Open removes
// temporary files left by an interrupted Save.
type Store struct {
	dir string
	now func() time.Time
}

var _ Backend = (*Store)(nil)

// file is the on-disk content. Checksum is CRC-32C (hex) of the other fields,
// see sum.
type file struct {
	Version   int       `json:"version"`
	Key       string    `json:"key"`
	MessageID string    `json:"messageId"`
	SavedAt   time.Time `json:"savedAt"`
	Checksum  string    `json:"checksum"`
}

func (f *file) sum() string {
	s := fmt.Sprintf("%d\x00%s\x00%s\x00%s", f.Version, f.Key, f.MessageID, f.SavedAt.Format(time.RFC3339Nano))
	return fmt.Sprintf("%08x", crc32.Checksum([]byte(s), crcTable))
}

// Open creates dir (mode 0o700) if needed and removes stale temporary files.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create checkpoint dir: %w", err)
	}

	stale, err := filepath.Glob(filepath.Join(dir, "*"+fileExt+tmpMarker+"*"))
	if err != nil {
		return nil, fmt.Errorf("list checkpoint dir: %w", err)
	}

	for _, p := range stale {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove stale checkpoint temp file: %w", err)
		}
	}

	return &Store{
		dir: dir,
		now: time.Now,
	}, nil
}

// Path returns the file that holds key: the key with characters other than
// [A-Za-z0-9._-] replaced by '_' (at most 80 of them), a '-', 16 hex digits
// of its SHA-256, and ".ckpt". The exact key is stored inside and checked.
func (s *Store) Path(key string) string {
	return filepath.Join(s.dir, safeName(key, true)+fileExt)
}

// safeName is key with characters other than [A-Za-z0-9_-] (and '.' when
// dots is set) replaced by '_', cut to 80 bytes, then '-' and 16 hex digits
// of the key's SHA-256, which keeps distinct keys apart.
func safeName(key string, dots bool) string {
	var b strings.Builder
	for _, r := range key {
		if b.Len() >= 80 {
			break
		}

		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', dots && r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}

	h := sha256.Sum256([]byte(key))
	return b.String() + "-" + hex.EncodeToString(h[:8])
}

// Load returns the saved message ID for key. A missing file gives ok=false
// and a nil error; an untrustworthy file gives an error wrapping ErrCorrupt
// that names the file. File I/O cannot be interrupted: ctx is checked once,
// before it starts.
func (s *Store) Load(ctx context.Context, key string) (id string, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return "", false, fmt.Errorf("read checkpoint %q: %w", key, err)
	}

	p := s.Path(key)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}

	if err != nil {
		return "", false, fmt.Errorf("read checkpoint %q: %w", key, err)
	}

	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return "", false, fmt.Errorf("%w: %s: %v", ErrCorrupt, p, err)
	}

	switch {
	case f.Checksum != f.sum():
		return "", false, fmt.Errorf("%w: %s: checksum mismatch", ErrCorrupt, p)
	case f.Version != version:
		return "", false, fmt.Errorf("%w: %s: unknown version %d", ErrCorrupt, p, f.Version)
	case f.Key != key:
		return "", false, fmt.Errorf("%w: %s: written for key %q", ErrCorrupt, p, f.Key)
	case f.MessageID == "":
		return "", false, fmt.Errorf("%w: %s: empty message id", ErrCorrupt, p)
	}

	return f.MessageID, true, nil
}

// Save durably records id as the position of key: when it returns nil the
// file holds either id, and survives a crash or power loss. Like Load, it
// checks ctx once, before it starts.
func (s *Store) Save(ctx context.Context, key, id string) error {
	if key == "" || id == "" {
		return fmt.Errorf("save checkpoint %q: empty key or message id", key)
	}

	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save checkpoint %q: %w", key, err)
	}

	f := file{
		Version:   version,
		Key:       key,
		MessageID: id,
		SavedAt:   s.now().UTC().Round(0),
	}
	f.Checksum = f.sum()
	data, err := json.Marshal(&f)
	if err != nil {
		return fmt.Errorf("encode checkpoint %q: %w", key, err)
	}

	data = append(data, '\n')
	if err := writeFileSync(s.Path(key), data); err != nil {
		return fmt.Errorf("save checkpoint %q: %w", key, err)
	}

	return nil
}

// writeFileSync replaces path atomically with data: temp file in the same
// directory, fsync, rename, fsync of the directory.
func writeFileSync(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+tmpMarker+"*")
	if err != nil {
		return err
	}

	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()

	if _, err = tmp.Write(data); err != nil {
		return err
	}

	if err = tmp.Sync(); err != nil {
		return err
	}

	if err = tmp.Close(); err != nil {
		return err
	}

	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}

	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return err
	}
	return d.Close()
}
