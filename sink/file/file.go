// Package file is the sink that appends events as JSON lines to a file.
//
// Delivery guarantee, by fsync policy:
//
//   - "always": Write returns nil only after the batch was written and
//     fsynced; an accepted event survives a process crash, a kernel crash and
//     a power loss.
//   - "interval" (default): Write returns nil after write(2); a background
//     loop fsyncs every FsyncInterval. Accepted events survive a crash of
//     streamd (the kernel has them), but up to FsyncInterval of accepted
//     events can be lost on a power loss or kernel crash.
//   - "never": like interval without the loop; the kernel writes the data
//     back when it chooses (typically within ~30s on Linux).
//
// Each batch is one write(2) on a file opened with O_APPEND. A failed write,
// fsync, open or rotation returns an error, so the batch is not acked and is
// retried; the next Write reopens the file if needed, so fixing a full disk
// or a permission problem recovers without a restart. Because a batch can be
// retried after it was partly or wholly written, readers must tolerate
// duplicate lines (at-least-once delivery).
//
// Before each batch the sink checks (one fstat(2)) that the open file still
// has a name. If the file or its directory was removed, or the file replaced
// by another one, it closes the old file and creates Path again before the
// batch is accepted; if that fails (the directory is gone: it is not
// recreated, as Open does not create it) Write returns an error naming Path,
// so nothing is acked and the fan-out shows the sink not ready. Events are
// therefore never accepted into an unlinked file. A file renamed away is
// noticed by a stat(2) of Path at most a second later; until then batches
// go to the renamed file, where they are not lost.
//
// # Log rotation
//
// Prefer logrotate's "create" mode with a SIGHUP to streamd in postrotate
// (the daemon calls Reopen): the file is renamed, streamd fsyncs and closes
// it and creates a fresh one, and no line is lost or split. Without the
// SIGHUP the sink notices the rename within a second and creates the file
// anyway; the lines of that second are at the end of the rotated file.
//
// "copytruncate" also works but is weaker, as with every program: lines
// written between logrotate's copy and its truncate are lost from both
// files (they were already acked). The sink detects the truncation (the
// file's size dropped below what it wrote), logs it, and uses the real size
// from then on; O_APPEND makes every write land at the real end.
//
// Torn lines: if write(2) wrote part of a batch and then failed, the sink
// truncates the file back to its size before that write, computed from the
// file's real size (fstat(2)) minus the bytes written, never from a cached
// size that an external truncation made stale. If that fails too, the next
// batch starts with a newline, so the torn fragment stays on a line of its
// own and never merges with a complete line. The same is done when opening
// a file whose last byte is not a newline (e.g. after a power loss).
//
// # Named pipes and devices
//
// Path may name a FIFO (a pipe into a local collector), a character device
// such as /dev/stdout, or a socket. Such a file has no size, so the checks
// above that rely on one are skipped: no copytruncate detection, no
// rotation by MaxBytes, and a torn write is not undone (the fragment has
// been delivered; the next batch starts on a new line). fsync(2) has
// nothing to sync there, so its EINVAL or ENOTSUP counts as success: an
// event is accepted once write(2) returned. Reopen (SIGHUP) still reopens
// Path. If Path disappears, or names another file, the sink reopens Path
// but never creates it: a removed FIFO makes Write fail with an error
// naming Path (the sink is not ready) until a FIFO is there again, rather
// than silently writing a regular file that no collector reads. Opening a
// FIFO for writing waits until it has a reader, as open(2) does.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/streamd/streamd/sink"
)

var _ sink.Sink = (*Sink)(nil)

// Fsync policies.
const (
	FsyncAlways   = "always"
	FsyncInterval = "interval"
	FsyncNever    = "never"
)

// DefaultFsyncInterval is used when Config.FsyncInterval is zero.
const DefaultFsyncInterval = time.Second

// maxKeep is the largest write buffer kept between batches.
const maxKeep = 4 << 20

