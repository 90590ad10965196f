package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/sink"
)

// validate checks every variable and fills in the derived fields. The first
// problem found is returned as a *configError naming the variable.
func (c *Config) validate(getenv func(string) string) error {
	if c.Tenant == "" {
		return badVar("TENANT", c.Tenant, "required: your 8x8 tenant name")
	}
	if strings.ContainsAny(c.Tenant, "/?#% ") {
		return badVar("TENANT", c.Tenant, "must be a bare tenant name")
	}
	if err := c.loadKey(getenv); err != nil {
		return err
	}
	switch {
	case c.Endpoint != "":
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return badVar("ENDPOINT", c.Endpoint, "want wss://host[:port] (or ws:// for local use), without path or query")
		}
		c.endpoint = strings.TrimSuffix(c.Endpoint, "/")
	case c.Region != "":
		ep, ok := regions[strings.ToUpper(c.Region)]
		if !ok {
			return badVar("REGION", c.Region, "want UK3, US1 or US2 (or set STREAMD_ENDPOINT)")
		}
		c.endpoint = ep
	default:
		return badVar("REGION", "", "one of STREAMD_REGION or STREAMD_ENDPOINT is required")
	}
	if c.Namespace == "" || strings.ContainsAny(c.Namespace, "/?# ") {
		return badVar("NAMESPACE", c.Namespace, "must be a namespace name such as event-v1")
	}
	if err := c.parseTopics(); err != nil {
		return err
	}
	switch consumer.Mode(c.Mode) {
	case consumer.ModeReader, consumer.ModeConsumer:
	default:
		return badVar("MODE", c.Mode, "want reader or consumer")
	}
	if c.Mode == string(consumer.ModeConsumer) && (c.Subscription == "" || strings.ContainsAny(c.Subscription, "/?# ")) {
		return badVar("SUBSCRIPTION", c.Subscription, "must be a non-empty name without / ? # or spaces")
	}
	switch c.SubscriptionType {
	case "Exclusive", "Failover", "Shared", "Key_Shared":
	default:
		return badVar("SUBSCRIPTION_TYPE", c.SubscriptionType, "want Exclusive, Failover, Shared or Key_Shared")
	}
	switch c.Start {
	case "earliest", "latest":
	default:
		if c.Mode == string(consumer.ModeConsumer) {
			return badVar("START", c.Start, "consumer mode starts a new subscription at earliest or latest only")
		}
		if _, err := consumer.ParseMessageID(c.Start); err != nil {
			return badVar("START", c.Start, "want earliest, latest or a base64 Pulsar message id")
		}
	}
	switch consumer.AuthMode(c.Auth) {
	case consumer.AuthHeader, consumer.AuthQuery:
	case consumer.AuthBasic:
		if strings.HasPrefix(c.apiKey, "eght_") {
			return badVar("AUTH", c.Auth, "basic works with Contact Center tokens only; use header with an eght_ key")
		}
	default:
		return badVar("AUTH", c.Auth, "want header, query or basic")
	}
	if c.ReceiverQueueSize < 1 || c.ReceiverQueueSize > 1000 {
		return badVar("RECEIVER_QUEUE_SIZE", itoa(c.ReceiverQueueSize), "want 1..1000")
	}
	if err := c.validateSinks(); err != nil {
		return err
	}
	f, err := sink.ParseFormat(c.Format)
	if err != nil {
		return badVar("FORMAT", c.Format, "want envelope or event")
	}
	c.format = f
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return badVar("LOG_LEVEL", c.LogLevel, "want debug, info, warn or error")
	}
	switch c.LogFormat {
	case "auto", "text", "json":
	default:
		return badVar("LOG_FORMAT", c.LogFormat, "want auto, text or json")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"RECONNECT_MIN", c.ReconnectMin}, {"RECONNECT_MAX", c.ReconnectMax},
		{"HANDSHAKE_TIMEOUT", c.HandshakeTimeout}, {"PING_INTERVAL", c.PingInterval},
		{"PING_TIMEOUT", c.PingTimeout}, {"CHECKPOINT_INTERVAL", c.CheckpointPeriod},
		{"SHUTDOWN_TIMEOUT", c.ShutdownTimeout}, {"FILE_FSYNC_INTERVAL", c.FileFsyncInterval},
	} {
		if d.v <= 0 {
			return badVar(d.name, d.v.String(), "must be positive")
		}
	}
	if c.ReconnectMax < c.ReconnectMin {
		return badVar("RECONNECT_MAX", c.ReconnectMax.String(), "must not be below STREAMD_RECONNECT_MIN")
	}
	if c.ReadLimit < 1<<16 {
		return badVar("READ_LIMIT", itoa(int(c.ReadLimit)), "must be at least 65536")
	}
	if c.CheckpointEvery < 1 {
		return badVar("CHECKPOINT_EVERY", itoa(c.CheckpointEvery), "must be at least 1")
	}
	if c.StateDir == "" {
		c.StateDir = defaultStateDir(getenv)
	}
	if c.DeadLetterPath == "" {
		c.DeadLetterPath = filepath.Join(c.StateDir, "dead-letter.jsonl")
	}
	return nil
}

