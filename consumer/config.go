package consumer

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Mode selects the proxy endpoint.
type Mode string

// Modes of the proxy.
const (
	// ModeReader uses /ws/v2/reader: no server-side position, streamd checkpoints.
	ModeReader Mode = "reader"
	// ModeConsumer uses /ws/v2/consumer with a durable subscription.
	ModeConsumer Mode = "consumer"
)

// AuthMode selects how the credential is sent.
type AuthMode string

// Auth modes, as documented by 8x8.
const (
	// AuthHeader sends "X-API-Key: <credential>" (recommended; never in the URL).
	AuthHeader AuthMode = "header"
	// AuthQuery sends "?x-api-key=<credential>" (for proxies that strip headers).
	AuthQuery AuthMode = "query"
	// AuthBasic sends "Authorization: Basic <cc-token>" (legacy, CC tokens only).
	AuthBasic AuthMode = "basic"
)

// Config describes one topic session. The zero values of the durations and
// sizes select the documented defaults.
type Config struct {
	Endpoint          string // "wss://host[:port]" or "ws://host:port"
	Tenant            string
	Namespace         string // "event-v1" or "agent-v1"
	Topic             string // "all", an event type or an agent id
	Mode              Mode
	Subscription      string // consumer mode
	SubscriptionType  string // consumer mode: Exclusive, Failover, Shared, Key_Shared
	Auth              AuthMode
	Credential        string // eght_ key or CC token; never logged
	ReceiverQueueSize int    // 1..1000, default 1000
	HandshakeTimeout  time.Duration
	PingInterval      time.Duration
	PingTimeout       time.Duration
	ReadLimit         int64 // max frame size, default 16 MiB
	HTTPClient        *http.Client
}

func (c *Config) defaults() {
	if c.Namespace == "" {
		c.Namespace = "event-v1"
	}
	if c.Mode == "" {
		c.Mode = ModeReader
	}
	if c.Auth == "" {
		c.Auth = AuthHeader
	}
	if c.ReceiverQueueSize <= 0 || c.ReceiverQueueSize > 1000 {
		c.ReceiverQueueSize = 1000
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 45 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 20 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 10 * time.Second
	}
	if c.ReadLimit <= 0 {
		c.ReadLimit = 16 << 20
	}
	if c.Subscription == "" {
		c.Subscription = "streamd"
	}
	if c.SubscriptionType == "" {
		c.SubscriptionType = "Failover"
	}
}

// Name is the short topic name used in logs, metrics and checkpoints: "namespace/topic".
func (c *Config) Name() string { return c.Namespace + "/" + c.Topic }

// FullTopic is the Pulsar topic name, "persistent://tenant/namespace/topic".
func (c *Config) FullTopic() string {
	return "persistent://" + c.Tenant + "/" + c.Namespace + "/" + c.Topic
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

// CredentialKind describes a credential's shape: "Admin Console API key",
// "Contact Center token", or an error explaining what is wrong. It never
// echoes the credential.
func CredentialKind(cred string) (string, error) {
	switch {
	case cred == "":
		return "", errors.New("credential is empty")
	case strings.TrimSpace(cred) != cred:
		return "", errors.New("credential has leading or trailing whitespace")
	case strings.HasPrefix(cred, "eght_"):
		if len(cred) < 10 {
			return "", errors.New("Admin Console key is too short")
		}
		return "Admin Console API key", nil
	}
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return "", errors.New("credential is neither an eght_ Admin Console key nor a base64 Contact Center token")
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user == "" || pass == "" {
		return "", errors.New("Contact Center token does not decode to user:password")
	}
	return "Contact Center token", nil
}
