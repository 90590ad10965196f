package consumer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/internal/redact"
)

// dial performs the handshake within the handshake timeout, and reports a
// failure to metrics and health.
func (t *Topic) dial(ctx context.Context, start string) (*websocket.Conn, *corkConn, error) {
	conn, cork, err := dial(ctx, t.cfg, start)
	if err == nil {
		return conn, cork, nil
	}

	var he *handshakeError
	if errors.As(err, &he) {
		t.opts.Metrics.HandshakeFailure(t.name, he.Status)
		t.opts.Health.Set(t.part(), false, fmt.Sprintf("%d from proxy: %s", he.Status, he.Meaning()))
	} else {
		t.opts.Metrics.HandshakeFailure(t.name, 0)
		t.opts.Health.Set(t.part(), false, err.Error())
	}

	return nil, nil, err
}

// Dial connects one session of cfg starting at start (see Config.URL),
// within cfg.HandshakeTimeout. A refused upgrade is an error for which Hint
// explains the status; errors never contain the credential.
//
// Every call uses a fresh TCP connection (the name is resolved again), so a
// retry after a failure reaches the endpoint's current address rather than
// a pooled connection to the old one. A redirect is never followed: the
// credential would travel to the host the Location names (in a header, or
// in the query and the Referer), so a 3xx is a handshake error naming that
// host.
func Dial(ctx context.Context, cfg Config, start string) (*websocket.Conn, error) {
	conn, _, err := dial(ctx, cfg, start)
	return conn, err
}

// dial is Dial, also returning the session's TCP connection for corking
// acks (nil when the HTTP client's transport cannot be wrapped).
func dial(ctx context.Context, cfg Config, start string) (*websocket.Conn, *corkConn, error) {
	cfg.defaults()
	red := redact.New(cfg.Credential)
	u, err := cfg.URL(start)
	if err != nil {
		return nil, nil, err
	}

	client := handshakeClient(cfg.HTTPClient)
	lastConn := corking(client)
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, cfg.HandshakeTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		HTTPClient: client,
		HTTPHeader: cfg.Header(),
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != 0 {
			return nil, nil, refused(resp, red)
		}
		return nil, nil, red.Error(fmt.Errorf("dial %s: %w: %w", endpointName(u.Host, cfg), errDial, err))
	}

	conn.SetReadLimit(cfg.ReadLimit)

	return conn, lastConn(), nil
}

// handshakeClient is the HTTP client of one handshake: base, or one on a
// clone of http.DefaultTransport (which keeps HTTPS_PROXY / NO_PROXY from
// the environment and the system roots, SSL_CERT_FILE included), that never
// follows a redirect. Its idle connections are closed after the handshake.
func handshakeClient(base *http.Client) *http.Client {
	var c http.Client
	if base != nil {
		c = *base
	}
	if c.Transport == nil {
		c.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// refused is the handshakeError of a non-101 response: its status, and the
// first bytes of the body or, for a redirect, only the host it points to
// (its body repeats the whole Location, query included).
func refused(resp *http.Response, red redact.Redactor) *handshakeError {
	he := &handshakeError{Status: resp.StatusCode}
	if loc, err := resp.Location(); err == nil {
		he.Location = loc.Host
		return he
	}
	if resp.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		he.Body = strings.TrimSpace(red.String(string(b)))
	}
	return he
}

// endpointName names the endpoint in errors without the query (which may
// hold the key).
func endpointName(host string, cfg Config) string {
	return host + "/" + string(cfg.Mode) + "/" + cfg.Name()
}

// URL builds the endpoint URL. For the reader, start is "earliest",
// "latest" or a message id to resume after; for the consumer it is the
// initial position of a new subscription ("earliest" or "latest"). Every
// query value is percent-encoded (message ids contain + / =).
func (c *Config) URL(start string) (*url.URL, error) {
	c.defaults()
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("parse endpoint: %w", err)
	}

	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("parse endpoint: scheme %q is not ws or wss", u.Scheme)
	}

	if u.Host == "" {
		return nil, errors.New("parse endpoint: no host")
	}

	segs := []string{"ws", "v2", string(c.Mode), "persistent", c.Tenant, c.Namespace, c.Topic}
	q := url.Values{}
	switch c.Mode {
	case ModeReader:
		if start == "" {
			start = "latest"
		}
		q.Set("messageId", start)
	case ModeConsumer:
		segs = append(segs, c.Subscription)
		q.Set("subscriptionType", c.SubscriptionType)
		if c.ConsumerName != "" {
			q.Set("consumerName", c.ConsumerName)
		}
		if start == "earliest" {
			q.Set("subscriptionInitialPosition", "Earliest")
		} else {
			q.Set("subscriptionInitialPosition", "Latest")
		}
	default:
		return nil, fmt.Errorf("build url: unknown mode %q", c.Mode)
	}

	q.Set("receiverQueueSize", strconv.Itoa(c.ReceiverQueueSize))

	if c.Auth == AuthQuery {
		q.Set("x-api-key", c.Credential)
	}

	raw := make([]string, len(segs))
	for i, s := range segs {
		raw[i] = url.PathEscape(s)
	}

	u.Path = "/" + strings.Join(segs, "/")
	u.RawPath = "/" + strings.Join(raw, "/")
	u.RawQuery = q.Encode()

	return u, nil
}

// Header returns the handshake headers for the configured auth mode.
func (c *Config) Header() http.Header {
	h := http.Header{}
	switch c.Auth {
	case AuthHeader, "":
		h.Set("X-API-Key", c.Credential)
	case AuthBasic:
		h.Set("Authorization", "Basic "+c.Credential)
	}
	h.Set("User-Agent", "streamd")
	return h
}
