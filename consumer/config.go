package consumer

import (
	"encoding/base64"
	"errors"
	"net/http"
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
	// InflightBytes bounds the bytes of events read but not yet accepted by
	// the sinks (DefaultInflightBytes when <= 0). Past it the session stops
	// reading the socket (TCP backpressure) until the sinks catch up; an
	// event larger than the budget is still taken, alone.
	InflightBytes int64
	HTTPClient    *http.Client

	// ConsumerName is the consumerName query parameter (consumer mode): keep
	// it stable per replica. The broker picks the Failover active consumer
	// and the Key_Shared key ranges by name, and a reconnect under the same
	// name takes over at once from a session that died silently (see
	// consumer/pulsartest). Empty lets the proxy generate a random name.
	ConsumerName string
}

// DefaultInflightBytes is the default Config.InflightBytes: 64 MiB of
// events per topic, sized for a container of 256 MiB with one topic (the
// events, the frame being read, and the sinks' own buffers).
const DefaultInflightBytes = 64 << 20

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

	if c.InflightBytes <= 0 {
		c.InflightBytes = DefaultInflightBytes
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
			return "", errors.New("the Admin Console key is too short")
		}
		return "Admin Console API key", nil
	}

	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return "", errors.New("credential is neither an eght_ Admin Console key nor a base64 Contact Center token")
	}

	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user == "" || pass == "" {
		return "", errors.New("the Contact Center token does not decode to user:password")
	}

	return "Contact Center token", nil
}
