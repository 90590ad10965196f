package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/streamd/streamd/consumer/pulsartest"
)

// TestConfigMistakesExit78: misspelt names, a secret given twice, values
// out of bounds and secrets with control bytes exit 78 naming the variable,
// without showing any secret.
func TestConfigMistakesExit78(t *testing.T) {
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "key", testKey+"\n", 0o600)
	nlKeyFile := writeFile(t, dir, "nl-key", "eght_TopSecret\nKeyValue_123\n", 0o600)
	natsPassFile := writeFile(t, dir, "nats-pass", "natsTop\x00Secret\n", 0o600)
	nlOnlyFile := writeFile(t, dir, "nl-only", "\n", 0o600)
	creds := t.TempDir()
	writeFile(t, creds, "api_key", "", 0o600)
	natsCreds := t.TempDir()
	writeFile(t, natsCreds, "nats_password", "", 0o600)
	cases := []struct {
		name string
		kv   []string
		want string
	}{
		{"misspelt name", []string{"STREAMD_SINK", "nats"}, "unknown variable STREAMD_SINK; did you mean STREAMD_SINKS?"},
		{"misspelt name far off", []string{"STREAMD_CHECKPIONT_EVRY", "5"}, "did you mean STREAMD_CHECKPOINT_EVERY?"},
		{"key and key file", []string{"STREAMD_API_KEY_FILE", keyFile}, "STREAMD_API_KEY: set either STREAMD_API_KEY or STREAMD_API_KEY_FILE, not both"},
		{"nats password twice", []string{"STREAMD_NATS_PASSWORD_FILE", keyFile}, "STREAMD_NATS_PASSWORD: set either"},
		{"read limit no limit", []string{"STREAMD_READ_LIMIT", "9223372036854775807"}, `STREAMD_READ_LIMIT="9223372036854775807"`},
		{"inflight bytes of a kilobyte", []string{"STREAMD_INFLIGHT_BYTES", "1024"}, `STREAMD_INFLIGHT_BYTES="1024"`},
		{"negative duplicate window", []string{"STREAMD_NATS_DUPLICATE_WINDOW", "-1m"}, `STREAMD_NATS_DUPLICATE_WINDOW="-1m0s"`},
		{"negative ping timeout", []string{"STREAMD_PING_TIMEOUT", "-5s"}, `STREAMD_PING_TIMEOUT="-5s"`},
		{"ping interval of a year", []string{"STREAMD_PING_INTERVAL", "8760h"}, `STREAMD_PING_INTERVAL="8760h0m0s"`},
		{"checkpoint every billion", []string{"STREAMD_CHECKPOINT_EVERY", "1000000000"}, `STREAMD_CHECKPOINT_EVERY="1000000000"`},
		{"checkpoint interval negative", []string{"STREAMD_CHECKPOINT_INTERVAL", "-1s"}, `STREAMD_CHECKPOINT_INTERVAL="-1s"`},
		{"max inflight huge", []string{"STREAMD_NATS_MAX_INFLIGHT", "100000000"}, `STREAMD_NATS_MAX_INFLIGHT="100000000"`},
		{"negative no-events warning", []string{"STREAMD_NO_EVENTS_WARNING", "-1m"}, `STREAMD_NO_EVENTS_WARNING="-1m0s"`},
		{"key with newline", []string{"STREAMD_API_KEY", "eght_TopSecret\nKeyValue_123"}, "STREAMD_API_KEY: contains a control character"},
		{"key file with inner newline", []string{"STREAMD_API_KEY", "", "STREAMD_API_KEY_FILE", nlKeyFile}, "STREAMD_API_KEY_FILE: contains a control character"},
		{"nats password file with NUL", []string{"STREAMD_NATS_PASSWORD", "", "STREAMD_NATS_PASSWORD_FILE", natsPassFile}, "STREAMD_NATS_PASSWORD_FILE: contains a control character"},
		{"key file empty", []string{"STREAMD_API_KEY", "", "STREAMD_API_KEY_FILE", "/dev/null"}, `STREAMD_API_KEY_FILE="/dev/null": the file is empty`},
		{"key file only a newline", []string{"STREAMD_API_KEY", "", "STREAMD_API_KEY_FILE", nlOnlyFile}, "STREAMD_API_KEY_FILE=" + strconv.Quote(nlOnlyFile) + ": the file is empty"},
		{"nats token file empty", []string{"STREAMD_NATS_PASSWORD", "", "STREAMD_NATS_TOKEN_FILE", "/dev/null"}, `STREAMD_NATS_TOKEN_FILE="/dev/null": the file is empty`},
		{"key credential empty", []string{"STREAMD_API_KEY", "", "CREDENTIALS_DIRECTORY", creds}, "the file is empty"},
		{"nats password credential empty", []string{"STREAMD_NATS_PASSWORD", "", "CREDENTIALS_DIRECTORY", natsCreds}, "nats_password\": the file is empty"},
		{"pending region", []string{"STREAMD_ENDPOINT", "", "STREAMD_REGION", "HK1"}, "listed by 8x8 as pending"},
		{"cluster of a pending region", []string{"STREAMD_ENDPOINT", "", "STREAMD_REGION", "AU2"}, "cluster AU2 belongs to 8x8 region SY1, which is listed by 8x8 as pending"},
		{"endpoint with userinfo", []string{"STREAMD_ENDPOINT", "wss://user:natsTopSecretPassword@h"}, `STREAMD_ENDPOINT="wss://REDACTED@h"`},
		{"endpoint with userinfo, no scheme", []string{"STREAMD_ENDPOINT", "user:natsTopSecretPassword@127.0.0.1:1"}, `STREAMD_ENDPOINT="REDACTED@127.0.0.1:1"`},
		{"http addr without a port", []string{"STREAMD_HTTP_ADDR", "localhost"}, `STREAMD_HTTP_ADDR="localhost": want host:port`},
		{"http addr with a port out of range", []string{"STREAMD_HTTP_ADDR", "127.0.0.1:99999"}, `STREAMD_HTTP_ADDR="127.0.0.1:99999": want a port number`},
		{"stdout events with a space inside a name", []string{"STREAMD_STDOUT_EVENTS", "Interaction Created"}, `STREAMD_STDOUT_EVENTS="Interaction Created": entry "Interaction Created" is not an event type name`},
		{"nats events with an empty entry", []string{"STREAMD_SINKS", "nats", "STREAMD_NATS_EVENTS", "InteractionCreated,,InteractionDeleted"}, `STREAMD_NATS_EVENTS="InteractionCreated,,InteractionDeleted": entry ""`},
		{"nats subject with an empty token", []string{"STREAMD_SINKS", "nats", "STREAMD_NATS_SUBJECT", "8x8..{type}"}, `STREAMD_NATS_SUBJECT="8x8..{type}": check subject template`},
		{"nats subject unterminated", []string{"STREAMD_SINKS", "nats", "STREAMD_NATS_SUBJECT", "8x8.{tenant"}, `STREAMD_NATS_SUBJECT="8x8.{tenant": parse subject template: unterminated`},
		{"nats subject with a wildcard beside a placeholder", []string{"STREAMD_SINKS", "nats", "STREAMD_NATS_SUBJECT", "8x8.>.{type}"}, `STREAMD_NATS_SUBJECT="8x8.>.{type}"`},
		{"nats url with userinfo, no scheme", []string{"STREAMD_SINKS", "nats", "STREAMD_NATS_URL", "bob:natsTopSecret@127.0.0.1:1"}, `STREAMD_NATS_URL="REDACTED@127.0.0.1:1"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, cmd := range []string{"run", "check"} {
				p := run(t, validEnv(t).with(tc.kv...), cmd)
				stderr := p.stderr.String()
				if p.code != exitConfig {
					t.Fatalf("%s: exit %d, want %d; stderr:\n%s", cmd, p.code, exitConfig, stderr)
				}
				if !strings.Contains(stderr, tc.want) {
					t.Errorf("%s: stderr lacks %q:\n%s", cmd, tc.want, stderr)
				}
				for _, secret := range []string{"TopSecret", "KeyValue", "natsTop"} {
					if strings.Contains(stderr+p.stdout.String(), secret) {
						t.Errorf("%s: output shows a secret (%s):\n%s", cmd, secret, stderr)
					}
				}
			}
		})
	}
}

// TestNATSURLRedactedInExit78: a NATS URL whose password has a '/' or a
// space does not parse; the exit-78 message shows it without the userinfo.
func TestNATSURLRedactedInExit78(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"nats://user:s3cr/etPass@127.0.0.1:1", "nats://user:s3cr etPass@127.0.0.1:1", "nats://user:s3cr%zzetPass@h:1"} {
		p := run(t, validEnv(t).with("STREAMD_SINKS", "nats", "STREAMD_NATS_URL", u), "check")
		stderr := p.stderr.String()
		if p.code != exitConfig || !strings.Contains(stderr, `STREAMD_NATS_URL="nats://REDACTED@`) {
			t.Errorf("%s: exit %d, stderr:\n%s", u, p.code, stderr)
		}
		if strings.Contains(stderr, "etPass") || strings.Contains(stderr, "s3cr") {
			t.Errorf("%s: the password shows:\n%s", u, stderr)
		}
	}
}

