package file

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// syncLoop fsyncs the file FsyncInterval after the first write since the
// last fsync, until stop. It sleeps while nothing is written: an idle sink
// costs no wake-up (a ticker would wake it every interval for nothing).
func (s *Sink) syncLoop() {
	defer close(s.done)
	t := time.NewTimer(s.cfg.FsyncInterval)
	t.Stop()
	defer t.Stop()

	for {
		select {
		case <-s.stop:
			return
		case <-s.dirtied:
		}

		t.Reset(s.cfg.FsyncInterval)
		select {
		case <-s.stop:
			return
		case <-t.C:
		}

		s.mu.Lock()
		f, dirty, fsync, special := s.f, s.dirty, s.fsync, s.special
		s.dirty = false
		s.mu.Unlock()

		if !dirty || f == nil {
			continue
		}

		// Synced outside the lock so that writers are not held up; a
		// concurrent rotation or reopen fsyncs before closing, so a
		// "file already closed" error loses nothing.
		if err := syncErr(fsync(f), special); err != nil && !errors.Is(err, os.ErrClosed) {
			s.log.Error("fsync failed; events written in the last interval may not be durable",
				"path", s.cfg.Path, "error", err)
		}
	}
}

// syncClose fsyncs (unless the policy is never) and closes the file.
func (s *Sink) syncClose() error {
	if s.f == nil {
		return nil
	}

	var err error
	if s.cfg.Fsync != FsyncNever {
		if e := syncErr(s.fsync(s.f), s.special); e != nil {
			err = fmt.Errorf("fsync %s: %w", s.cfg.Path, e)
		}
	}

	if e := s.f.Close(); e != nil && err == nil {
		err = fmt.Errorf("close %s: %w", s.cfg.Path, e)
	}

	s.f, s.dirty = nil, false

	return err
}

// syncErr is err from fsync(2), or nil when f is a special file (a FIFO, a
// character device, a socket) that has nothing to sync: Linux answers
// EINVAL there (fsync(2): "fd is bound to a special file which does not
// support synchronization"), other systems ENOTSUP. Data written to a pipe
// is accepted once write(2) returns.
func syncErr(err error, special bool) error {
	if special && (errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) ||
		errors.Is(err, syscall.EOPNOTSUPP)) {
		return nil
	}
	return err
}
