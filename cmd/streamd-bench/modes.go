package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"
)

// withHTTP makes a streamd command serve /metrics on a free loopback port
// and returns its URL (go_goroutines comes from there).
func withHTTP(cmd *exec.Cmd) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd.Env = append(cmd.Env, "STREAMD_HTTP_ADDR="+addr)
	return "http://" + addr + "/metrics", nil
}

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// idleRun connects each client to a topic that never gets an event and
// measures what it costs over o.idle after a short settling time: CPU and
// wake-ups (streamd with its default 20 s pings, file sink, /metrics on).
func (b *bench) idleRun(ctx context.Context) error {
	const settle = 2 * time.Second
	fmt.Fprintf(b.out, "\n## Idle: connected, no events, %s (after %s settling)\n\n", b.o.idle, settle)
	w := tabwriter.NewWriter(b.out, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(w, "| client\t CPU ms total\t CPU µs/s\t wakeups\t wakeups/s\t threads\t RSS MiB\t")
	fmt.Fprintln(w, "|---\t---:\t---:\t---:\t---:\t---:\t---:\t")

	for _, client := range []string{"reference", "file"} {
		dir, err := b.runDir()
		if err != nil {
			return err
		}

		tenant := fmt.Sprintf("idle%03d", b.runSerial)
		cmd, _, cleanup, err := b.setup(client, tenant, dir)
		if err != nil {
			return err
		}

		if client != "reference" {
			if _, err := withHTTP(cmd); err != nil {
				return err
			}
		}

		s0, s1, err := b.idleOne(ctx, cmd, dir, settle)
		cleanup()

		if err != nil {
			return fmt.Errorf("idle run of %s: %w", client, err)
		}

		secs := s1.at.Sub(s0.at).Seconds()
		cpu := s1.cpu - s0.cpu
		wake := s1.wakeups - s0.wakeups
		fmt.Fprintf(w, "| %s\t %.1f\t %.0f\t %d\t %.2f\t %d\t %.1f\t\n", clientName(client),
			ms(cpu), float64(cpu.Microseconds())/secs, wake, float64(wake)/secs, s1.threads, float64(s1.rssKiB)/1024)
	}

	return w.Flush()
}

func (b *bench) idleOne(ctx context.Context, cmd *exec.Cmd, dir string, settle time.Duration) (s0, s1 sample, err error) {
	if err := b.emu.waitIdle(ctx); err != nil {
		return s0, s1, err
	}

	c, err := startChild(cmd, dir)
	if err != nil {
		return s0, s1, err
	}

	defer func() { _, _ = c.stop(30 * time.Second) }()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = b.emu.srv.WaitSessions(wctx, 1)
	cancel()

	if err != nil {
		return s0, s1, fmt.Errorf("client did not connect: %w: %s", err, c.tail())
	}

	if err := pause(ctx, settle); err != nil {
		return s0, s1, err
	}

	pid := c.cmd.Process.Pid
	s0 = sampleProc(ctx, pid, "")
	if err := pause(ctx, b.o.idle); err != nil {
		return s0, s1, err
	}

	s1 = sampleProc(ctx, pid, "")
	return s0, s1, nil
}

func clientName(c string) string {
	if c == "reference" {
		return c
	}
	return "streamd → " + c
}

// topicNames returns n topic entries (namespace/topic) of the bench.
func topicNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("event-v1/t%03d", i)
	}
	return out
}

// topicsResult is one many-topics run.
type topicsResult struct {
	topics  int
	events  int
	cpu     time.Duration // on-CPU time from connected to the last ack
	wakeups int64
	end     sample
}

// topicsRun compares one streamd reading o.topics topics at o.topicRate
// each with one streamd reading one topic at the same total rate (file
// sink), o.runs times interleaved.
func (b *bench) topicsRun(ctx context.Context) error {
	total := float64(b.o.topics) * b.o.topicRate
	var one, many []topicsResult
	for run := 1; run <= b.o.runs; run++ {
		for _, n := range []int{1, b.o.topics} {
			r, err := b.topicsOne(ctx, n, total/float64(n))
			if err != nil {
				return fmt.Errorf("many-topics run %d with %d topics: %w", run, n, err)
			}

			if b.o.verbose {
				fmt.Fprintf(b.errw, "topics run %d: %d topics, %d events, %.1f µs CPU/ev, hwm %.1f MiB, %d goroutines\n",
					run, n, r.events, perEventUS(r), float64(r.end.hwmKiB)/1024, r.end.goroutines)
			}

			if n == 1 {
				one = append(one, r)
			} else {
				many = append(many, r)
			}
		}
	}

	b.topicsTable(one, many, total)

	return nil
}

func perEventUS(r topicsResult) float64 {
	return float64(r.cpu.Microseconds()) / float64(r.events)
}