// TestOnlyPrefixedVariablesAreRead: every variable's unprefixed name set to
// garbage changes nothing (envconfig would fall back to HTTP_ADDR, TENANT,
// API_KEY, LOG_LEVEL ... when the STREAMD_ one is unset).
func TestOnlyPrefixedVariablesAreRead(t *testing.T) {
	e := env{"HOME": t.TempDir(), "STREAMD_TENANT": "acme", "STREAMD_API_KEY": testKey, "STREAMD_REGION": "UK3"}
	want, err := loadConfigFrom(t, e)
	if err != nil {
		t.Fatal(err)
	}

	for _, name := range knownVars() {
		e[strings.TrimPrefix(name, "STREAMD_")] = "garbage!"
	}
	got, err := loadConfigFrom(t, e)
	if err != nil {
		t.Fatalf("unprefixed garbage was read: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unprefixed garbage changed the configuration:\n got %+v\nwant %+v", got, want)
	}
	if got.HTTPAddr != "127.0.0.1:9464" || got.LogLevel != "info" {
		t.Errorf("HTTP_ADDR %q, LOG_LEVEL %q: defaults expected", got.HTTPAddr, got.LogLevel)
	}
}

// TestRegionFromCluster: a Contact Center cluster resolves through 8x8's
// map; region labels and hostname codes still work.
func TestRegionFromCluster(t *testing.T) {
	for in, want := range map[string]string{
		"NA7":             "wss://pulsar-ws-usw2.8x8.com",
		"na39":            "wss://pulsar-ws-usw2.8x8.com",
		"vcc-na7.8x8.com": "wss://pulsar-ws-usw2.8x8.com",
		"NA16":            "wss://pulsar-ws-use1.8x8.com",
		"SB1":             "wss://pulsar-ws-use1.8x8.com",
		"EU4":             "wss://pulsar-ws-euw2.8x8.com",
		"EU14":            "wss://pulsar-ws-euw2.8x8.com",
		"UK3":             "wss://pulsar-ws-euw2.8x8.com",
		"euw2":            "wss://pulsar-ws-euw2.8x8.com",
		"US2":             "wss://pulsar-ws-usw2.8x8.com",
	} {
		got, note, err := resolveRegion(in)
		if err != nil || got != want {
			t.Errorf("resolveRegion(%q) = %q, %v; want %q", in, got, err, want)
		}
		if isCluster := !strings.EqualFold(in, "UK3") && !strings.EqualFold(in, "US2") && !strings.EqualFold(in, "euw2"); isCluster != (note != "") {
			t.Errorf("resolveRegion(%q) note %q", in, note)
		}
	}
	for _, in := range []string{"NA21", "NA0", "EU3", "EU15", "NA07", "MARS1", "NA"} {
		if _, _, err := resolveRegion(in); err == nil || !strings.Contains(err.Error(), "Contact Center cluster") {
			t.Errorf("resolveRegion(%q) = %v, want an error naming clusters", in, err)
		}
	}
	for _, in := range []string{"AP1", "AP21", "EU21", "BC2", "EU31", "CA1", "AU1", "HK2", "ON1"} {
		if _, _, err := resolveRegion(in); err == nil || !strings.Contains(err.Error(), "pending") {
			t.Errorf("resolveRegion(%q) = %v, want pending", in, err)
		}
	}
}

// TestSecretsFromFiles: the NATS password and token come from their _FILE
// or the systemd credentials; a file others can read is a warning in check.
func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	creds := t.TempDir()
	writeFile(t, creds, "nats_password", "credPass\n", 0o400)
	writeFile(t, creds, "nats_token", "credToken\r\n", 0o400)
	writeFile(t, creds, "api_key", testKey, 0o400)
	c, err := loadConfigFrom(t, validEnv(t).with("STREAMD_API_KEY", "", "STREAMD_NATS_PASSWORD", "", "CREDENTIALS_DIRECTORY", creds))
	if err != nil || c.natsPassword != "credPass" || c.natsToken != "credToken" || c.apiKey != testKey || len(c.warnings) != 0 {
		t.Fatalf("from credentials: %v, password %q, token %q, warnings %q", err, c.natsPassword, c.natsToken, c.warnings)
	}

	pass := writeFile(t, dir, "pass", "filePass\n", 0o644)
	c, err = loadConfigFrom(t, validEnv(t).with("STREAMD_NATS_PASSWORD", "", "STREAMD_NATS_PASSWORD_FILE", pass))
	if err != nil || c.natsPassword != "filePass" || len(c.warnings) != 1 || !strings.Contains(c.warnings[0], "STREAMD_NATS_PASSWORD_FILE") {
		t.Fatalf("from file: %v, password %q, warnings %q", err, c.natsPassword, c.warnings)
	}

	emu := pulsartest.Start(t, pulsartest.Config{Keys: []string{testKey}})
	key := writeFile(t, dir, "key", testKey+"\n", 0o640)
	p := run(t, checkEnv(t, emu, "STREAMD_API_KEY", "", "STREAMD_API_KEY_FILE", key), "check")
	if p.code != exitOK || !strings.Contains(p.stdout.String(), "warning: STREAMD_API_KEY_FILE "+key+" can be read by group or others (mode 0640)") {
		t.Fatalf("exit %d, no warning for a 0640 key file:\n%s%s", p.code, p.stdout.String(), p.stderr.String())
	}
}

