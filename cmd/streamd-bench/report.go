package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

func sorted(d []time.Duration) []time.Duration {
	slices.Sort(d)
	return d
}

// pct returns the q-quantile (0..1) of sorted durations, nearest rank.
func pct(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(q*float64(len(d))+0.5) - 1
	return d[min(max(i, 0), len(d)-1)]
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r result) summary() string {
	return fmt.Sprintf("%6.0f ev/s  cpu %.2fs/100k  rss %5.1f MiB  p50 %.2fms p99 %.2fms p999 %.2fms  start→first %.0fms  syscalls/ev %.2f  wakeups/ev %.2f",
		r.rate(), r.cpuPer100k(), float64(r.use.rssKiB)/1024, ms(pct(r.lat, .5)), ms(pct(r.lat, .99)), ms(pct(r.lat, .999)), ms(r.startFirst),
		mSys(r), mWake(r))
}

// metric extracts one figure of a run.
type metric func(result) float64

var (
	mRate  metric = func(r result) float64 { return r.rate() }
	mCPU   metric = func(r result) float64 { return r.cpuPer100k() }
	mRSS   metric = func(r result) float64 { return float64(r.use.rssKiB) / 1024 }
	mP50   metric = func(r result) float64 { return ms(pct(r.lat, .5)) }
	mP99   metric = func(r result) float64 { return ms(pct(r.lat, .99)) }
	mP999  metric = func(r result) float64 { return ms(pct(r.lat, .999)) }
	mStart metric = func(r result) float64 { return ms(r.startFirst) }
	mBench metric = func(r result) float64 { return r.benchCPU.Seconds() / float64(r.events) * 1e5 }
	mSys   metric = func(r result) float64 { return float64(r.use.syscalls) / float64(r.events) }
	mWake  metric = func(r result) float64 { return float64(r.use.wakeups) / float64(r.events) }
	// mSteady is µs of CPU per event from the first publish to the last
	// ack (paced runs).
	mSteady metric = func(r result) float64 { return r.steady.Seconds() / float64(r.events) * 1e6 }
)

// med is the median of m over runs.
func med(runs []result, m metric) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = m(r)
	}
	return median(v)
}

// ratio is the median over runs of m(client run i) / m(reference run i):
// runs are interleaved, so run i of both saw the same machine load.
func ratio(runs, ref []result, m metric) float64 {
	var v []float64
	for i := range min(len(runs), len(ref)) {
		if d := m(ref[i]); d != 0 {
			v = append(v, m(runs[i])/d)
		}
	}
	return median(v)
}

// table prints one markdown table; flat adds the start→first column.
func (b *bench) table(clients []string, res map[string][]result, flat bool) {
	w := tabwriter.NewWriter(b.out, 0, 0, 1, ' ', tabwriter.Debug)
	head := "| client\t events/s\t ×ref\t CPU s/100k ev\t ×ref\t µs CPU/ev\t peak RSS MiB\t ×ref\t p50 ms\t p99 ms\t ×ref\t p999 ms"
	sep := "|---\t---:\t---:\t---:\t---:\t---:\t---:\t---:\t---:\t---:\t---:\t---:"
	if flat {
		head += "\t start→first ms"
		sep += "\t---:"
	} else {
		head += "\t steady µs CPU/ev\t ×ref"
		sep += "\t---:\t---:"
	}

	head += "\t syscalls/ev\t wakeups/ev\t bench-process CPU s/100k"
	sep += "\t---:\t---:\t---:"
	fmt.Fprintln(w, head+"\t")
	fmt.Fprintln(w, sep+"\t")
	ref := res["reference"]
	for _, c := range clients {
		runs := res[c]
		name := c
		if c != "reference" {
			name = "streamd → " + c
		}

		line := fmt.Sprintf("| %s\t %.0f\t %.2f\t %.3f\t %.2f\t %.1f\t %.1f\t %.2f\t %.2f\t %.2f\t %.2f\t %.2f",
			name, med(runs, mRate), ratio(runs, ref, mRate),
			med(runs, mCPU), ratio(runs, ref, mCPU), med(runs, mCPU)*10,
			med(runs, mRSS), ratio(runs, ref, mRSS),
			med(runs, mP50), med(runs, mP99), ratio(runs, ref, mP99), med(runs, mP999))

		if flat {
			line += fmt.Sprintf("\t %.0f", med(runs, mStart))
		} else {
			line += fmt.Sprintf("\t %.1f\t %.2f", med(runs, mSteady), ratio(runs, ref, mSteady))
		}

		line += fmt.Sprintf("\t %.2f\t %.2f\t %.3f", med(runs, mSys), med(runs, mWake), med(runs, mBench))
		fmt.Fprintln(w, line+"\t")
	}

	_ = w.Flush()
	b.perRun("CPU/event ×ref per run", clients, res, mCPU)
	if !flat {
		b.perRun("steady CPU/event ×ref per run", clients, res, mSteady)
	}
}

// perRun prints each run's ratio of m to the reference's in the same round,
// so that the noise behind a median is visible.
func (b *bench) perRun(title string, clients []string, res map[string][]result, m metric) {
	ref := res["reference"]
	var parts []string
	for _, c := range clients {
		if c == "reference" {
			continue
		}

		var v []string
		for i := range min(len(res[c]), len(ref)) {
			if d := m(ref[i]); d != 0 {
				v = append(v, fmt.Sprintf("%.2f", m(res[c][i])/d))
			}
		}
		parts = append(parts, c+" "+strings.Join(v, " "))
	}

	fmt.Fprintf(b.out, "\n%s: %s\n", title, strings.Join(parts, " · "))
}
