package file

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// errRemoved: the file lost its last name while a batch was written to it.
var errRemoved = errors.New("the file was removed during the write")

// pathCheckInterval is how often ensureOpen also checks, by path, that Path
// still names the open file. In between, one fstat(2) of the open file per
// batch catches every case that would lose events: a file that lost its
// last name (removed, its directory removed, replaced by another file).
const pathCheckInterval = time.Second

// ensureOpen makes sure s.f is open and still the file that Path names, so
// that a batch is never accepted into a file nobody can read any more. The
// caller holds s.mu.
//
// Path no longer names the open file when the file was removed or renamed
// (without a SIGHUP), or its directory was removed or replaced. Then the
// open file is closed and Path opened (created) again; the directory is not
// created, as Open does not create it either. If that fails the error, which
// names Path, fails the batch, so it is not acked and is retried.
//
// Cost: an unlinked file is caught before every batch by one fstat(2) of
// the open file (one system call, no allocation). A rename that leaves the file
// readable under another name is caught by a stat(2) of Path at most
// pathCheckInterval later; the batches in between are in the renamed file.
//
// The size fstat(2) reports replaces the cached one: a file truncated by
// someone else (logrotate's copytruncate) is logged and its real size used
// from then on. A special file (FIFO, device) has no meaningful size and is
// not checked.
func (s *Sink) ensureOpen() error {
	if s.f == nil {
		return s.open()
	}

	size, linked, err := fileState(s.fd)
	now := time.Now()
	if err == nil && linked && now.Sub(s.pathChecked) < pathCheckInterval {
		s.sawSize(size)
		return nil
	}

	s.pathChecked = now
	fi, err := os.Stat(s.cfg.Path)
	if err == nil && os.SameFile(fi, s.id) {
		s.sawSize(fi.Size())
		return nil
	}

	reason := "file replaced"
	if err != nil {
		reason = err.Error()
	}

	return s.reopenLost(reason)
}

// reopenLost closes the open file, which Path no longer names, and opens
// Path again: a regular file is created if missing, a special file (FIFO,
// device) is not, so a removed FIFO fails the batch with an error naming
// Path instead of turning into a regular file nobody reads.
func (s *Sink) reopenLost(reason string) error {
	msg := "file sink path no longer names the open file; recreating it"
	if s.special {
		msg = "file sink path no longer names the open special file; reopening it (never creating it)"
	}

	s.log.Warn(msg, "path", s.cfg.Path, "reason", reason)

	if err := s.syncClose(); err != nil {
		s.log.Warn("close the file that was removed or renamed", "path", s.cfg.Path, "error", err)
	}

	if err := s.open(); err != nil {
		if s.special {
			return fmt.Errorf("reopen %s (a special file, not created as a regular file): %w", s.cfg.Path, err)
		}
		return fmt.Errorf("recreate %s: %w", s.cfg.Path, err)
	}

	return nil
}

// sawSize records the size of the open file as the kernel reports it. A size
// below the cached one means the file was truncated by someone else; O_APPEND
// writes already go to its real end, and from now on rotation and undo use
// the real size too.
func (s *Sink) sawSize(size int64) {
	if s.special || size == s.size {
		return
	}
	if size < s.size {
		s.log.Warn("file was truncated by another process (logrotate copytruncate?)",
			"path", s.cfg.Path, "size", size, "expected_size", s.size)
		s.torn = size > 0 && !endsWithNewline(s.cfg.Path, size)
	}
	s.size = size
}

// undoPartial removes the n bytes of a failed write of buf, or marks the file
// torn when they cannot be removed. The file's real size comes from fstat(2),
// never from the cached size: if the file was truncated by someone else since
// the last batch (copytruncate), truncating to the cached size would extend
// it with NUL bytes inside an accepted event's line.
func (s *Sink) undoPartial(n int, buf []byte) {
	if n <= 0 {
		return
	}

	if s.special {
		// A pipe or device cannot be truncated: the fragment was delivered.
		s.torn = buf[n-1] != '\n'
		return
	}

	fi, err := s.f.Stat()
	if err == nil && fi.Size() < s.size {
		s.log.Warn("file was truncated by another process (logrotate copytruncate?)",
			"path", s.cfg.Path, "size", fi.Size(), "expected_size", s.size+int64(n))
	}

	if err == nil && fi.Size() >= int64(n) {
		end := fi.Size() - int64(n)
		if err = s.truncate(s.f, end); err == nil {
			s.size = end
			return
		}
	}

	if fi != nil {
		s.size = fi.Size()
	} else {
		s.size += int64(n)
	}

	s.torn = buf[n-1] != '\n'
	s.log.Warn("partial write could not be undone; next batch starts on a new line", "path", s.cfg.Path)
}
