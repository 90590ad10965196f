package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/streamd/streamd/internal/natstest"
)

// flatTenant holds the pre-published events every flat-out run reads.
const flatTenant = "bench"

// bench is one invocation: the emulator, the built binary and the results.
type bench struct {
	o         options
	out, errw io.Writer
	dir       string
	emu       *emulator
	streamd   string
	binSize   int64
	flatIdx   map[string]int32
	avgEvent  int
	avgFrame  int
	natsCore  *natstest.Server
	runSerial int
}

// result is one run of one client.
type result struct {
	events     int
	elapsed    time.Duration // first send → last ack
	use        usage
	lat        []time.Duration // sorted
	startFirst time.Duration   // process start → first ack
	benchCPU   time.Duration   // CPU of the bench process (emulator, nats-server) during the run
	// steady is the child's on-CPU time from the first publish to the last
	// ack of a paced run: start-up, connecting and the graceful stop
	// excluded (0 for flat-out runs, where they are amortised).
	steady time.Duration
}

func (r result) rate() float64 { return float64(r.events) / r.elapsed.Seconds() }

// cpuPer100k is CPU seconds per 100k events.
func (r result) cpuPer100k() float64 { return r.use.cpu.Seconds() / float64(r.events) * 1e5 }

func newBench(ctx context.Context, o options, out, errw io.Writer) (*bench, error) {
	dir, err := os.MkdirTemp("", "streamd-bench-")
	if err != nil {
		return nil, fmt.Errorf("make temp dir: %w", err)
	}

	b := &bench{
		o:       o,
		out:     out,
		errw:    errw,
		dir:     dir,
		streamd: o.streamd,
	}
	if b.streamd == "" {
		fmt.Fprintln(errw, "building streamd (CGO_ENABLED=0 go build -trimpath -ldflags='-s -w') …")
		if b.streamd, err = build(ctx, dir); err != nil {
			b.close()
			return nil, err
		}
	}

	fi, err := os.Stat(b.streamd)
	if err != nil {
		b.close()
		return nil, fmt.Errorf("stat streamd: %w", err)
	}

	b.binSize = fi.Size()
	if b.emu, err = startEmulator(); err != nil {
		b.close()
		return nil, err
	}

	return b, nil
}

// build compiles cmd/streamd of the enclosing module, stripped and static.
func build(ctx context.Context, dir string) (string, error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		return "", fmt.Errorf("find the streamd module (run from the repository, or pass -streamd): %v", err)
	}

	out := filepath.Join(dir, "streamd")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/streamd")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build streamd: %w: %s", err, msg)
	}

	return out, nil
}

func (b *bench) close() {
	if b.natsCore != nil {
		b.natsCore.Stop()
	}
	if b.emu != nil {
		_ = b.emu.close()
	}
	_ = os.RemoveAll(b.dir)
}

// all runs every configured mode and prints the report.
func (b *bench) all(ctx context.Context) error {
	b.printMachine()

	for _, m := range b.o.modes {
		var err error
		switch m {
		case "compare":
			err = b.compare(ctx)
		case "idle":
			err = b.idleRun(ctx)
		case "topics":
			err = b.topicsRun(ctx)
		case "soak":
			err = b.soakRun(ctx)
		}

		if err != nil {
			return err
		}
	}

	return nil
}

// compare runs the flat-out and paced measurements against the reference.
func (b *bench) compare(ctx context.Context) error {
	b.prepublish()
	clients := append([]string{"reference"}, b.o.sinks...)
	flat := make(map[string][]result)
	for run := 1; run <= b.o.runs; run++ {
		for _, c := range clients {
			r, err := b.flatRun(ctx, c)
			if err != nil {
				return fmt.Errorf("flat run %d of %s: %w", run, c, err)
			}

			if b.o.verbose {
				fmt.Fprintf(b.errw, "run %d %-16s %s\n", run, c, r.summary())
			}

			flat[c] = append(flat[c], r)
		}
	}

	fmt.Fprintf(b.out, "\n## Flat out: %d pre-published events (size %s, avg event %d B, frame %d B), %d runs, medians\n\n",
		b.o.events, b.o.size, b.avgEvent, b.avgFrame, b.o.runs)

	b.table(clients, flat, true)

	for _, rate := range b.o.rates {
		paced := make(map[string][]result)
		for run := 1; run <= b.o.runs; run++ {
			for _, c := range clients {
				r, err := b.pacedRun(ctx, c, rate)
				if err != nil {
					return fmt.Errorf("paced run %d of %s at %g/s: %w", run, c, rate, err)
				}

				if b.o.verbose {
					fmt.Fprintf(b.errw, "paced %g run %d %-16s %s\n", rate, run, c, r.summary())
				}

				paced[c] = append(paced[c], r)
			}
		}

		fmt.Fprintf(b.out, "\n## Paced: %g events/s for %s (%d events), %d runs, medians\n\n",
			rate, b.o.duration, int(rate*b.o.duration.Seconds()), b.o.runs)

		b.table(clients, paced, false)
	}

	if b.o.profile != "" {
		if err := b.profileRun(ctx); err != nil {
			return err
		}
	}

	return nil
}

