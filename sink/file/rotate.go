package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// rotate fsyncs and closes the current file, shifts the backups (Path.1 →
// Path.2 …, dropping those beyond MaxBackups), renames Path to Path.1 and
// opens a fresh Path. The caller holds s.mu.
func (s *Sink) rotate() error {
	if err := s.syncClose(); err != nil {
		return fmt.Errorf("rotate %s: %w", s.cfg.Path, err)
	}

	path, keep := s.cfg.Path, s.cfg.MaxBackups
	if keep == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate %s: %w", path, err)
		}
	} else {
		s.removeExtraBackups()

		for i := keep - 1; i >= 1; i-- {
			err := os.Rename(backup(path, i), backup(path, i+1))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("rotate %s: %w", path, err)
			}
		}

		if err := os.Rename(path, backup(path, 1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate %s: %w", path, err)
		}
	}

	s.log.Info("rotated file", "path", path, "backups", keep)

	return s.open()
}

func backup(path string, i int) string { return path + "." + strconv.Itoa(i) }

// removeExtraBackups deletes Path.N for N ≥ MaxBackups (Path.MaxBackups is
// about to be overwritten anyway; larger ones remain when MaxBackups was
// lowered). Errors are logged: they cost disk space, not events.
func (s *Sink) removeExtraBackups() {
	dir, base := filepath.Split(s.cfg.Path)
	entries, _ := os.ReadDir(filepath.Clean(dir + "."))
	for _, e := range entries {
		suffix, ok := strings.CutPrefix(e.Name(), base+".")
		if !ok {
			continue
		}

		n, err := strconv.Atoi(suffix)
		if err != nil || n < s.cfg.MaxBackups || n < 1 || strconv.Itoa(n) != suffix {
			continue
		}

		m := filepath.Join(dir, e.Name())
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("remove old backup", "path", m, "error", err)
		}
	}
}
