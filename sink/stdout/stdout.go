// Package stdout is the sink that writes events as JSON lines to standard
// output (or any io.Writer).
//
// Delivery guarantee: Write returns nil once the whole batch was handed to
// the writer in a single Write call; for an *os.File that means the bytes
// are in the kernel (write(2) returned). No fsync is done: stdout is
// normally a pipe, terminal or journald, where fsync means nothing, and an
// operator who wants durable files uses the file sink and its fsync policy.
// When stdout is a pipe, events that were accepted can still be lost if the
// reading process dies before consuming them; when it is a redirected
// regular file they survive a crash of streamd but not a power loss.
package stdout

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/streamd/streamd/sink"
)

var _ sink.Sink = (*Sink)(nil)

// maxKeep is the largest buffer kept between writes; bigger ones are
// dropped after use so that one huge batch does not pin memory.
const maxKeep = 4 << 20

// Sink writes JSON lines in one format to a writer. It is safe for
// concurrent use; batches never interleave.
type Sink struct {
	mu     sync.Mutex
	w      io.Writer
	format sink.Format
	buf    []byte
	torn   bool // the previous write ended mid-line
	closed bool
}

// New returns a Sink writing lines in format f to w.
func New(w io.Writer, f sink.Format) *Sink {
	return &Sink{
		w:      w,
		format: f,
	}
}

// Write renders the batch into one buffer and writes it with a single Write
// call. ctx is checked before writing; a write blocked by a stalled reader
// cannot be interrupted. If a failed write left a partial line, the next
// batch starts with a newline so that the torn line is not merged with a
// complete one.
func (s *Sink) Write(ctx context.Context, batch []*sink.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.closed {
		return sink.ErrClosed
	}

	if err := ctx.Err(); err != nil {
		return err
	}

	buf := s.buf[:0]
	if s.torn {
		buf = append(buf, '\n')
	}

	for _, e := range batch {
		buf = sink.AppendLine(buf, s.format, e)
	}

	n, err := s.w.Write(buf)
	if err == nil && n < len(buf) {
		err = io.ErrShortWrite
	}

	if err != nil {
		if n > 0 {
			s.torn = n < len(buf) && buf[n-1] != '\n'
		}
		err = fmt.Errorf("write stdout: %w", err)
	} else {
		s.torn = false
	}

	if cap(buf) <= maxKeep {
		s.buf = buf
	} else {
		s.buf = nil
	}

	return err
}

// Close makes further writes fail with sink.ErrClosed. It does not close
// the underlying writer. Idempotent.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}
