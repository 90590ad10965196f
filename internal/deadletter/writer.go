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
	"os"
	"path/filepath"
	"time"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("dead-letter writer closed")

// Writer appends Records to a file, one JSON object per line. It is safe for
// concurrent use. A line torn by a crash or a failed write is followed by a
// newline before the next record, so it spoils only itself: readers should
// skip lines that are not valid JSON.
type Writer struct {
	path string
	now  func() time.Time
	sem  chan struct{} // holds f; a token means free
	f    *os.File      // nil once closed
	torn bool          // the file may not end with '\n'
}

// Open opens path for appending, creating it (mode 0o600) and its parent
// directory (mode 0o700) if needed.
func Open(path string) (*Writer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create dead-letter dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open dead-letter file: %w", err)
	}
	torn, err := endsTorn(path)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("check dead-letter file: %w", err)
	}
	w := &Writer{path: path, now: time.Now, sem: make(chan struct{}, 1), f: f, torn: torn}
	w.sem <- struct{}{}
	return w, nil
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
	if w.f == nil {
		return fmt.Errorf("write dead letter: %w", ErrClosed)
	}
	if w.torn {
		line = append([]byte{'\n'}, line...)
	}
	if _, err := w.f.Write(line); err != nil {
		w.torn = true
		return fmt.Errorf("write dead letter: %w", err)
	}
	w.torn = false
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync dead-letter file: %w", err)
	}
	return nil
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
