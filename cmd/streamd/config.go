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
)

// Config is streamd's configuration, read from STREAMD_* environment
// variables. The desc and default tags are the documentation printed by
// `streamd help` and mirrored in config.example.env.
type Config struct {
	Tenant            string        `envconfig:"TENANT" desc:"8x8 tenant name (required)"`
	APIKey            string        `envconfig:"API_KEY" desc:"eght_ Admin Console key or Contact Center token (or use API_KEY_FILE)"`
	APIKeyFile        string        `envconfig:"API_KEY_FILE" desc:"file holding the key; $CREDENTIALS_DIRECTORY/api_key is also read"`
	Region            string        `envconfig:"REGION" desc:"UK3, US1 or US2 (one of REGION/ENDPOINT required)"`
	Endpoint          string        `envconfig:"ENDPOINT" desc:"base URL overriding the region, wss://host[:port] or ws:// for local use"`
	Namespace         string        `envconfig:"NAMESPACE" default:"event-v1" desc:"namespace of topics given without one"`
	Topics            []string      `envconfig:"TOPICS" default:"all" desc:"comma list of topic or namespace/topic"`
	Mode              string        `envconfig:"MODE" default:"reader" desc:"reader or consumer"`
	Subscription      string        `envconfig:"SUBSCRIPTION" default:"streamd" desc:"consumer subscription name"`
	SubscriptionType  string        `envconfig:"SUBSCRIPTION_TYPE" default:"Failover" desc:"Exclusive, Failover, Shared or Key_Shared"`
	Start             string        `envconfig:"START" default:"latest" desc:"earliest, latest or a message id: where to begin without a checkpoint"`
	StateDir          string        `envconfig:"STATE_DIR" desc:"checkpoints and dead letters (default $STATE_DIRECTORY, else ~/.local/state/streamd)"`
	Auth              string        `envconfig:"AUTH" default:"header" desc:"header (X-API-Key), query (?x-api-key=) or basic (CC tokens only)"`
	ReceiverQueueSize int           `envconfig:"RECEIVER_QUEUE_SIZE" default:"1000" desc:"proxy window of unacked messages, 1..1000"`
	Sinks             []string      `envconfig:"SINKS" default:"stdout" desc:"comma list of stdout, file, nats"`
	Format            string        `envconfig:"FORMAT" default:"envelope" desc:"envelope or event, for stdout and file"`
	HTTPAddr          string        `envconfig:"HTTP_ADDR" default:"127.0.0.1:9464" desc:"metrics and health listener; empty disables"`
	LogLevel          string        `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	LogFormat         string        `envconfig:"LOG_FORMAT" default:"auto" desc:"auto (text on a terminal, else JSON), text or json"`
	ReconnectMin      time.Duration `envconfig:"RECONNECT_MIN" default:"1s" desc:"first reconnect delay"`
	ReconnectMax      time.Duration `envconfig:"RECONNECT_MAX" default:"60s" desc:"maximum reconnect delay (also used after 401/403)"`
	HandshakeTimeout  time.Duration `envconfig:"HANDSHAKE_TIMEOUT" default:"45s" desc:"WebSocket handshake timeout"`
	PingInterval      time.Duration `envconfig:"PING_INTERVAL" default:"20s" desc:"client ping period (keeps idle streams alive)"`
	PingTimeout       time.Duration `envconfig:"PING_TIMEOUT" default:"10s" desc:"pong deadline; a silent peer is replaced after interval+timeout"`
	ReadLimit         int64         `envconfig:"READ_LIMIT" default:"16777216" desc:"largest accepted frame in bytes"`
	CheckpointEvery   int           `envconfig:"CHECKPOINT_EVERY" default:"1000" desc:"reader: write the checkpoint after this many messages"`
	CheckpointPeriod  time.Duration `envconfig:"CHECKPOINT_INTERVAL" default:"1s" desc:"reader: or after this long (and always at shutdown)"`
	DeadLetterPath    string        `envconfig:"DEAD_LETTER_PATH" desc:"dead-letter file (default STATE_DIR/dead-letter.jsonl)"`
	ShutdownTimeout   time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"30s" desc:"graceful stop deadline; then exit non-zero without acking"`

	CheckpointStore    string `envconfig:"CHECKPOINT_STORE" default:"file" desc:"reader: file (in STATE_DIR) or nats (a JetStream key-value bucket on NATS_URL)"`
	CheckpointBucket   string `envconfig:"CHECKPOINT_BUCKET" default:"streamd-checkpoints" desc:"nats store: bucket, created if missing, never changed if present"`
	CheckpointReplicas int    `envconfig:"CHECKPOINT_REPLICAS" default:"1" desc:"nats store: replicas of a bucket streamd creates, 1..5"`

	StdoutEvents []string `envconfig:"STDOUT_EVENTS" desc:"stdout: only these event types (default all)"`

	FileEvents        []string      `envconfig:"FILE_EVENTS" desc:"file: only these event types (default all)"`
	FilePath          string        `envconfig:"FILE_PATH" desc:"file: path of the JSON-lines file (required with the file sink)"`
	FileFsync         string        `envconfig:"FILE_FSYNC" default:"interval" desc:"file: always, interval or never"`
	FileFsyncInterval time.Duration `envconfig:"FILE_FSYNC_INTERVAL" default:"1s" desc:"file: fsync period for interval"`
	FileMaxBytes      int64         `envconfig:"FILE_MAX_BYTES" default:"0" desc:"file: rotate beyond this size; 0 never rotates"`
	FileMaxBackups    int           `envconfig:"FILE_MAX_BACKUPS" default:"5" desc:"file: rotated files to keep"`

	NATSEvents          []string      `envconfig:"NATS_EVENTS" desc:"nats: only these event types (default all)"`
	NATSURL             string        `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222" desc:"nats: server URLs, comma separated"`
	NATSSubject         string        `envconfig:"NATS_SUBJECT" default:"8x8.{tenant}.{type}" desc:"nats: subject template over {tenant} {namespace} {topic} {type}"`
	NATSCredsFile       string        `envconfig:"NATS_CREDS_FILE" desc:"nats: credentials file"`
	NATSNKeySeedFile    string        `envconfig:"NATS_NKEY_SEED_FILE" desc:"nats: nkey seed file"`
	NATSUser            string        `envconfig:"NATS_USER" desc:"nats: user name"`
	NATSPassword        string        `envconfig:"NATS_PASSWORD" desc:"nats: password"`
	NATSToken           string        `envconfig:"NATS_TOKEN" desc:"nats: token"`
	NATSTLSCAFile       string        `envconfig:"NATS_TLS_CA_FILE" desc:"nats: CA certificate file"`
	NATSTLSCertFile     string        `envconfig:"NATS_TLS_CERT_FILE" desc:"nats: client certificate file"`
	NATSTLSKeyFile      string        `envconfig:"NATS_TLS_KEY_FILE" desc:"nats: client key file"`
	NATSJetStream       bool          `envconfig:"NATS_JETSTREAM" default:"false" desc:"nats: publish to JetStream and wait for PubAcks"`
	NATSStream          string        `envconfig:"NATS_STREAM" desc:"nats: ensure this JetStream stream exists (created if missing)"`
	NATSDuplicateWindow time.Duration `envconfig:"NATS_DUPLICATE_WINDOW" default:"2m" desc:"nats: duplicate window of a stream streamd creates"`
	NATSMaxInflight     int           `envconfig:"NATS_MAX_INFLIGHT" default:"256" desc:"nats: JetStream publishes awaiting PubAck"`

	EmulatorAddr string  `envconfig:"EMULATOR_ADDR" default:"127.0.0.1:8765" desc:"emulate: listen address of the emulator"`
	EmulatorRate float64 `envconfig:"EMULATOR_RATE" default:"5" desc:"demo/emulate: generated events per second"`

	derived // set by loadConfig from validate's result
}

