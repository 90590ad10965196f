// Package deadletter appends messages that streamd cannot deliver (undecodable
// frames, events every sink rejects permanently) to a JSON-lines file, so the
// message can be acked without being lost.
package deadletter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/reconnect"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("deadletter: writer closed")

// Writer appends Records to a file, one JSON object per line. It is safe for
// concurrent use. A line torn by a crash or a failed write is followed by a
// newline before the next record, so it spoils only itself: readers should
// skip lines that are not valid JSON.
//
// Before and after each record the Writer checks (one stat(2) each) that
// its path still names the open file; if the file or its directory was removed, renamed or
// replaced, it creates both again (as Open does) and writes there, so a
// record is never "durable" in a file nobody can read. If that fails, Write
// fails with an error naming the path.
type Writer struct {
	path string
	opts Options
	now  func() time.Time
	sem  chan struct{} // holds f; a token means free
	f    *os.File      // nil once closed
	id   os.FileInfo   // f's identity (device and inode) when it was opened
	torn bool          // the file may not end with '\n'

	closed   bool
	failures int // consecutive failed writes, for WriteRetry's backoff and logs

	write func(f *os.File, b []byte) (int, error) // seam for tests
}

// Options are the optional collaborators of a Writer.
type Options struct {
	// Health, when set, gets a part named HealthPart: not ready, with the
	// error naming the path, while records cannot be written.
	Health *health.State
	// Logger receives recreation notices and WriteRetry's failures; nil
	// discards.
	Logger *slog.Logger
	// Retry is the backoff of WriteRetry (one policy for every retry in
	// streamd; see reconnect.Policy). Zero fields default to RetryMin and
	// RetryMax.
	Retry reconnect.Policy
}

// HealthPart is the name of the Writer's health part.
const HealthPart = "dead-letter"

// Default backoff bounds of WriteRetry.
const (
	RetryMin = 100 * time.Millisecond
	RetryMax = 30 * time.Second
)

// Open opens path for appending, creating it (mode 0o600) and its parent
// directory (mode 0o700) if needed.
func Open(path string) (*Writer, error) {
	return OpenWith(path, Options{})
}

// OpenWith is Open with options.
func OpenWith(path string, opts Options) (*Writer, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}

	if opts.Retry.Min <= 0 {
		opts.Retry.Min = RetryMin
	}

	if opts.Retry.Max <= 0 {
		opts.Retry.Max = RetryMax
	}

	w := &Writer{
		path:  path,
		opts:  opts,
		now:   time.Now,
		sem:   make(chan struct{}, 1),
		write: (*os.File).Write,
	}
	if err := w.open(); err != nil {
		return nil, err
	}

	opts.Health.Set(HealthPart, true, "")
	w.sem <- struct{}{}

	return w, nil
}

// open creates the directory and opens the file. The caller holds w.sem.
func (w *Writer) open() error {
	if err := os.MkdirAll(filepath.Dir(w.path), 0o700); err != nil {
		return fmt.Errorf("create dead-letter dir: %w", err)
	}

	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open dead-letter file: %w", err)
	}

	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("stat dead-letter file %s: %w", w.path, err)
	}

	torn, err := endsTorn(w.path)
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("check dead-letter file %s: %w", w.path, err)
	}

	w.f, w.id, w.torn = f, fi, torn

	return nil
}

// ensureOpen reopens the file when its path no longer names it (removed,
// renamed or replaced, or the directory removed). The caller holds w.sem.
func (w *Writer) ensureOpen() error {
	if w.f != nil {
		fi, err := os.Stat(w.path)
		if err == nil && os.SameFile(fi, w.id) {
			return nil
		}
		w.opts.Logger.Warn("dead-letter path no longer names the open file; recreating it", "path", w.path)
		_ = w.f.Close() // abandoned: records written to it were fsynced before
		w.f = nil
	}

	if err := w.open(); err != nil {
		return fmt.Errorf("recreate dead-letter file %s: %w", w.path, err)
	}

	return nil
}

// endsTorn reports whether the file is non-empty and lacks a final newline.
func endsTorn(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}

	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return false, err
	}

	last := make([]byte, 1)
	if _, err := f.ReadAt(last, st.Size()-1); err != nil && err != io.EOF {
		return false, err
	}

	return last[0] != '\n', nil
}

// Write appends r as one line and fsyncs the file before returning, so the
// message may be acked once it returns nil. A zero r.Time is set to now.
// A done ctx, checked first, or while waiting for other writers, fails the
// Write; once the write has started ctx is not consulted.
func (w *Writer) Write(ctx context.Context, r Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write dead letter: %w", err)
	}

	if r.Time.IsZero() {
		r.Time = w.now()
	}

	line, err := encode(r)
	if err != nil {
		return fmt.Errorf("encode dead letter: %w", err)
	}

	select {
	case <-w.sem:
	case <-ctx.Done():
		return fmt.Errorf("write dead letter: %w", ctx.Err())
	}

	defer func() { w.sem <- struct{}{} }()

	if w.closed {
		return fmt.Errorf("write dead letter: %w", ErrClosed)
	}

	err = w.writeLocked(line)
	w.report(err)

	return err
}

// writeLocked appends line to the file and fsyncs it. The caller holds w.sem.
func (w *Writer) writeLocked(line []byte) error {
	if err := w.ensureOpen(); err != nil {
		return err
	}

	if w.torn {
		line = append([]byte{'\n'}, line...)
	}

	if _, err := w.write(w.f, line); err != nil {
		w.torn = true
		return fmt.Errorf("write dead letter %s: %w", w.path, err)
	}

	w.torn = false
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync dead-letter file %s: %w", w.path, err)
	}

	return w.stillNamed()
}

// stillNamed fails the record just written if the path stopped naming the
// file meanwhile (removed or replaced after ensureOpen's check, during the
// write): the record is then in a file nobody reads. The file is abandoned
// and a retry writes the record into the file at the path (ensureOpen).
func (w *Writer) stillNamed() error {
	fi, err := os.Stat(w.path)
	if err == nil && os.SameFile(fi, w.id) {
		return nil
	}
	w.opts.Logger.Warn("dead-letter path removed or replaced during a write; the record is written again", "path", w.path)
	_ = w.f.Close()
	w.f = nil
	return fmt.Errorf("write dead letter %s: %w", w.path, errRemoved)
}

// errRemoved: the path stopped naming the file while a record was written.
var errRemoved = errors.New("the file was removed or replaced during the write")

// report updates the health part and the failure streak after a write. The
// caller holds w.sem.
func (w *Writer) report(err error) {
	if err == nil {
		if w.failures > 0 {
			w.opts.Logger.Info("dead-letter file writable again", "path", w.path, "failed_attempts", w.failures)
			w.opts.Health.Set(HealthPart, true, "")
		}
		w.failures = 0
		return
	}
	w.failures++
	w.opts.Health.Set(HealthPart, false, err.Error())
}

func encode(r Record) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep frames readable: no \u003c for '<'
	if err := enc.Encode(r.wire()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil // Encode appends the '\n'
}

// Close closes the file. Later Writes return ErrClosed; Close is idempotent.
func (w *Writer) Close() error {
	<-w.sem
	defer func() { w.sem <- struct{}{} }()

	if w.closed {
		return nil
	}

	w.closed = true
	if w.f == nil {
		return nil
	}

	err := w.f.Close()
	w.f = nil

	if err != nil {
		return fmt.Errorf("close dead-letter file: %w", err)
	}

	return nil
}
