// Command streamd-bench measures streamd against a reference client on
// loopback: it starts the Pulsar WebSocket proxy emulator in-process,
// publishes realistic 8x8 events, and runs first a minimal reference client
// and then the real streamd binary (one child process per run, so CPU time
// and peak RSS come from the kernel's rusage of that child) with each sink
// set, repeating runs and printing medians and streamd/reference ratios.
//
//	go run ./cmd/streamd-bench                         # flat out, 200k events, 3 runs
//	go run ./cmd/streamd-bench -rate 1000,10000        # plus paced runs
//	go run ./cmd/streamd-bench -profile /tmp/prof      # plus in-process pprof profiles
//
// See docs/performance.md for the method and the results.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// refMode is the hidden first argument that turns the binary into the
// reference client.
const refMode = "__reference-client"

type options struct {
	events   int
	size     string
	runs     int
	rates    []float64
	duration time.Duration
	sinks    []string
	fsync    string
	profile  string
	streamd  string
	timeout  time.Duration
	verbose  bool

	modes     []string // compare (flat + paced), idle, topics, soak
	idle      time.Duration
	topics    int
	topicRate float64
	soak      time.Duration
	soakRate  float64
	soakDrop  time.Duration
	soakEvery time.Duration
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == refMode {
		os.Exit(referenceMain(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("streamd-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var rates, sinks, modes string
	fs.IntVar(&o.events, "events", 200_000, "events per flat-out run")
	fs.StringVar(&o.size, "size", "mix", "event size mix: mix (generator), small (< 512 B) or large (padded to ~4 KiB)")
	fs.IntVar(&o.runs, "runs", 3, "runs per client; medians are reported")
	fs.StringVar(&rates, "rate", "", "comma list of paced rates in events/s (e.g. 1000,10000); empty skips paced mode")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "length of each paced run")
	fs.StringVar(&sinks, "sinks", "stdout,file,nats,jetstream", "comma list of sink sets; join sinks of one set with + (file+jetstream)")
	fs.StringVar(&o.fsync, "fsync", "interval", "STREAMD_FILE_FSYNC for the file sink: always, interval or never")
	fs.StringVar(&o.profile, "profile", "", "directory for cpu.pprof and allocs.pprof of an in-process consumer→file run")
	fs.StringVar(&o.streamd, "streamd", "", "streamd binary to test (default: build ./cmd/streamd stripped and static)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up on a run after this long")
	fs.BoolVar(&o.verbose, "v", false, "print each run")
	fs.StringVar(&modes, "mode", "compare", "comma list: compare (flat out + paced, against the reference), idle, topics, soak")
	fs.DurationVar(&o.idle, "idle", 60*time.Second, "idle mode: how long to stay connected without events")
	fs.IntVar(&o.topics, "topics", 100, "topics mode: topics in one daemon (compared with 1 topic at the same total rate)")
	fs.Float64Var(&o.topicRate, "topic-rate", 100, "topics mode: events/s per topic, for -duration")
	fs.DurationVar(&o.soak, "soak", 10*time.Minute, "soak mode: how long to publish")
	fs.Float64Var(&o.soakRate, "soak-rate", 2000, "soak mode: events/s")
	fs.DurationVar(&o.soakDrop, "soak-drop", time.Minute, "soak mode: drop every proxy connection this often (0: never); under 30s+reconnect the backoff never resets and grows to 60s")
	fs.DurationVar(&o.soakEvery, "soak-every", time.Minute, "soak mode: sampling period")

	if err := fs.Parse(args); err != nil {
		return 2
	}

	for _, r := range splitList(rates) {
		f, err := strconv.ParseFloat(r, 64)
		if err != nil || f <= 0 {
			fmt.Fprintf(stderr, "streamd-bench: bad -rate %q\n", r)
			return 2
		}
		o.rates = append(o.rates, f)
	}

	o.sinks = splitList(sinks)
	o.modes = splitList(modes)
	for _, m := range o.modes {
		if m != "compare" && m != "idle" && m != "topics" && m != "soak" {
			fmt.Fprintf(stderr, "streamd-bench: unknown -mode %q (compare, idle, topics, soak)\n", m)
			return 2
		}
	}

	for _, set := range o.sinks {
		for _, s := range strings.Split(set, "+") {
			if _, ok := sinkEnv[s]; !ok {
				fmt.Fprintf(stderr, "streamd-bench: unknown sink %q (stdout, file, nats, jetstream)\n", s)
				return 2
			}
		}
	}

	if o.size != "mix" && o.size != "small" && o.size != "large" {
		fmt.Fprintf(stderr, "streamd-bench: bad -size %q\n", o.size)
		return 2
	}

	if o.events <= 0 || o.runs <= 0 {
		fmt.Fprintln(stderr, "streamd-bench: -events and -runs must be positive")
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := newBench(ctx, o, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "streamd-bench:", err)
		return 1
	}

	defer b.close()

	if err := b.all(ctx); err != nil {
		fmt.Fprintln(stderr, "streamd-bench:", err)
		return 1
	}

	return 0
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