// Config configures Open.
type Config struct {
	// Path of the file; it is created (mode 0640) if missing, at Open and
	// whenever it disappears later. Its directory must exist.
	Path   string
	Format sink.Format
	// Fsync is "always", "interval" (the default when empty) or "never".
	Fsync         string
	FsyncInterval time.Duration // default 1s
	// MaxBytes rotates the file before a batch would make it larger than
	// this; 0 disables rotation. A single batch bigger than MaxBytes is
	// written whole to a fresh file.
	MaxBytes int64
	// MaxBackups is how many rotated files (Path.1 … Path.N, newest first)
	// are kept; 0 keeps none (the full file is removed on rotation).
	MaxBackups int
	Logger     *slog.Logger
}

// Sink appends JSON lines to a file. It is safe for concurrent use.
type Sink struct {
	cfg Config
	log *slog.Logger

	mu sync.Mutex
	f  *os.File    // nil until (re)opened after an error
	fd int         // f's descriptor, for fstat(2) without allocating
	id os.FileInfo // f's identity (device and inode) when it was opened
	// pathChecked is when ensureOpen last checked Path by name.
	pathChecked time.Time
	size        int64
	buf         []byte
	torn        bool // the file may end mid-line; start the next batch with '\n'
	dirty       bool // written since the last fsync
	closed      bool
	// special: Path is not a regular file (a FIFO, a character device, a
	// socket), so it has no meaningful size and is never created.
	special bool

	// Seams for tests that need to inject write failures.
	write    func(f *os.File, b []byte) (int, error)
	truncate func(f *os.File, size int64) error
	fsync    func(f *os.File) error

	stop    chan struct{}
	done    chan struct{}
	dirtied chan struct{} // capacity 1: the file became dirty (interval policy)
}

// Open validates cfg, opens the file and, with the interval policy, starts
// the fsync loop. It fails if the file cannot be opened, so a wrong path is
// reported at startup.
func Open(cfg Config) (*Sink, error) {
	switch cfg.Fsync {
	case "":
		cfg.Fsync = FsyncInterval
	case FsyncAlways, FsyncInterval, FsyncNever:
	default:
		return nil, fmt.Errorf("open file sink: unknown fsync policy %q (want always, interval or never)", cfg.Fsync)
	}

	if cfg.Path == "" {
		return nil, errors.New("open file sink: empty path")
	}

	if cfg.FsyncInterval <= 0 {
		cfg.FsyncInterval = DefaultFsyncInterval
	}

	if cfg.MaxBytes < 0 || cfg.MaxBackups < 0 {
		return nil, errors.New("open file sink: negative MaxBytes or MaxBackups")
	}

	s := &Sink{
		cfg:      cfg,
		log:      cfg.Logger,
		write:    (*os.File).Write,
		truncate: (*os.File).Truncate,
		fsync:    (*os.File).Sync,
	}

	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}

	if err := s.open(); err != nil {
		if configClass(err) {
			return nil, sink.ConfigFailure(err)
		}
		return nil, err
	}

	if cfg.Fsync == FsyncInterval {
		s.stop, s.done, s.dirtied = make(chan struct{}), make(chan struct{}), make(chan struct{}, 1)
		go s.syncLoop()
	}

	return s, nil
}

// configClass reports whether opening the file failed for a reason only a
// configuration change can fix: a missing directory, a directory, no
// permission, a read-only file system.
func configClass(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTDIR) ||
		errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.ENAMETOOLONG)
}

// open opens cfg.Path for appending. The caller holds s.mu (or owns s).
// Once Path was found to be a special file it is no longer created: a
// vanished FIFO must not silently become a regular file.
func (s *Sink) open() error {
	flags := os.O_WRONLY | os.O_APPEND
	if !s.special {
		flags |= os.O_CREATE
	}

	f, err := os.OpenFile(s.cfg.Path, flags, 0o640)
	if err != nil {
		return fmt.Errorf("open file sink: %w", err)
	}

	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat %s: %w", s.cfg.Path, err)
	}

	s.f, s.fd, s.id = f, int(f.Fd()), fi
	s.special = !fi.Mode().IsRegular()
	s.pathChecked = time.Now()
	s.size, s.torn = 0, false
	if !s.special {
		s.size = fi.Size()
		s.torn = s.size > 0 && !endsWithNewline(s.cfg.Path, s.size)
	}

	return nil
}