func (b *bench) printMachine() {
	fmt.Fprintf(b.out, "# streamd-bench\n\nmachine: %d CPUs (%s), %s %s/%s; streamd binary %.1f MiB (stripped, CGO_ENABLED=0)\n",
		runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH, float64(b.binSize)/(1<<20))
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// prepublish publishes the flat-out events once; every flat run reads them
// from the start with its own reader.
func (b *bench) prepublish() {
	events := genEvents(flatTenant, b.o.size, b.o.events, 1)
	b.flatIdx = make(map[string]int32, len(events))
	total := 0
	for _, ev := range events {
		id := b.emu.srv.Publish(flatTenant+"/event-v1/all", ev)
		b.flatIdx[id] = int32(len(b.flatIdx))
		total += len(ev)
	}
	b.avgEvent = total / len(events)
	// Frame ≈ wrapper (~110 B with id and publishTime) + base64 payload.
	b.avgFrame = 110 + (b.avgEvent+2)/3*4
}

// runDir makes a fresh directory for one run.
func (b *bench) runDir() (string, error) {
	b.runSerial++
	d := filepath.Join(b.dir, fmt.Sprintf("run%03d", b.runSerial))
	if err := os.MkdirAll(filepath.Join(d, "state"), 0o750); err != nil {
		return "", fmt.Errorf("make run dir: %w", err)
	}
	return d, nil
}

// setup prepares the NATS servers a client needs and returns its command
// and a cleanup that also verifies the sinks got every event.
func (b *bench) setup(client, tenant, dir string) (cmd *exec.Cmd, verify func(ctx context.Context, n int) error, cleanup func(), err error) {
	cleanup = func() {}
	verify = func(context.Context, int) error { return nil }
	if client == "reference" {
		cmd, err = b.referenceCmd(tenant)
		return cmd, verify, cleanup, err
	}

	natsURL := "nats://127.0.0.1:1"
	sinks := strings.Split(client, "+")
	var js *natstest.Server
	for _, s := range sinks {
		switch s {
		case "nats":
			if b.natsCore == nil {
				if b.natsCore, err = natstest.New(filepath.Join(b.dir, "nats-core"), nil); err != nil {
					return nil, nil, nil, err
				}
			}
			natsURL = b.natsCore.URL()
		case "jetstream":
			// A fresh server per run: reruns publish the same message ids,
			// which a surviving stream would de-duplicate.
			if js, err = natstest.New(filepath.Join(dir, "jetstream"), nil); err != nil {
				return nil, nil, nil, err
			}
			natsURL = js.URL()
			cleanup = js.Stop
		}
	}

	verify = func(ctx context.Context, n int) error {
		for _, s := range sinks {
			switch s {
			case "file":
				got, err := countLines(filepath.Join(dir, "events.jsonl"))
				if err != nil {
					return err
				}
				if got < n {
					return fmt.Errorf("file sink has %d lines, want %d", got, n)
				}
			case "jetstream":
				got, err := streamMsgs(ctx, js.URL(), "BENCH")
				if err != nil {
					return err
				}
				if got < uint64(n) {
					return fmt.Errorf("stream BENCH has %d messages, want %d", got, n)
				}
			}
		}

		return nil
	}

	return b.streamdCmd(tenant, client, dir, natsURL), verify, cleanup, nil
}

// flatRun lets client read every pre-published event as fast as it can.
func (b *bench) flatRun(ctx context.Context, client string) (result, error) {
	if err := b.emu.waitIdle(ctx); err != nil {
		return result{}, err
	}

	dir, err := b.runDir()
	if err != nil {
		return result{}, err
	}

	cmd, verify, cleanup, err := b.setup(client, flatTenant, dir)
	if err != nil {
		return result{}, err
	}

	defer cleanup()
	tr := newFixedTracker(b.flatIdx)
	b.emu.attach(tr)
	defer b.emu.attach(nil)
	start := b.emu.now()
	cpu0 := selfCPU()
	c, err := startChild(cmd, dir)
	if err != nil {
		return result{}, err
	}

	return finish(ctx, c, tr, len(b.flatIdx), b.o.timeout, start, cpu0, -1, verify)
}

// finish waits until client c acked total events (or timeout), stops it,
// checks the sinks with verify and measures the run; start and cpu0 are the
// emulator clock and the bench's CPU time when the client was started.
// steady0 is the child's on-CPU time when publishing began, or -1 when
// steady-state CPU is not measured.
func finish(ctx context.Context, c *child, tr *tracker, total int, timeout time.Duration,
	start int64, cpu0, steady0 time.Duration, verify func(context.Context, int) error) (result, error) {
	progress := func() string { n, _, _, _ := tr.snapshot(); return fmt.Sprintf("%d of %d acked", n, total) }
	werr := c.wait(ctx, tr.done, timeout, progress)
	var steady time.Duration
	if steady0 >= 0 && werr == nil {
		steady = c.onCPU() - steady0
	}

	benchCPU := selfCPU() - cpu0
	use, serr := c.stop(30 * time.Second)

	if werr != nil {
		return result{}, werr
	}

	if serr != nil {
		return result{}, serr
	}

	n, firstSend, firstAck, lastAck := tr.snapshot()
	if err := verify(ctx, n); err != nil {
		return result{}, err
	}

	return result{
		events:     n,
		elapsed:    time.Duration(lastAck - firstSend),
		use:        use,
		lat:        sorted(tr.latencies()),
		startFirst: time.Duration(firstAck - start),
		benchCPU:   benchCPU,
		steady:     steady,
	}, nil
}

// pacedRun publishes at rate for the configured duration while client
// reads, and waits until it acked everything.
func (b *bench) pacedRun(ctx context.Context, client string, rate float64) (result, error) {
	if err := b.emu.waitIdle(ctx); err != nil {
		return result{}, err
	}

	dir, err := b.runDir()
	if err != nil {
		return result{}, err
	}

	tenant := fmt.Sprintf("paced%03d", b.runSerial)
	total := max(1, int(rate*b.o.duration.Seconds()))
	events := genEvents(tenant, b.o.size, total, int64(b.runSerial))
	cmd, verify, cleanup, err := b.setup(client, tenant, dir)
	if err != nil {
		return result{}, err
	}

	defer cleanup()
	tr := newGrowingTracker(total)
	b.emu.attach(tr)
	defer b.emu.attach(nil)
	start := b.emu.now()
	cpu0 := selfCPU()
	c, err := startChild(cmd, dir)
	if err != nil {
		return result{}, err
	}

	defer func() {
		if c != nil {
			_, _ = c.stop(10 * time.Second)
		}
	}()

	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = b.emu.srv.WaitSessions(wctx, 1)
	cancel()

	if err != nil {
		return result{}, fmt.Errorf("client did not connect: %w: %s", err, c.tail())
	}

	steady0 := c.onCPU()
	if err := publishPaced(ctx, b.emu, tenant+"/event-v1/all", events, rate); err != nil {
		return result{}, err
	}

	tr.setWant(total)
	cc := c
	c = nil // finish stops it

	return finish(ctx, cc, tr, total, min(b.o.timeout, time.Minute), start, cpu0, steady0, verify)
}

// publishPaced publishes events at rate, catching up in small bursts when
// the 1 ms ticker falls behind.
func publishPaced(ctx context.Context, e *emulator, topic string, events [][]byte, rate float64) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	sent := 0
	for sent < len(events) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tick.C:
			due := min(len(events), int(now.Sub(start).Seconds()*rate)+1)
			for ; sent < due; sent++ {
				e.srv.Publish(topic, events[sent])
			}
		}
	}

	return nil
}

// selfCPU is the bench process's CPU time so far (user + system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
