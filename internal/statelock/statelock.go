// Package statelock makes one process the owner of a state directory.
//
// Two daemons on one directory both checkpoint, and the second one's
// checkpoint skips events the first never delivered. Acquire takes an
// exclusive open-file-description lock (fcntl F_OFD_SETLK, Linux ≥ 3.15)
// on FileName in the directory and writes the holder's PID into it. The
// kernel releases the lock when the holder's file is closed, including on
// a crash or kill -9, so a stale lock file never blocks a restart; the PID
// in it is only a hint for the operator.
//
// An OFD lock rather than flock(2) because Probe can test it with
// F_OFD_GETLK without taking it even for a moment: `streamd check` beside a
// starting daemon can never make that daemon fail. (flock and fcntl locks
// are independent on Linux; both are released by the kernel on exit.)
package statelock

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// FileName is the lock file inside the state directory.
const FileName = "streamd.lock"

// HeldError is Acquire finding the directory owned by another process.
type HeldError struct {
	Dir string
	PID int // the holder's PID as it wrote it; 0 when unknown
}

func (e *HeldError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "another process (pid " + strconv.Itoa(e.PID) + ")"
	}
	return fmt.Sprintf("state directory %s is in use by %s holding a lock on %s", e.Dir, holder, FileName)
}

// Lock is an acquired state directory. Release it with Release; exiting
// releases it too.
type Lock struct {
	f *os.File
}

// Acquire creates dir (mode 0700) if needed and locks it for this process.
// It returns a *HeldError when another process holds the lock, and another
// error when the directory or lock file cannot be used.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}

	f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}

	lk := unix.Flock_t{
		Type:   unix.F_WRLCK,
		Whence: io.SeekStart,
	}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		pid := readPID(f)
		_ = f.Close()
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			return nil, &HeldError{
				Dir: dir,
				PID: pid,
			}
		}
		return nil, fmt.Errorf("lock %s: %w", filepath.Join(dir, FileName), err)
	}

	if err := writePID(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write pid to lock file: %w", err)
	}

	return &Lock{f: f}, nil
}

// Release unlocks the directory. The lock file stays. Idempotent.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Probe reports whether another process holds dir's lock, and its PID when
// known, without taking the lock or creating anything: a missing directory
// or lock file is not held.
func Probe(dir string) (held bool, pid int, err error) {
	f, err := os.Open(filepath.Join(dir, FileName))
	if errors.Is(err, os.ErrNotExist) {
		return false, 0, nil
	}

	if err != nil {
		return false, 0, fmt.Errorf("open lock file: %w", err)
	}

	defer f.Close()

	lk := unix.Flock_t{
		Type:   unix.F_WRLCK,
		Whence: io.SeekStart,
	}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return false, 0, fmt.Errorf("test lock %s: %w", f.Name(), err)
	}

	if lk.Type == unix.F_UNLCK {
		return false, 0, nil
	}

	return true, readPID(f), nil
}

// writePID replaces the content of f with this process's PID.
func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// readPID reads the PID a holder wrote; 0 when there is none.
func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
