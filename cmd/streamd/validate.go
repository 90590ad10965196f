package main

import (
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/sink"
)

// derived are the values validate computes from a Config.
type derived struct {
	endpoint     string      // base URL, wss://host[:port]
	regionNote   string      // how a Contact Center cluster was resolved; "" otherwise
	apiKey       string      // the credential, from wherever it came
	credKind     string      // what kind of credential apiKey is, for logs
	natsPassword string      // NATS_PASSWORD, from wherever it came
	natsToken    string      // NATS_TOKEN, from wherever it came
	topics       []topicRef  // TOPICS resolved against NAMESPACE
	format       sink.Format // FORMAT parsed
	warnings     []string    // problems worth a log line that do not stop streamd
}

// validate checks every variable and returns the derived values. The
// first problem found is returned as a *configError naming the variable.
func (c *Config) validate(getenv func(string) string) (derived, error) {
	var (
		d   derived
		err error
	)
	if err := c.validateTenant(); err != nil {
		return derived{}, err
	}

	if err := c.loadSecrets(getenv, &d); err != nil {
		return derived{}, err
	}

	if d.endpoint, d.regionNote, err = c.validateEndpoint(); err != nil {
		return derived{}, err
	}

	if d.topics, err = c.validateStream(d.apiKey); err != nil {
		return derived{}, err
	}

	if d.format, err = c.validateSinks(); err != nil {
		return derived{}, err
	}

	if err := c.validateHTTPAddr(); err != nil {
		return derived{}, err
	}

	if err := c.validateLogging(); err != nil {
		return derived{}, err
	}

	if err := c.validateBounds(); err != nil {
		return derived{}, err
	}

	if err := c.validateCheckpointStore(); err != nil {
		return derived{}, err
	}

	if err := c.validateInstance(); err != nil {
		return derived{}, err
	}

	return d, nil
}

// logDerived logs what validation found worth saying: the region a
// Contact Center cluster resolved to, and warnings.
func (c *Config) logDerived(log *slog.Logger) {
	if c.regionNote != "" {
		log.Info("region resolved from the Contact Center cluster", "region", c.Region, "endpoint", c.endpoint, "detail", c.regionNote)
	}
	for _, w := range c.warnings {
		log.Warn(w)
	}
}

// fillDefaults sets the defaults that depend on the environment: STATE_DIR,
// DEAD_LETTER_PATH and INSTANCE.
func (c *Config) fillDefaults(getenv func(string) string) {
	if c.Instance == "" {
		c.Instance = defaultInstance()
	}
	if c.StateDir == "" {
		c.StateDir = defaultStateDir(getenv)
	}
	if c.DeadLetterPath == "" {
		c.DeadLetterPath = filepath.Join(c.StateDir, "dead-letter.jsonl")
	}
}

// validateTenant checks TENANT.
func (c *Config) validateTenant() error {
	if c.Tenant == "" {
		return badVar("TENANT", c.Tenant, "required: your 8x8 tenant name")
	}
	if strings.ContainsAny(c.Tenant, "/?#% ") {
		return badVar("TENANT", c.Tenant, "must be a bare tenant name")
	}
	return nil
}

// credentialKind checks the shape of the API key and returns its kind.
func credentialKind(key secret) (string, error) {
	kind, err := consumer.CredentialKind(key.value)
	if err != nil {
		return "", badSecret(key.source, err.Error())
	}
	return kind, nil
}

// validateEndpoint returns the base URL from ENDPOINT or REGION, and how a
// Contact Center cluster given as REGION was resolved.
func (c *Config) validateEndpoint() (endpoint, note string, err error) {
	switch {
	case c.Endpoint != "":
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return "", "", badVar("ENDPOINT", c.Endpoint, "want wss://host[:port] (or ws:// for local use), without user, path or query")
		}
		return strings.TrimSuffix(c.Endpoint, "/"), "", nil
	case c.Region != "":
		return resolveRegion(c.Region)
	}
	return "", "", badVar("REGION", "", "one of STREAMD_REGION or STREAMD_ENDPOINT is required")
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

// validateHTTPAddr checks that HTTP_ADDR, when set, is host:port with a
// port of 0..65535, so that `check` rejects what `run` cannot listen on.
// Whether the port is free is not checked: the daemon may hold it.
func (c *Config) validateHTTPAddr() error {
	if c.HTTPAddr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil {
		return badVar("HTTP_ADDR", c.HTTPAddr, "want host:port, e.g. 127.0.0.1:9464 (empty disables)")
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return badVar("HTTP_ADDR", c.HTTPAddr, "want a port number 0..65535")
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
