package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/streamd/streamd/internal/redact"
)

// Config is streamd's configuration, read from STREAMD_* environment
// variables. The desc and default tags are the documentation printed by
// `streamd help` and mirrored in config.example.env.
type Config struct {
	Tenant            string        `envconfig:"STREAMD_TENANT" desc:"8x8 tenant name (required)"`
	APIKey            string        `envconfig:"STREAMD_API_KEY" desc:"eght_ Admin Console key or Contact Center token (or use API_KEY_FILE)"`
	APIKeyFile        string        `envconfig:"STREAMD_API_KEY_FILE" desc:"file holding the key; $CREDENTIALS_DIRECTORY/api_key is also read"`
	Region            string        `envconfig:"STREAMD_REGION" desc:"8x8 region (UK3, US1, US2) or Contact Center cluster (NA7, EU4 ... from vcc-<cluster>.8x8.com); one of REGION/ENDPOINT required"`
	Endpoint          string        `envconfig:"STREAMD_ENDPOINT" desc:"base URL overriding the region, wss://host[:port] or ws:// for local use"`
	Namespace         string        `envconfig:"STREAMD_NAMESPACE" default:"event-v1" desc:"namespace of topics given without one"`
	Topics            []string      `envconfig:"STREAMD_TOPICS" default:"all" desc:"comma list of topic or namespace/topic"`
	Mode              string        `envconfig:"STREAMD_MODE" default:"reader" desc:"reader or consumer"`
	Subscription      string        `envconfig:"STREAMD_SUBSCRIPTION" default:"streamd" desc:"consumer subscription name"`
	SubscriptionType  string        `envconfig:"STREAMD_SUBSCRIPTION_TYPE" default:"Failover" desc:"Exclusive, Failover, Shared or Key_Shared"`
	Instance          string        `envconfig:"STREAMD_INSTANCE" desc:"this replica's name in logs, metrics, the Streamd-Instance header and as consumerName (default the hostname)"`
	Start             string        `envconfig:"STREAMD_START" default:"latest" desc:"earliest, latest or a message id: where to begin without a checkpoint"`
	StateDir          string        `envconfig:"STREAMD_STATE_DIR" desc:"checkpoints and dead letters (default $STATE_DIRECTORY, else ~/.local/state/streamd)"`
	Auth              string        `envconfig:"STREAMD_AUTH" default:"header" desc:"header (X-API-Key), query (?x-api-key=) or basic (CC tokens only)"`
	ReceiverQueueSize int           `envconfig:"STREAMD_RECEIVER_QUEUE_SIZE" default:"1000" desc:"proxy window of unacked messages, 1..1000"`
	Sinks             []string      `envconfig:"STREAMD_SINKS" default:"stdout" desc:"comma list of stdout, file, nats"`
	Format            string        `envconfig:"STREAMD_FORMAT" default:"envelope" desc:"envelope or event, for stdout and file"`
	HTTPAddr          string        `envconfig:"STREAMD_HTTP_ADDR" default:"127.0.0.1:9464" desc:"metrics and health listener; empty disables"`
	LogLevel          string        `envconfig:"STREAMD_LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	LogFormat         string        `envconfig:"STREAMD_LOG_FORMAT" default:"auto" desc:"auto (text on a terminal, else JSON), text or json"`
	ReconnectMin      time.Duration `envconfig:"STREAMD_RECONNECT_MIN" default:"1s" desc:"first reconnect delay"`
	ReconnectMax      time.Duration `envconfig:"STREAMD_RECONNECT_MAX" default:"60s" desc:"maximum reconnect delay (also used after 401/403)"`
	HandshakeTimeout  time.Duration `envconfig:"STREAMD_HANDSHAKE_TIMEOUT" default:"45s" desc:"WebSocket handshake timeout"`
	PingInterval      time.Duration `envconfig:"STREAMD_PING_INTERVAL" default:"20s" desc:"client ping period (keeps idle streams alive)"`
	PingTimeout       time.Duration `envconfig:"STREAMD_PING_TIMEOUT" default:"10s" desc:"pong deadline; a silent peer is replaced after interval+timeout"`
	ReadLimit         int64         `envconfig:"STREAMD_READ_LIMIT" default:"16777216" desc:"largest frame delivered, in bytes (a larger one is dead-lettered)"`
	InflightBytes     int64         `envconfig:"STREAMD_INFLIGHT_BYTES" default:"67108864" desc:"per topic: bytes of events read but not yet accepted by the sinks; past it streamd stops reading (TCP backpressure)"`
	CheckpointEvery   int           `envconfig:"STREAMD_CHECKPOINT_EVERY" default:"1000" desc:"reader: write the checkpoint after this many messages"`
	CheckpointPeriod  time.Duration `envconfig:"STREAMD_CHECKPOINT_INTERVAL" default:"1s" desc:"reader: or after this long (and always at shutdown)"`
	DeadLetterPath    string        `envconfig:"STREAMD_DEAD_LETTER_PATH" desc:"dead-letter file (default STATE_DIR/dead-letter.jsonl)"`
	ShutdownTimeout   time.Duration `envconfig:"STREAMD_SHUTDOWN_TIMEOUT" default:"30s" desc:"graceful stop deadline; then exit non-zero without acking"`
	NoEventsWarning   time.Duration `envconfig:"STREAMD_NO_EVENTS_WARNING" default:"10m" desc:"warn once when a fresh daemon has received no event for this long (wrong region?); 0 disables"`

	CheckpointStore    string `envconfig:"STREAMD_CHECKPOINT_STORE" default:"file" desc:"reader: file (in STATE_DIR) or nats (a JetStream key-value bucket on NATS_URL)"`
	CheckpointBucket   string `envconfig:"STREAMD_CHECKPOINT_BUCKET" default:"streamd-checkpoints" desc:"nats store: bucket, created if missing, never changed if present"`
	CheckpointReplicas int    `envconfig:"STREAMD_CHECKPOINT_REPLICAS" default:"1" desc:"nats store: replicas of a bucket streamd creates, 1..5"`

	StdoutEvents []string `envconfig:"STREAMD_STDOUT_EVENTS" desc:"stdout: only these event types (default all)"`

	FileEvents        []string      `envconfig:"STREAMD_FILE_EVENTS" desc:"file: only these event types (default all)"`
	FilePath          string        `envconfig:"STREAMD_FILE_PATH" desc:"file: path of the JSON-lines file (required with the file sink)"`
	FileFsync         string        `envconfig:"STREAMD_FILE_FSYNC" default:"interval" desc:"file: always, interval or never"`
	FileFsyncInterval time.Duration `envconfig:"STREAMD_FILE_FSYNC_INTERVAL" default:"1s" desc:"file: fsync period for interval"`
	FileMaxBytes      int64         `envconfig:"STREAMD_FILE_MAX_BYTES" default:"0" desc:"file: rotate beyond this size; 0 never rotates"`
	FileMaxBackups    int           `envconfig:"STREAMD_FILE_MAX_BACKUPS" default:"5" desc:"file: rotated files to keep"`

	NATSEvents          []string      `envconfig:"STREAMD_NATS_EVENTS" desc:"nats: only these event types (default all)"`
	NATSURL             string        `envconfig:"STREAMD_NATS_URL" default:"nats://127.0.0.1:4222" desc:"nats: server URLs, comma separated"`
	NATSSubject         string        `envconfig:"STREAMD_NATS_SUBJECT" default:"8x8.{tenant}.{type}" desc:"nats: subject template over {tenant} {namespace} {topic} {type}"`
	NATSCredsFile       string        `envconfig:"STREAMD_NATS_CREDS_FILE" desc:"nats: credentials file"`
	NATSNKeySeedFile    string        `envconfig:"STREAMD_NATS_NKEY_SEED_FILE" desc:"nats: nkey seed file"`
	NATSUser            string        `envconfig:"STREAMD_NATS_USER" desc:"nats: user name"`
	NATSPassword        string        `envconfig:"STREAMD_NATS_PASSWORD" desc:"nats: password"`
	NATSPasswordFile    string        `envconfig:"STREAMD_NATS_PASSWORD_FILE" desc:"nats: file holding the password; $CREDENTIALS_DIRECTORY/nats_password is also read"`
	NATSToken           string        `envconfig:"STREAMD_NATS_TOKEN" desc:"nats: token"`
	NATSTokenFile       string        `envconfig:"STREAMD_NATS_TOKEN_FILE" desc:"nats: file holding the token; $CREDENTIALS_DIRECTORY/nats_token is also read"`
	NATSTLSCAFile       string        `envconfig:"STREAMD_NATS_TLS_CA_FILE" desc:"nats: CA certificate file"`
	NATSTLSCertFile     string        `envconfig:"STREAMD_NATS_TLS_CERT_FILE" desc:"nats: client certificate file"`
	NATSTLSKeyFile      string        `envconfig:"STREAMD_NATS_TLS_KEY_FILE" desc:"nats: client key file"`
	NATSJetStream       bool          `envconfig:"STREAMD_NATS_JETSTREAM" default:"false" desc:"nats: publish to JetStream and wait for PubAcks"`
	NATSStream          string        `envconfig:"STREAMD_NATS_STREAM" desc:"nats: ensure this JetStream stream exists (created if missing)"`
	NATSDuplicateWindow time.Duration `envconfig:"STREAMD_NATS_DUPLICATE_WINDOW" default:"2m" desc:"nats: duplicate window of a stream streamd creates"`
	NATSMaxInflight     int           `envconfig:"STREAMD_NATS_MAX_INFLIGHT" default:"256" desc:"nats: JetStream publishes awaiting PubAck"`
	NATSAckTimeout      time.Duration `envconfig:"STREAMD_NATS_ACK_TIMEOUT" default:"2s" desc:"nats: wait for one server answer (a PubAck, a JetStream API reply) before retrying"`
	NATSMaxControlLine  int           `envconfig:"STREAMD_NATS_MAX_CONTROL_LINE" default:"4096" desc:"nats: the server's max_control_line in bytes; an event whose subject exceeds it is rejected, never sent"`

	EmulatorAddr      string        `envconfig:"STREAMD_EMULATOR_ADDR" default:"127.0.0.1:8765" desc:"emulate: listen address of the emulator"`
	EmulatorRate      float64       `envconfig:"STREAMD_EMULATOR_RATE" default:"5" desc:"demo/emulate: generated events per second"`
	EmulatorRetain    int           `envconfig:"STREAMD_EMULATOR_RETAIN" default:"5000" desc:"demo/emulate: messages kept per topic, oldest dropped first; 0 = no count limit"`
	EmulatorRetainFor time.Duration `envconfig:"STREAMD_EMULATOR_RETAIN_FOR" default:"1h" desc:"demo/emulate: messages older than this are dropped; 0 = no age limit"`

	derived // set by loadConfig from validate's result
}

type topicRef struct{ namespace, topic string }

func (t topicRef) String() string { return t.namespace + "/" + t.topic }

// configError is invalid configuration: exit status 78 (EX_CONFIG).
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// badVar is the *configError for STREAMD_<name>=value. The value is
// redacted (URL userinfo) before it is quoted, so nothing of a password is
// left in the message however the value is escaped.
func badVar(name, value, why string) error {
	return &configError{msg: fmt.Sprintf("invalid configuration: STREAMD_%s=%q: %s", name, redact.Value(value), why)}
}

func badSecret(name, why string) error {
	return &configError{msg: fmt.Sprintf("invalid configuration: STREAMD_%s: %s", name, why)}
}

// loadConfig reads and validates the environment: getenv for single
// variables, environ (NAME=value entries, may be nil) to find STREAMD_
// names that are not streamd's. override, if set, adjusts the configuration
// before validation.
func loadConfig(getenv func(string) string, environ []string, override func(*Config)) (*Config, error) {
	if err := checkNames(environ); err != nil {
		return nil, err
	}

	var c Config
	if err := processEnv(&c); err != nil {
		return nil, err
	}

	if override != nil {
		override(&c)
	}

	d, err := c.validate(getenv)
	if err != nil {
		return nil, err
	}

	c.derived = d
	c.fillDefaults(getenv)

	return &c, nil
}

// processEnv fills spec from the environment with envconfig. Every tag
// names the whole variable (STREAMD_...) and no prefix is given, so
// envconfig's fallback to the tag's name looks up that same name: an
// unprefixed HTTP_ADDR, TENANT or API_KEY is never read.
func processEnv(spec any) error {
	err := envconfig.Process("", spec)
	if err == nil {
		return nil
	}

	var pe *envconfig.ParseError
	if errors.As(err, &pe) {
		val := redact.Value(pe.Value)
		if isSecret(pe.KeyName) {
			val = "REDACTED"
		}
		return &configError{msg: fmt.Sprintf("invalid configuration: %s=%q: cannot parse as %s", pe.KeyName, val, pe.TypeName)}
	}

	return &configError{msg: "invalid configuration: " + redact.String(err.Error())}
}

func isSecret(key string) bool {
	return strings.HasSuffix(key, "API_KEY") || strings.HasSuffix(key, "PASSWORD") || strings.HasSuffix(key, "TOKEN")
}

// envVars lists every variable of Config with its default and description,
// in order.
func envVars() [][3]string { return varsOf(reflect.TypeFor[Config]()) }

// varsOf lists the envconfig variables of the struct type typ:
// {"STREAMD_NAME", default, desc tag}.
func varsOf(typ reflect.Type) [][3]string {
	var out [][3]string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if name := f.Tag.Get("envconfig"); name != "" {
			out = append(out, [3]string{name, f.Tag.Get("default"), f.Tag.Get("desc")})
		}
	}
	return out
}

// defaultStateDir follows systemd's $STATE_DIRECTORY, then XDG.
func defaultStateDir(getenv func(string) string) string {
	if d := getenv("STATE_DIRECTORY"); d != "" {
		first, _, _ := strings.Cut(d, ":")
		return first
	}
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "streamd")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "streamd")
	}
	return "streamd-state"
}

func itoa(i int) string { return fmt.Sprint(i) }

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }
