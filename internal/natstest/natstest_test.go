package natstest

import (
	"testing"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStopAndStartKeepTheURL(t *testing.T) {
	s := Run(t, nil)
	url := s.URL()
	ping := func() error {
		nc, err := nats.Connect(url, nats.NoReconnect())
		if err != nil {
			return err
		}
		defer nc.Close()
		return nc.Flush()
	}
	if err := ping(); err != nil {
		t.Fatalf("connect to a running server: %v", err)
	}
	s.Stop()
	s.Stop() // idempotent
	if ping() == nil {
		t.Fatal("connected to a stopped server")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if s.URL() != url {
		t.Fatalf("URL after restart = %s, want %s", s.URL(), url)
	}
	if err := ping(); err != nil {
		t.Fatalf("connect after restart: %v", err)
	}
}