// endsWithNewline reports whether the last byte of the file is '\n'; it
// reports true when that cannot be read, to avoid inventing blank lines.
func endsWithNewline(path string, size int64) bool {
	r, err := os.Open(path)
	if err != nil {
		return true
	}
	defer r.Close()
	var b [1]byte
	if _, err := r.ReadAt(b[:], size-1); err != nil && err != io.EOF {
		return true
	}
	return b[0] == '\n'
}

// Write appends batch as lines with one write(2) and, with the always
// policy, fsyncs before returning. ctx is checked before writing; a write or
// fsync in progress is not interrupted.
func (s *Sink) Write(ctx context.Context, batch []*sink.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.closed {
		return sink.ErrClosed
	}

	if err := ctx.Err(); err != nil {
		return err
	}

	if len(batch) == 0 {
		return nil
	}

	if err := s.ensureOpen(); err != nil {
		return err
	}

	buf := s.buf[:0]
	for _, e := range batch {
		buf = sink.AppendLine(buf, s.cfg.Format, e)
	}

	err := s.writeLocked(buf)

	if cap(buf) <= maxKeep {
		s.buf = buf[:0]
	} else {
		s.buf = nil
	}

	return err
}

// writeLocked writes the rendered lines, rotating first if needed.
func (s *Sink) writeLocked(buf []byte) error {
	if s.cfg.MaxBytes > 0 && !s.special && s.size > 0 && s.size+int64(len(buf)) > s.cfg.MaxBytes {
		if err := s.rotate(); err != nil {
			return err
		}
	}

	if s.torn {
		// One extra write(2) in this rare case keeps the common path simple.
		if _, err := s.write(s.f, []byte{'\n'}); err != nil {
			s.closeFile()
			return fmt.Errorf("write %s: %w", s.cfg.Path, err)
		}
		s.size++
		s.torn = false
	}

	n, err := s.write(s.f, buf)
	if err != nil {
		s.undoPartial(n, buf)
		s.closeFile()
		return fmt.Errorf("write %s: %w", s.cfg.Path, err)
	}

	s.size += int64(n)
	s.torn = false
	if s.cfg.Fsync == FsyncAlways {
		if err := syncErr(s.fsync(s.f), s.special); err != nil {
			s.closeFile()
			return fmt.Errorf("fsync %s: %w", s.cfg.Path, err)
		}
	} else if !s.dirty {
		s.dirty = true
		select {
		case s.dirtied <- struct{}{}: // the fsync loop counts the interval from here
		default:
		}
	}

	return s.stillLinked()
}

// stillLinked fails the batch just written if the file lost its last name
// meanwhile (removed after ensureOpen's check, during the write): the
// batch is then in no file anyone can read. The file is abandoned and the
// retry writes the batch into the file Path names (ensureOpen). One
// fstat(2), no allocation.
func (s *Sink) stillLinked() error {
	if _, linked, err := fileState(s.fd); err != nil || linked {
		return nil // a failing fstat is left to the next batch's check
	}
	s.log.Warn("file sink path removed during a write; writing the batch again", "path", s.cfg.Path)
	s.closeFile()
	return fmt.Errorf("write %s: %w", s.cfg.Path, errRemoved)
}

// closeFile closes the current file after an error, so that the next Write
// reopens the path. Errors are ignored: the file is being abandoned.
func (s *Sink) closeFile() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// Reopen fsyncs and closes the current file and opens Path again; call it
// after an external rename (logrotate, SIGHUP). On error the sink stays
// usable and the next Write retries opening.
func (s *Sink) Reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return sink.ErrClosed
	}
	if err := s.syncClose(); err != nil {
		s.log.Warn("close before reopen", "path", s.cfg.Path, "error", err)
	}
	return s.open()
}

// Close stops the fsync loop, fsyncs (unless the policy is never) and
// closes the file. It is idempotent; ctx is not used, as fsync cannot be
// interrupted.
func (s *Sink) Close(ctx context.Context) error {
	s.mu.Lock()

	if s.closed {
		s.mu.Unlock()
		return nil
	}

	s.closed = true
	s.mu.Unlock()

	if s.stop != nil {
		close(s.stop)
		<-s.done
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	return s.syncClose()
}
