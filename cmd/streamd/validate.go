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

// derived are the values validate computes from a Config.
type derived struct {
	endpoint string      // base URL, wss://host[:port]
	apiKey   string      // the credential, from wherever it came
	credKind string      // what kind of credential apiKey is, for logs
	topics   []topicRef  // TOPICS resolved against NAMESPACE
	format   sink.Format // FORMAT parsed
}

// validate checks every variable and returns the derived values. The
// first problem found is returned as a *configError naming the variable.
func (c *Config) validate(getenv func(string) string) (derived, error) {
	var (
		d   derived
		err error
	)
	if d.apiKey, d.credKind, err = c.validateTenant(getenv); err != nil {
		return derived{}, err
	}
	if d.endpoint, err = c.validateEndpoint(); err != nil {
		return derived{}, err
	}
	if d.topics, err = c.validateStream(d.apiKey); err != nil {
		return derived{}, err
	}
	if d.format, err = c.validateSinks(); err != nil {
		return derived{}, err
	}
	if err := c.validateLogging(); err != nil {
		return derived{}, err
	}
	if err := c.validateTimings(); err != nil {
		return derived{}, err
	}
	if err := c.validateCheckpointStore(); err != nil {
		return derived{}, err
	}
	return d, nil
}

// fillDefaults sets the defaults that depend on the environment: STATE_DIR
// and DEAD_LETTER_PATH.
func (c *Config) fillDefaults(getenv func(string) string) {
	if c.StateDir == "" {
		c.StateDir = defaultStateDir(getenv)
	}
	if c.DeadLetterPath == "" {
		c.DeadLetterPath = filepath.Join(c.StateDir, "dead-letter.jsonl")
	}
}

// validateTenant checks TENANT and returns the credential and its kind.
func (c *Config) validateTenant(getenv func(string) string) (key, kind string, err error) {
	if c.Tenant == "" {
		return "", "", badVar("TENANT", c.Tenant, "required: your 8x8 tenant name")
	}
	if strings.ContainsAny(c.Tenant, "/?#% ") {
		return "", "", badVar("TENANT", c.Tenant, "must be a bare tenant name")
	}
	return c.loadKey(getenv)
}

// validateEndpoint returns the base URL from ENDPOINT or REGION.
func (c *Config) validateEndpoint() (string, error) {
	switch {
	case c.Endpoint != "":
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return "", badVar("ENDPOINT", c.Endpoint, "want wss://host[:port] (or ws:// for local use), without path or query")
		}
		return strings.TrimSuffix(c.Endpoint, "/"), nil
	case c.Region != "":
		ep, ok := regions[strings.ToUpper(c.Region)]
		if !ok {
			return "", badVar("REGION", c.Region, "want UK3, US1 or US2 (or set STREAMD_ENDPOINT)")
		}
		return ep, nil
	}
	return "", badVar("REGION", "", "one of STREAMD_REGION or STREAMD_ENDPOINT is required")
}

// validateStream checks what is read and how: the topics (returned), the
// mode and subscription, the start, the auth mode for key and the window.
func (c *Config) validateStream(key string) ([]topicRef, error) {
	if c.Namespace == "" || strings.ContainsAny(c.Namespace, "/?# ") {
		return nil, badVar("NAMESPACE", c.Namespace, "must be a namespace name such as event-v1")
	}
	topics, err := c.parseTopics()
	if err != nil {
		return nil, err
	}
	if err := c.validateMode(); err != nil {
		return nil, err
	}
	if err := c.validateStart(); err != nil {
		return nil, err
	}

	switch consumer.AuthMode(c.Auth) {
	case consumer.AuthHeader, consumer.AuthQuery:
	case consumer.AuthBasic:
		if strings.HasPrefix(key, "eght_") {
			return nil, badVar("AUTH", c.Auth, "basic works with Contact Center tokens only; use header with an eght_ key")
		}
	default:
		return nil, badVar("AUTH", c.Auth, "want header, query or basic")
	}
	if c.ReceiverQueueSize < 1 || c.ReceiverQueueSize > 1000 {
		return nil, badVar("RECEIVER_QUEUE_SIZE", itoa(c.ReceiverQueueSize), "want 1..1000")
	}
	return topics, nil
}

