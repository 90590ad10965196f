package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sinkEnv maps a bench sink name to STREAMD_SINKS.
var sinkEnv = map[string]string{"stdout": "stdout", "file": "file", "nats": "nats", "jetstream": "nats"}

// child is one client process of a run.
type child struct {
	cmd     *exec.Cmd
	stderr  string // log file
	started time.Time
	exited  chan struct{}
	waitErr error
}

// usage is what the kernel says the child cost.
type usage struct {
	cpu      time.Duration // user + system
	rssKiB   int64         // peak resident set
	syscalls int64         // read- and write-like syscalls (/proc/<pid>/io syscr + syscw), before SIGTERM
	wakeups  int64         // voluntary context switches of all threads (rusage ru_nvcsw): a thread slept and was woken
}

// baseEnv is the bench's environment without any STREAMD_ variable.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STREAMD_") {
			env = append(env, kv)
		}
	}
	return env
}

// referenceCmd builds the reference client reading tenant's event-v1/all.
func (b *bench) referenceCmd(tenant string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	url := b.emu.url + "/ws/v2/reader/persistent/" + tenant + "/event-v1/all?messageId=earliest&receiverQueueSize=1000"
	cmd := exec.Command(self, refMode, "-url", url)
	cmd.Env = append(baseEnv(), "BENCH_API_KEY="+benchKey)
	return cmd, nil
}

// streamdCmd builds `streamd run` for a sink set ("file+jetstream").
func (b *bench) streamdCmd(tenant, set, dir, natsURL string) *exec.Cmd {
	var sinks []string
	js := false
	for _, s := range strings.Split(set, "+") {
		sinks = append(sinks, sinkEnv[s])
		js = js || s == "jetstream"
	}

	cmd := exec.Command(b.streamd, "run")
	cmd.Env = append(baseEnv(),
		"STREAMD_ENDPOINT="+b.emu.url,
		"STREAMD_TENANT="+tenant,
		"STREAMD_API_KEY="+benchKey,
		"STREAMD_START=earliest",
		"STREAMD_SINKS="+strings.Join(sinks, ","),
		"STREAMD_HTTP_ADDR=",
		"STREAMD_STATE_DIR="+filepath.Join(dir, "state"),
		"STREAMD_LOG_LEVEL=warn",
		"STREAMD_LOG_FORMAT=json",
		"STREAMD_FILE_PATH="+filepath.Join(dir, "events.jsonl"),
		"STREAMD_FILE_FSYNC="+b.o.fsync,
		"STREAMD_NATS_URL="+natsURL,
	)

	if js {
		cmd.Env = append(cmd.Env, "STREAMD_NATS_JETSTREAM=true", "STREAMD_NATS_STREAM=BENCH")
	}

	return cmd
}

// start runs cmd with stdout discarded and stderr logged in dir.
func startChild(cmd *exec.Cmd, dir string) (*child, error) {
	c := &child{
		cmd:    cmd,
		stderr: filepath.Join(dir, "stderr.log"),
		exited: make(chan struct{}),
	}
	f, err := os.Create(c.stderr)
	if err != nil {
		return nil, fmt.Errorf("create child log: %w", err)
	}

	cmd.Stdout = nil // /dev/null
	cmd.Stderr = f
	c.started = time.Now()

	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", filepath.Base(cmd.Path), err)
	}

	go func() {
		c.waitErr = cmd.Wait()
		f.Close()
		close(c.exited)
	}()

	return c, nil
}

// stop sends SIGTERM, waits for a graceful exit (SIGKILL after timeout) and
// returns the child's resource usage.
//
// Peak RSS is VmHWM from /proc/<pid>/status read just before SIGTERM, not
// rusage's ru_maxrss: Go starts children with vfork semantics, so at exec
// Linux folds the parent's high-water RSS (the bench holds every
// pre-published frame) into the child's ru_maxrss.
func (c *child) stop(timeout time.Duration) (usage, error) {
	var hwm, sys int64
	select {
	case <-c.exited:
	default:
		hwm = vmHWM(c.cmd.Process.Pid)
		sys = ioSyscalls(c.cmd.Process.Pid)
		_ = c.cmd.Process.Signal(syscall.SIGTERM)

		select {
		case <-c.exited:
		case <-time.After(timeout):
			_ = c.cmd.Process.Kill()
			<-c.exited
			return usage{}, fmt.Errorf("child did not stop within %s: %s", timeout, c.tail())
		}
	}

	ps := c.cmd.ProcessState
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return usage{}, errors.New("no rusage for child")
	}

	u := usage{
		cpu:      time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		rssKiB:   hwm,
		syscalls: sys,
		wakeups:  ru.Nvcsw,
	}

	if hwm == 0 {
		u.rssKiB = ru.Maxrss // exited by itself; an upper bound
	}

	if !ps.Success() {
		return u, fmt.Errorf("child exited with %v: %s", c.waitErr, c.tail())
	}

	return u, nil
}

// wait blocks until done closes, the child exits early, or the timeout.
func (c *child) wait(ctx context.Context, done <-chan struct{}, timeout time.Duration, progress func() string) error {
	t := time.NewTimer(timeout)
	defer t.Stop()

	select {
	case <-done:
		return nil
	case <-c.exited:
		return fmt.Errorf("child exited early (%v): %s", c.waitErr, c.tail())
	case <-t.C:
		return fmt.Errorf("run timed out after %s (%s): %s", timeout, progress(), c.tail())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tail returns the end of the child's stderr.
func (c *child) tail() string {
	b, _ := os.ReadFile(c.stderr)
	b = bytes.TrimSpace(b)
	if len(b) > 600 {
		b = b[len(b)-600:]
	}
	if len(b) == 0 {
		return "(no stderr)"
	}
	return string(b)
}

// vmHWM returns a live process's peak resident set in KiB, or 0.
func vmHWM(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// ioSyscalls returns a live process's count of read- and write-like system
// calls over all its threads so far (syscr + syscw of /proc/<pid>/io:
// read, write, recvfrom, sendto, …; not epoll_wait, futex or fsync), or 0.
func ioSyscalls(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}

	var n int64
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && (k == "syscr" || k == "syscw") {
			x, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			n += x
		}
	}

	return n
}

// onCPU is the on-CPU time of the live child's threads so far
// (/proc/<pid>/task/*/schedstat).
func (c *child) onCPU() time.Duration {
	return sampleProc(context.Background(), c.cmd.Process.Pid, "").cpu
}
