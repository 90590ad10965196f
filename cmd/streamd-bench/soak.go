package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"
)

// soakRow is one sampling period of the soak.
type soakRow struct {
	min   float64 // minutes since the start of publishing
	s     sample
	acked int // first acks in the period
	cpu   time.Duration
	drops int
}

// soakRun runs streamd → file for o.soak at o.soakRate with the emulator
// dropping every connection each o.soakDrop, and samples RSS, goroutines,
// open fds and CPU every o.soakEvery; it reports the per-period table and
// the least-squares slopes (per minute) of RSS, goroutines and fds.
func (b *bench) soakRun(ctx context.Context) error {
	if err := b.emu.waitIdle(ctx); err != nil {
		return err
	}

	dir, err := b.runDir()
	if err != nil {
		return err
	}

	tenant := fmt.Sprintf("soak%03d", b.runSerial)
	topic := tenant + "/event-v1/all"
	cmd, verify, cleanup, err := b.setup("file", tenant, dir)
	if err != nil {
		return err
	}

	defer cleanup()
	murl, err := withHTTP(cmd)
	if err != nil {
		return err
	}

	total := int(b.o.soakRate * b.o.soak.Seconds())
	tr := newGrowingTracker(total)
	b.emu.attach(tr)
	defer b.emu.attach(nil)
	c, err := startChild(cmd, dir)
	if err != nil {
		return err
	}

	defer func() { _, _ = c.stop(30 * time.Second) }()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = b.emu.srv.WaitSessions(wctx, 1)
	cancel()

	if err != nil {
		return fmt.Errorf("client did not connect: %w: %s", err, c.tail())
	}

	pool := genEvents(tenant, b.o.size, 20000, int64(b.runSerial))
	pid := c.cmd.Process.Pid
	start := time.Now()
	rows := []soakRow{{s: sampleProc(ctx, pid, murl)}}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	nextSample, nextDrop := start.Add(b.o.soakEvery), start.Add(b.o.soakDrop)
	sent, drops, lastAcked := 0, 0, 0
	for sent < total {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tick.C:
			due := min(total, int(now.Sub(start).Seconds()*b.o.soakRate)+1)
			for ; sent < due; sent++ {
				b.emu.srv.Publish(topic, pool[sent%len(pool)])
			}

			if b.o.soakDrop > 0 && now.After(nextDrop) {
				drops += b.emu.srv.DropConnections()
				nextDrop = nextDrop.Add(b.o.soakDrop)
			}

			if now.After(nextSample) {
				rows, lastAcked, drops = b.soakSample(ctx, pid, murl, start, rows, tr, lastAcked, drops)
				nextSample = nextSample.Add(b.o.soakEvery)
			}
		}
	}

	if err := waitSettled(ctx, tr, total); err != nil {
		return err
	}

	rows, _, _ = b.soakSample(ctx, pid, murl, start, rows, tr, lastAcked, drops)

	if err := verify(ctx, total); err != nil {
		return err
	}

	b.soakTable(rows, total, sorted(tr.latencies()))

	return nil
}

func (b *bench) soakSample(ctx context.Context, pid int, murl string, start time.Time, rows []soakRow,
	tr *tracker, lastAcked, drops int) ([]soakRow, int, int) {
	s := sampleProc(ctx, pid, murl)
	n, _, _, _ := tr.snapshot()
	rows = append(rows, soakRow{
		min:   s.at.Sub(start).Minutes(),
		s:     s,
		acked: n - lastAcked,
		cpu:   s.cpu - rows[len(rows)-1].s.cpu,
		drops: drops,
	})
	if b.o.verbose {
		fmt.Fprintf(b.errw, "soak %5.1f min: rss %.1f MiB, %d goroutines, %d fds, %d acked, cpu %.2fs, %d drops\n",
			rows[len(rows)-1].min, float64(s.rssKiB)/1024, s.goroutines, s.fds, n-lastAcked, rows[len(rows)-1].cpu.Seconds(), drops)
	}
	return rows, n, 0
}

func (b *bench) soakTable(rows []soakRow, total int, lat []time.Duration) {
	fmt.Fprintf(b.out, "\n## Soak: streamd → file, %g ev/s for %s (%d events), every connection dropped each %s\n\n",
		b.o.soakRate, b.o.soak, total, b.o.soakDrop)

	w := tabwriter.NewWriter(b.out, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(w, "| minute\t events acked\t drops\t RSS MiB\t goroutines\t open fds\t threads\t CPU s\t µs CPU/ev\t")
	fmt.Fprintln(w, "|---:\t---:\t---:\t---:\t---:\t---:\t---:\t---:\t---:\t")
	var x, rss, gor, fds []float64
	warm := 1
	if len(rows) >= 5 {
		warm = 2
	}

	for i, r := range rows {
		per := "–"
		if r.acked > 0 {
			per = fmt.Sprintf("%.1f", float64(r.cpu.Microseconds())/float64(r.acked))
		}

		fmt.Fprintf(w, "| %.1f\t %d\t %d\t %.1f\t %d\t %d\t %d\t %.2f\t %s\t\n", r.min, r.acked, r.drops,
			float64(r.s.rssKiB)/1024, r.s.goroutines, r.s.fds, r.s.threads, r.cpu.Seconds(), per)

		if i >= warm { // the start sample and the first period include warm-up
			x = append(x, r.min)
			rss = append(rss, float64(r.s.rssKiB)/1024)
			gor = append(gor, float64(r.s.goroutines))
			fds = append(fds, float64(r.s.fds))
		}
	}

	_ = w.Flush()
	fmt.Fprintf(b.out, "\nslopes (least squares per minute, from sample %d on): RSS %+.3f MiB/min, goroutines %+.3f/min, open fds %+.3f/min; latency over the whole soak p50 %.2f ms, p99 %.2f ms, p999 %.2f ms\n",
		warm, slope(x, rss), slope(x, gor), slope(x, fds), ms(pct(lat, .5)), ms(pct(lat, .99)), ms(pct(lat, .999)))
}

// waitSettled waits until every message was acked, or acks stopped coming
// for settleAfter: a reader whose connection drops after the sinks accepted
// a batch but before its acks went out resumes after that batch, so those
// messages are never acked (the file sink check that follows is what proves
// delivery).
func waitSettled(ctx context.Context, tr *tracker, total int) error {
	last, since := -1, time.Now()
	for {
		n, _, _, _ := tr.snapshot()
		if n >= total {
			return nil
		}

		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > settleAfter {
			return nil
		}

		if err := pause(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// settleAfter outlasts the longest reconnect delay (reconnect.DefaultMax,
// 60 s, reached when drops come faster than DefaultHealthyAfter).
const settleAfter = 75 * time.Second
