package consumer_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/reconnect"
	"github.com/streamd/streamd/sink/sinktest"
)

// listenCounting counts the connections addr receives, closing each.
func listenCounting(t *testing.T, addr string) (*tcpServer, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	var n atomic.Int64
	return serveTCP(t, ln, func(_ *tcpServer, c net.Conn) { n.Add(1); _ = c.Close() }), &n
}

// TestHandshakeRedirectIsNeverFollowed: an endpoint answering
// "302 Location: http://127.0.0.2:PORT/x" must not make streamd send the
// key (header or query, hence also Referer) to the second host. The refusal
// is a handshake error naming the Location host (never its query), classed
// as a configuration problem (the long backoff), with an operator hint.
func TestHandshakeRedirectIsNeverFollowed(t *testing.T) {
	second, reached := listenCounting(t, "127.0.0.2:0")
	target := "http://" + second.Addr() + "/x?x-api-key=" + apiKey
	var redirects atomic.Int64
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirects.Add(1)
		http.Redirect(w, r, target, http.StatusFound)
	}))
	t.Cleanup(first.Close)

	for _, auth := range []consumer.AuthMode{consumer.AuthHeader, consumer.AuthQuery} {
		t.Run(string(auth), func(t *testing.T) {
			cfg := consumer.Config{Endpoint: "ws" + strings.TrimPrefix(first.URL, "http"), Tenant: tenant, Topic: "all",
				Auth: auth, Credential: apiKey}
			conn, err := consumer.Dial(testutil.Context(t, wait), cfg, "earliest")
			if err == nil {
				conn.CloseNow()
				t.Fatal("Dial succeeded through a redirect")
			}
			if n := reached.Load(); n != 0 {
				t.Fatalf("the redirect target received %d connections: the key left for another host", n)
			}

			var he *consumer.HandshakeError
			if !errors.As(err, &he) || he.Status != http.StatusFound {
				t.Fatalf("Dial error = %v, want a 302 handshake error", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, second.Addr()) || strings.Contains(msg, "x-api-key") || strings.Contains(msg, apiKey) {
				t.Errorf("error %q: want the Location host, without its query or the key", msg)
			}
			if c := consumer.Classify(err); c != reconnect.Credential {
				t.Errorf("Classify = %v, want credential (configuration, long backoff)", c)
			}
			if h := consumer.Hint(err); !strings.Contains(h, "redirect") || !strings.Contains(h, "STREAMD_ENDPOINT") {
				t.Errorf("Hint = %q, want what to fix about the redirect", h)
			}
		})
	}
	if n := redirects.Load(); n != 2 {
		t.Errorf("first host saw %d handshakes, want 2 (one per attempt, no loop)", n)
	}
}

// TestReconnectReachesTheCurrentAddress: the endpoint's name first leads to
// a host answering 503 over keep-alive, then moves to a healthy proxy. Each
// handshake after a failure must use a fresh connection (resolving the name
// again), so the topic reaches the new address instead of reusing the
// pooled connection to the old one.
func TestReconnectReachesTheCurrentAddress(t *testing.T) {
	var unavailable atomic.Int64
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		unavailable.Add(1)
		http.Error(w, "try later", http.StatusServiceUnavailable)
	}))
	t.Cleanup(old.Close)
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	ids := publish(srv, pulsartest.NewGenerator(tenant, 41), allTopic, 5)

	// The resolver: "stream.test" names whichever address current holds.
	var current atomic.Pointer[string]
	oldAddr := old.Listener.Addr().String()
	current.Store(&oldAddr)
	var dials atomic.Int64
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, *current.Load())
	}}
	t.Cleanup(tr.CloseIdleConnections)

	rec := &sinktest.Recorder{}
	opts, _ := newOptions(t, rec)
	cfg := newConfig(srv, consumer.ModeReader, "all")
	cfg.Endpoint = "ws://stream.test:80"
	cfg.HTTPClient = &http.Client{Transport: tr}
	run(t, cfg, opts)

	testutil.WaitFor(t, wait, "three refused handshakes", func() bool { return unavailable.Load() >= 3 })
	if d, n := dials.Load(), unavailable.Load(); d < n {
		t.Fatalf("%d handshakes over %d connections: a pooled connection was reused after a failure", n, d)
	}
	newAddr := strings.TrimPrefix(srv.URL(), "ws://")
	current.Store(&newAddr)
	if err := rec.WaitCount(testutil.Context(t, wait), len(ids)); err != nil {
		t.Fatalf("never reached the new address (%d refused handshakes, %d dials): %v", unavailable.Load(), dials.Load(), err)
	}
}