// validateMode checks MODE, SUBSCRIPTION and SUBSCRIPTION_TYPE.
func (c *Config) validateMode() error {
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
		return nil
	}
	return badVar("SUBSCRIPTION_TYPE", c.SubscriptionType, "want Exclusive, Failover, Shared or Key_Shared")
}

// validateStart checks START against the mode.
func (c *Config) validateStart() error {
	switch c.Start {
	case "earliest", "latest":
		return nil
	}
	if c.Mode == string(consumer.ModeConsumer) {
		return badVar("START", c.Start, "consumer mode starts a new subscription at earliest or latest only")
	}
	if _, err := consumer.ParseMessageID(c.Start); err != nil {
		return badVar("START", c.Start, "want earliest, latest or a base64 Pulsar message id")
	}
	return nil
}

// validateLogging checks LOG_LEVEL and LOG_FORMAT.
func (c *Config) validateLogging() error {
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return badVar("LOG_LEVEL", c.LogLevel, "want debug, info, warn or error")
	}
	switch c.LogFormat {
	case "auto", "text", "json":
		return nil
	}
	return badVar("LOG_FORMAT", c.LogFormat, "want auto, text or json")
}

// validateTimings checks the durations, which must be positive, and the
// sizes and counts that bound them.
func (c *Config) validateTimings() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"RECONNECT_MIN", c.ReconnectMin},
		{"RECONNECT_MAX", c.ReconnectMax},
		{"HANDSHAKE_TIMEOUT", c.HandshakeTimeout},
		{"PING_INTERVAL", c.PingInterval},
		{"PING_TIMEOUT", c.PingTimeout},
		{"CHECKPOINT_INTERVAL", c.CheckpointPeriod},
		{"SHUTDOWN_TIMEOUT", c.ShutdownTimeout},
		{"FILE_FSYNC_INTERVAL", c.FileFsyncInterval},
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
	return nil
}

// loadKey finds the credential (see readKey), checks its shape and returns
// it with its kind.
func (c *Config) loadKey(getenv func(string) string) (key, kind string, err error) {
	name, key, err := readKey(getenv, c.APIKey, c.APIKeyFile)
	if err != nil {
		return "", "", err
	}
	if key == "" {
		return "", "", badSecret("API_KEY", "required: set STREAMD_API_KEY or STREAMD_API_KEY_FILE (or a systemd credential named api_key)")
	}
	kind, err = consumer.CredentialKind(key)
	if err != nil {
		return "", "", badSecret(name, err.Error())
	}
	return key, kind, nil
}

// readKey returns the credential of STREAMD_API_KEY (key), else of the file
// STREAMD_API_KEY_FILE names (file), else of the systemd credential api_key
// in $CREDENTIALS_DIRECTORY, with the variable it came from ("API_KEY" or
// "API_KEY_FILE"); "" when none is set. A file's trailing newline is
// dropped; an unreadable file is a *configError.
func readKey(getenv func(string) string, key, file string) (name, value string, err error) {
	if key != "" {
		return "API_KEY", key, nil
	}
	if file == "" {
		if dir := getenv("CREDENTIALS_DIRECTORY"); dir != "" {
			file = filepath.Join(dir, "api_key")
		}
	}
	if file == "" {
		return "API_KEY", "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", "", badVar("API_KEY_FILE", file, "cannot read: "+err.Error())
	}
	return "API_KEY_FILE", strings.TrimRight(string(b), "\r\n"), nil
}

// parseTopics resolves TOPICS against NAMESPACE.
func (c *Config) parseTopics() ([]topicRef, error) {
	var topics []topicRef
	seen := map[string]bool{}
	for _, raw := range c.Topics {
		s := strings.TrimSpace(raw)
		ns, topic, ok := strings.Cut(s, "/")
		if !ok {
			ns, topic = c.Namespace, s
		}
		if ns == "" || topic == "" || strings.ContainsAny(topic, "/?# ") {
			return nil, badVar("TOPICS", strings.Join(c.Topics, ","), "entry "+strconvQuote(raw)+" is not topic or namespace/topic")
		}
		ref := topicRef{
			namespace: ns,
			topic:     topic,
		}
		if seen[ref.String()] {
			return nil, badVar("TOPICS", strings.Join(c.Topics, ","), "topic "+ref.String()+" is listed twice")
		}
		seen[ref.String()] = true
		topics = append(topics, ref)
	}
	if len(topics) == 0 {
		return nil, badVar("TOPICS", "", "at least one topic is required")
	}
	return topics, nil
}