// loadKey finds the credential: STREAMD_API_KEY, STREAMD_API_KEY_FILE or
// the systemd credential api_key, and checks its shape.
func (c *Config) loadKey(getenv func(string) string) error {
	name, key := "API_KEY", c.APIKey
	file := c.APIKeyFile
	if file == "" && key == "" {
		if dir := getenv("CREDENTIALS_DIRECTORY"); dir != "" {
			file = filepath.Join(dir, "api_key")
		}
	}
	if key == "" && file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return badVar("API_KEY_FILE", file, "cannot read: "+err.Error())
		}
		name, key = "API_KEY_FILE", strings.TrimRight(string(b), "\r\n")
	}
	if key == "" {
		return badSecret("API_KEY", "required: set STREAMD_API_KEY or STREAMD_API_KEY_FILE (or a systemd credential named api_key)")
	}
	kind, err := consumer.CredentialKind(key)
	if err != nil {
		return badSecret(name, err.Error())
	}
	c.apiKey, c.credKind = key, kind
	return nil
}

func (c *Config) parseTopics() error {
	seen := map[string]bool{}
	for _, raw := range c.Topics {
		s := strings.TrimSpace(raw)
		ns, topic, ok := strings.Cut(s, "/")
		if !ok {
			ns, topic = c.Namespace, s
		}
		if ns == "" || topic == "" || strings.ContainsAny(topic, "/?# ") {
			return badVar("TOPICS", strings.Join(c.Topics, ","), "entry "+strconvQuote(raw)+" is not topic or namespace/topic")
		}
		ref := topicRef{ns, topic}
		if seen[ref.String()] {
			return badVar("TOPICS", strings.Join(c.Topics, ","), "topic "+ref.String()+" is listed twice")
		}
		seen[ref.String()] = true
		c.topics = append(c.topics, ref)
	}
	if len(c.topics) == 0 {
		return badVar("TOPICS", "", "at least one topic is required")
	}
	return nil
}

func (c *Config) validateSinks() error {
	if len(c.Sinks) == 0 {
		return badVar("SINKS", "", "at least one sink is required")
	}
	seen := map[string]bool{}
	for _, s := range c.Sinks {
		switch s {
		case "stdout", "file", "nats":
		default:
			return badVar("SINKS", strings.Join(c.Sinks, ","), "unknown sink "+strconvQuote(s)+"; want stdout, file, nats")
		}
		if seen[s] {
			return badVar("SINKS", strings.Join(c.Sinks, ","), "sink "+s+" is listed twice")
		}
		seen[s] = true
	}
	if seen["file"] {
		if c.FilePath == "" {
			return badVar("FILE_PATH", "", "required with the file sink")
		}
		switch c.FileFsync {
		case "always", "interval", "never":
		default:
			return badVar("FILE_FSYNC", c.FileFsync, "want always, interval or never")
		}
		if c.FileMaxBytes < 0 {
			return badVar("FILE_MAX_BYTES", itoa(int(c.FileMaxBytes)), "must not be negative")
		}
		if c.FileMaxBackups < 0 {
			return badVar("FILE_MAX_BACKUPS", itoa(c.FileMaxBackups), "must not be negative")
		}
	}
	if seen["nats"] {
		for _, u := range strings.Split(c.NATSURL, ",") {
			if pu, err := url.Parse(strings.TrimSpace(u)); err != nil || pu.Host == "" {
				return badVar("NATS_URL", c.NATSURL, "want nats://host:port[,nats://...]")
			}
		}
		if !strings.Contains(c.NATSSubject, "{") && strings.ContainsAny(c.NATSSubject, " *>") || c.NATSSubject == "" {
			return badVar("NATS_SUBJECT", c.NATSSubject, "must be a subject template without spaces or wildcards")
		}
		if c.NATSMaxInflight < 1 {
			return badVar("NATS_MAX_INFLIGHT", itoa(c.NATSMaxInflight), "must be at least 1")
		}
		if c.NATSStream != "" && !c.NATSJetStream {
			return badVar("NATS_STREAM", c.NATSStream, "needs STREAMD_NATS_JETSTREAM=true")
		}
	}
	return nil
}
