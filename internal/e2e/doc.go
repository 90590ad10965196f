// Package e2e holds end-to-end tests of streamd: the consumer, the fan-out
// and the real sinks wired together against the Pulsar proxy emulator
// (consumer/pulsartest) and an embedded nats-server, plus tests that build
// and run the real cmd/streamd binary and observe it from outside through
// its HTTP endpoints (/metrics, /readyz) and sd_notify datagrams.
//
// It has no non-test code; run it with
//
//	go test -race ./internal/e2e/
package e2e
