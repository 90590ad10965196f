package file

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// syncLoop fsyncs the file every FsyncInterval while it has unsynced data.
func (s *Sink) syncLoop() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.FsyncInterval)
	defer t.Stop()

	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}

		s.mu.Lock()
		f, dirty, fsync := s.f, s.dirty, s.fsync
		s.dirty = false
		s.mu.Unlock()

		if !dirty || f == nil {
			continue
		}

		// Synced outside the lock so that writers are not held up; a
		// concurrent rotation or reopen fsyncs before closing, so a
		// "file already closed" error loses nothing.
		if err := fsync(f); err != nil && !errors.Is(err, os.ErrClosed) {
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
		if e := s.fsync(s.f); e != nil {
			err = fmt.Errorf("fsync %s: %w", s.cfg.Path, e)
		}
	}

	if e := s.f.Close(); e != nil && err == nil {
		err = fmt.Errorf("close %s: %w", s.cfg.Path, e)
	}

	s.f, s.dirty = nil, false

	return err
}