// TestSecretsInCredentialsDirectory: systemd's credential files are 0440
// and cannot be changed by the operator, so neither a credential found by
// name nor a _FILE pointing into $CREDENTIALS_DIRECTORY is warned about; a
// 0440 file outside it still is, even under a name that only starts like
// the directory.
func TestSecretsInCredentialsDirectory(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "credentials")
	if err := os.Mkdir(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, creds, "api_key", testKey+"\n", 0o440)
	token := writeFile(t, creds, "token", "credToken\n", 0o440)
	c, err := loadConfigFrom(t, validEnv(t).with("STREAMD_API_KEY", "", "STREAMD_NATS_TOKEN_FILE", token,
		"CREDENTIALS_DIRECTORY", creds))
	if err != nil || c.apiKey != testKey || c.natsToken != "credToken" || len(c.warnings) != 0 {
		t.Fatalf("0440 credentials: %v, token %q, warnings %q", err, c.natsToken, c.warnings)
	}

	sibling := creds + "-copy"
	if err := os.Mkdir(sibling, 0o700); err != nil {
		t.Fatal(err)
	}
	outside := writeFile(t, sibling, "token", "fileToken\n", 0o440)
	c, err = loadConfigFrom(t, validEnv(t).with("STREAMD_NATS_TOKEN_FILE", outside, "CREDENTIALS_DIRECTORY", creds))
	if err != nil || len(c.warnings) != 1 || !strings.Contains(c.warnings[0], "STREAMD_NATS_TOKEN_FILE "+outside+" can be read by group") {
		t.Fatalf("0440 file outside the credentials directory: %v, warnings %q", err, c.warnings)
	}
}

// loadConfigFrom loads the configuration of e in-process: the process
// environment is e for the test (t.Setenv, so the test cannot be parallel).
func loadConfigFrom(t *testing.T, e env) (*Config, error) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "STREAMD_") || name == "CREDENTIALS_DIRECTORY" {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	for k, v := range e {
		t.Setenv(k, v)
	}
	return loadConfig(os.Getenv, os.Environ(), nil)
}

func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

// TestRegionResolutionIsLogged: the daemon logs which host a cluster
// resolved to, and the warnings validation found.
func TestRegionResolutionIsLogged(t *testing.T) {
	key := writeFile(t, t.TempDir(), "key", testKey, 0o644)
	c, err := loadConfigFrom(t, validEnv(t).with("STREAMD_ENDPOINT", "", "STREAMD_REGION", "vcc-na7.8x8.com",
		"STREAMD_API_KEY", "", "STREAMD_API_KEY_FILE", key))
	if err != nil {
		t.Fatal(err)
	}
	if c.endpoint != "wss://pulsar-ws-usw2.8x8.com" {
		t.Errorf("endpoint %q", c.endpoint)
	}
	var buf strings.Builder
	c.logDerived(newLogger(&buf, "json", "info"))
	for _, want := range []string{
		`"msg":"region resolved from the Contact Center cluster"`, `"endpoint":"wss://pulsar-ws-usw2.8x8.com"`,
		"cluster NA7 is served by 8x8 region US2 (pulsar-ws-usw2.8x8.com)",
		`"level":"WARN","msg":"STREAMD_API_KEY_FILE ` + key + ` can be read by group or others (mode 0644): chmod 600 it"`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, buf.String())
		}
	}
}

// TestCheckNames: known names and the CI scripts' CI_STREAMD_* (outside streamd's namespace) pass; the
// first unknown one fails naming the closest known one.
func TestCheckNames(t *testing.T) {
	if err := checkNames([]string{"STREAMD_TENANT=a", "CI_STREAMD_SYSTEMD_BOOT=0", "PATH=/bin", "SINKS=x"}); err != nil {
		t.Errorf("known names: %v", err)
	}
	err := checkNames([]string{"STREAMD_TENANT=a", "STREAMD_NATS_JETSTRAEM=true"})
	if err == nil || !strings.Contains(err.Error(), "unknown variable STREAMD_NATS_JETSTRAEM; did you mean STREAMD_NATS_JETSTREAM?") {
		t.Errorf("typo: %v", err)
	}
	if err := checkNames([]string{"STREAMD_FROBNICATE_EVERYTHING_NOW=1"}); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("far from every name: %v", err)
	}
}
