package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/file"
)

// profileRun runs the streamd pipeline in-process (consumer.Topic →
// sink.Fanout → file sink, envelope, fsync interval, as `streamd run` wires
// it) over the pre-published events and writes cpu.pprof and allocs.pprof
// to the -profile directory. The emulator shares the process, so its
// frames appear in the profiles too: focus on the streamd packages
// (go tool pprof -focus 'streamd/(consumer|sink)' …).
func (b *bench) profileRun(ctx context.Context) error {
	if err := os.MkdirAll(b.o.profile, 0o750); err != nil {
		return fmt.Errorf("make profile dir: %w", err)
	}

	if err := b.emu.waitIdle(ctx); err != nil {
		return err
	}

	dir, err := b.runDir()
	if err != nil {
		return err
	}

	fs, err := file.Open(file.Config{
		Path:   filepath.Join(dir, "events.jsonl"),
		Format: sink.FormatEnvelope,
		Fsync:  file.FsyncInterval,
	})
	if err != nil {
		return fmt.Errorf("open file sink: %w", err)
	}

	fan := sink.NewFanout(sink.FanoutConfig{Targets: []sink.Target{{
		Name: "file",
		Sink: fs,
	}}})
	defer fan.Close(context.Background())
	dl, err := deadletter.Open(filepath.Join(dir, "dead-letter.jsonl"))
	if err != nil {
		return fmt.Errorf("open dead-letter file: %w", err)
	}

	defer dl.Close()
	tr := newFixedTracker(b.flatIdx)
	b.emu.attach(tr)
	defer b.emu.attach(nil)

	cpuFile, err := os.Create(filepath.Join(b.o.profile, "cpu.pprof"))
	if err != nil {
		return fmt.Errorf("create cpu profile: %w", err)
	}

	defer cpuFile.Close()
	runtime.MemProfileRate = 4096
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)

	if err := pprof.StartCPUProfile(cpuFile); err != nil {
		return fmt.Errorf("start cpu profile: %w", err)
	}

	start := time.Now()
	soft, stopSoft := context.WithCancel(ctx)
	defer stopSoft()
	hard, stopHard := context.WithCancel(ctx)
	defer stopHard()
	topic := consumer.NewTopic(consumer.Config{
		Endpoint:   b.emu.url,
		Tenant:     flatTenant,
		Topic:      "all",
		Credential: benchKey,
	}, consumer.Options{
		Sink:       fan,
		DeadLetter: dl,
		Start:      "earliest",
	})

	done := make(chan error, 1)
	go func() { done <- topic.Run(soft, hard) }()

	select {
	case <-tr.done:
	case err := <-done:
		pprof.StopCPUProfile()
		return fmt.Errorf("in-process topic stopped early: %w", err)
	case <-time.After(b.o.timeout):
	}

	stopSoft()
	runErr := <-done
	elapsed := time.Since(start)
	pprof.StopCPUProfile()
	runtime.ReadMemStats(&after)

	if runErr != nil && runErr != context.Canceled {
		return fmt.Errorf("in-process topic: %w", runErr)
	}

	n, _, _, _ := tr.snapshot()
	allocFile, err := os.Create(filepath.Join(b.o.profile, "allocs.pprof"))
	if err != nil {
		return fmt.Errorf("create alloc profile: %w", err)
	}

	defer allocFile.Close()

	if err := pprof.Lookup("allocs").WriteTo(allocFile, 0); err != nil {
		return fmt.Errorf("write alloc profile: %w", err)
	}

	fmt.Fprintf(b.out, "\n## Profile: in-process consumer.Topic → file, %d events in %s (%.0f ev/s, emulator in the same process)\n\n",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())

	fmt.Fprintf(b.out, "process-wide allocations: %.1f per event, %.0f B per event (emulator included)\n",
		float64(after.Mallocs-before.Mallocs)/float64(n), float64(after.TotalAlloc-before.TotalAlloc)/float64(n))

	fmt.Fprintf(b.out, "profiles: %s/cpu.pprof, %s/allocs.pprof\n", b.o.profile, b.o.profile)

	return nil
}