func (b *bench) topicsOne(ctx context.Context, n int, rate float64) (topicsResult, error) {
	if err := b.emu.waitIdle(ctx); err != nil {
		return topicsResult{}, err
	}

	dir, err := b.runDir()
	if err != nil {
		return topicsResult{}, err
	}

	tenant := fmt.Sprintf("topics%03d", b.runSerial)
	cmd, _, cleanup, err := b.setup("file", tenant, dir)
	if err != nil {
		return topicsResult{}, err
	}

	defer cleanup()
	names := topicNames(n)
	cmd.Env = append(cmd.Env, "STREAMD_TOPICS="+strings.Join(names, ","))
	murl, err := withHTTP(cmd)
	if err != nil {
		return topicsResult{}, err
	}

	c, err := startChild(cmd, dir)
	if err != nil {
		return topicsResult{}, err
	}

	defer func() { _, _ = c.stop(30 * time.Second) }()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = b.emu.srv.WaitSessions(wctx, n)
	cancel()

	if err != nil {
		return topicsResult{}, fmt.Errorf("client did not connect: %w: %s", err, c.tail())
	}

	per := max(1, int(rate*b.o.duration.Seconds()))
	pool := genEvents(tenant, b.o.size, min(per*n, 20000), int64(b.runSerial))
	acks0 := b.emu.srv.Stats().AcksReceived
	pid := c.cmd.Process.Pid
	s0 := sampleProc(ctx, pid, "")
	topics := make([]string, n)
	for i, name := range names {
		topics[i] = tenant + "/" + name
	}

	if err := publishTopics(ctx, b.emu, topics, pool, per, rate); err != nil {
		return topicsResult{}, err
	}

	want := per * n
	deadline := time.Now().Add(time.Minute)
	for b.emu.srv.Stats().AcksReceived-acks0 < want {
		if time.Now().After(deadline) {
			return topicsResult{}, fmt.Errorf("%d of %d acked after a minute: %s", b.emu.srv.Stats().AcksReceived-acks0, want, c.tail())
		}
		if err := pause(ctx, 20*time.Millisecond); err != nil {
			return topicsResult{}, err
		}
	}

	s1 := sampleProc(ctx, pid, murl)
	return topicsResult{
		topics:  n,
		events:  want,
		cpu:     s1.cpu - s0.cpu,
		wakeups: s1.wakeups - s0.wakeups,
		end:     s1,
	}, nil
}

// publishTopics publishes per events to each topic at rate per topic,
// cycling through pool, on a 1 ms ticker.
func publishTopics(ctx context.Context, e *emulator, topics []string, pool [][]byte, per int, rate float64) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	sent, k := 0, 0
	for sent < per {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tick.C:
			due := min(per, int(now.Sub(start).Seconds()*rate)+1)
			for ; sent < due; sent++ {
				for _, t := range topics {
					e.srv.Publish(t, pool[k%len(pool)])
					k++
				}
			}
		}
	}

	return nil
}

func (b *bench) topicsTable(one, many []topicsResult, total float64) {
	fmt.Fprintf(b.out, "\n## Many topics: %d topics × %g ev/s vs 1 topic × %g ev/s, file sink, %s, %d runs, medians\n\n",
		b.o.topics, b.o.topicRate, total, b.o.duration, b.o.runs)

	w := tabwriter.NewWriter(b.out, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(w, "| streamd\t events\t µs CPU/ev\t ×1 topic\t wakeups/ev\t peak RSS MiB\t goroutines\t threads\t fds\t")
	fmt.Fprintln(w, "|---\t---:\t---:\t---:\t---:\t---:\t---:\t---:\t---:\t")
	row := func(name string, rs []topicsResult, ratio float64) {
		m := func(f func(topicsResult) float64) float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			return median(v)
		}

		fmt.Fprintf(w, "| %s\t %.0f\t %.1f\t %.2f\t %.2f\t %.1f\t %.0f\t %.0f\t %.0f\t\n", name,
			m(func(r topicsResult) float64 { return float64(r.events) }), m(perEventUS), ratio,
			m(func(r topicsResult) float64 { return float64(r.wakeups) / float64(r.events) }),
			m(func(r topicsResult) float64 { return float64(r.end.hwmKiB) / 1024 }),
			m(func(r topicsResult) float64 { return float64(r.end.goroutines) }),
			m(func(r topicsResult) float64 { return float64(r.end.threads) }),
			m(func(r topicsResult) float64 { return float64(r.end.fds) }))
	}

	var ratios []float64
	for i := range min(len(one), len(many)) {
		ratios = append(ratios, perEventUS(many[i])/perEventUS(one[i]))
	}

	row("1 topic", one, 1)
	row(fmt.Sprintf("%d topics", b.o.topics), many, median(ratios))
	_ = w.Flush()

	if n := float64(b.o.topics - 1); n > 0 && len(one) > 0 && len(many) > 0 {
		hwm := func(r topicsResult) float64 { return float64(r.end.hwmKiB) }
		g := func(r topicsResult) float64 { return float64(r.end.goroutines) }
		fmt.Fprintf(b.out, "\nper extra topic: %.0f KiB peak RSS, %.1f goroutines\n",
			(medOf(many, hwm)-medOf(one, hwm))/n, (medOf(many, g)-medOf(one, g))/n)
	}
}

func medOf(rs []topicsResult, f func(topicsResult) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	return median(v)
}
