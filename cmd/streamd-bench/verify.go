package main

import (
	"bufio"
	"context"
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// streamMsgs returns how many messages JetStream stream name holds.
func streamMsgs(ctx context.Context, url, name string) (uint64, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return 0, fmt.Errorf("connect to nats: %w", err)
	}

	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, fmt.Errorf("open jetstream: %w", err)
	}

	str, err := js.Stream(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("get stream %s: %w", name, err)
	}

	info, err := str.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("get stream info %s: %w", name, err)
	}

	return info.State.Msgs, nil
}

// countLines counts the lines of a file.
func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}

	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	n := 0
	for sc.Scan() {
		n++
	}

	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("read %s: %w", path, err)
	}

	return n, nil
}
