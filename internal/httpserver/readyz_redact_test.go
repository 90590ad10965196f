package httpserver

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/sinktest"
)

// TestReadyzNeverShowsSinkCredentials: a sink error naming a NATS URL whose
// password holds '@' and '/' reaches neither the health state nor the
// /readyz reasons with any part of the user or password.
func TestReadyzNeverShowsSinkCredentials(t *testing.T) {
	h := health.New()
	base := start(t, New("127.0.0.1:0", prometheus.NewRegistry(), h, nil))
	rec := &sinktest.Recorder{}
	rec.Fail(errors.New("dial nats://alice:p@ss/w0rd@nats.example:4222: connection refused"))
	f := sink.NewFanout(sink.FanoutConfig{Targets: []sink.Target{{Name: "nats", Sink: rec}},
		Health: h, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	defer f.Close(context.Background())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Write(ctx, []*sink.Event{{MessageID: "1:0:0:0", EventType: "A"}}) }()
	defer func() { cancel(); <-done }()
	testutil.WaitFor(t, 5*time.Second, "sink reported not ready", func() bool { ready, _ := h.Ready(); return !ready })

	_, parts := h.Ready()
	_, body := get(t, base+"/readyz")
	for _, shown := range []string{strings.Join(h.NotReady(), "\n"), parts["sink nats"].Reason, body} {
		if !strings.Contains(shown, "nats://REDACTED@nats.example:4222") {
			t.Errorf("reason does not name the redacted URL: %q", shown)
		}
		for _, secret := range []string{"alice", "p@ss", "ss/w0rd", "w0rd"} {
			if strings.Contains(shown, secret) {
				t.Errorf("%q shown: %q", secret, shown)
			}
		}
	}
}
