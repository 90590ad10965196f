// Command streamd streams 8x8 contact-center events from 8x8's Event
// Streaming service (a Pulsar WebSocket proxy) into stdout, files, NATS and
// JetStream without losing any. Run `streamd help` for commands and variables.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	os.Exit(m.Run(context.Background(), os.Args[1:], signalChannel()))
}

func signalChannel() <-chan os.Signal {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	return ch
}