type topicRef struct{ namespace, topic string }

func (t topicRef) String() string { return t.namespace + "/" + t.topic }

// configError is invalid configuration: exit status 78 (EX_CONFIG).
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func badVar(name, value, why string) error {
	return &configError{msg: fmt.Sprintf("invalid configuration: STREAMD_%s=%q: %s", name, value, why)}
}

func badSecret(name, why string) error {
	return &configError{msg: fmt.Sprintf("invalid configuration: STREAMD_%s: %s", name, why)}
}

// loadConfig reads and validates the environment.
func loadConfig(getenv func(string) string, override func(*Config)) (*Config, error) {
	var c Config
	err := envconfig.Process("streamd", &c)
	if err == nil && override != nil {
		override(&c)
	}
	if err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			val := pe.Value
			if isSecret(pe.KeyName) {
				val = "REDACTED"
			}
			return nil, &configError{msg: fmt.Sprintf("invalid configuration: %s=%q: cannot parse as %s", pe.KeyName, val, pe.TypeName)}
		}
		return nil, &configError{msg: "invalid configuration: " + err.Error()}
	}
	d, err := c.validate(getenv)
	if err != nil {
		return nil, err
	}
	c.derived = d
	c.fillDefaults(getenv)
	return &c, nil
}

func isSecret(key string) bool {
	return strings.HasSuffix(key, "API_KEY") || strings.HasSuffix(key, "PASSWORD") || strings.HasSuffix(key, "TOKEN")
}

var regions = map[string]string{
	"UK3":  "wss://pulsar-ws-euw2.8x8.com",
	"EUW2": "wss://pulsar-ws-euw2.8x8.com",
	"US1":  "wss://pulsar-ws-use1.8x8.com",
	"USE1": "wss://pulsar-ws-use1.8x8.com",
	"US2":  "wss://pulsar-ws-usw2.8x8.com",
	"USW2": "wss://pulsar-ws-usw2.8x8.com",
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
			out = append(out, [3]string{"STREAMD_" + name, f.Tag.Get("default"), f.Tag.Get("desc")})
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
