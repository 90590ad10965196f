package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsServer is an embedded nats-server with JetStream on loopback.
type natsServer struct {
	srv *server.Server
}

func startNATS(storeDir string) (*natsServer, error) {
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: storeDir, NoLog: true, NoSigs: true,
	})
	if err != nil {
		return nil, fmt.Errorf("new nats server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("start nats server: not ready after 10s")
	}
	return &natsServer{srv: srv}, nil
}

func (n *natsServer) url() string { return n.srv.ClientURL() }

func (n *natsServer) close() {
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
}

// streamMsgs returns how many messages JetStream stream name holds.
func (n *natsServer) streamMsgs(ctx context.Context, name string) (uint64, error) {
	nc, err := nats.Connect(n.url())
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
