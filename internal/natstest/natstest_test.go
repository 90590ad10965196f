package natstest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

// TestClusterSurvivesANode: an R3 stream of a 3-node cluster keeps taking
// and serving messages with any one node down, and the node rejoins.
func TestClusterSurvivesANode(t *testing.T) {
	c := RunCluster(t, 3)
	js := JetStream(t, c.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	// Each attempt has its own deadline: a PubAck lost with the node never
	// comes, and the retry is de-duplicated by its message id.
	publish := func(batch, n int) {
		for i := range n {
			for {
				actx, cancel := context.WithTimeout(ctx, time.Second)
				_, err := js.Publish(actx, "t.x", []byte{byte(i)}, jetstream.WithMsgID(fmt.Sprint(batch, "-", i)))
				cancel()
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("publish: %v", err)
				}
			}
		}
	}
	publish(1, 10)
	victim := c.Node(js.Conn().ConnectedServerName())
	victim.Stop()
	publish(2, 10)
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitLeader(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 20 || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream info = %+v, %v; want 20 messages on 3 nodes", info, err)
	}
}
