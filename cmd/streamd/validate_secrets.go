package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// secretVar is a secret given as STREAMD_<name>, as the file named by
// STREAMD_<name>_FILE, or as the systemd credential cred
// ($CREDENTIALS_DIRECTORY/<cred>).
type secretVar struct {
	name     string // "API_KEY"
	value    string // STREAMD_<name>
	file     string // STREAMD_<name>_FILE
	cred     string // systemd credential name, "api_key"
	required bool   // a missing credential file is an error
}

// secret is a secret that was found, and where.
type secret struct {
	value   string
	source  string // the variable it came from, for messages: "API_KEY_FILE"
	warning string // a problem worth a log line, such as a file others can read
}

// load finds the secret. Exactly one of the variable and the file may be
// set; a file loses one trailing newline ("\n" or "\r\n"). The secret must
// not contain a control byte (a newline, CR, NUL ...): an HTTP header or a
// NATS connect line would carry it broken, and every handshake would fail
// later as if the network were at fault. Errors are *configError naming the
// variable, never showing the secret. The secret is "" when none is set and
// none is required.
func (v secretVar) load(getenv func(string) string) (secret, error) {
	if v.value != "" && v.file != "" {
		return secret{}, badSecret(v.name, fmt.Sprintf("set either STREAMD_%s or STREAMD_%s_FILE, not both", v.name, v.name))
	}

	if v.value != "" {
		return v.checked(secret{value: v.value, source: v.name})
	}

	credDir := getenv("CREDENTIALS_DIRECTORY")
	path, source := v.file, v.name+"_FILE"
	if path == "" {
		dir := credDir
		if dir == "" {
			return secret{}, nil
		}

		path, source = filepath.Join(dir, v.cred), v.name+"_FILE"
		if _, err := os.Stat(path); os.IsNotExist(err) && !v.required {
			return secret{}, nil
		}
	}

	b, err := os.ReadFile(path)
	if err != nil {
		return secret{}, badVar(source, path, "cannot read: "+err.Error())
	}

	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return secret{}, badVar(source, path, "the file is empty: it must hold the secret")
	}

	warning := ""
	if !inDir(credDir, path) {
		warning = groupReadable(source, path)
	}

	return v.checked(secret{value: s, source: source, warning: warning})
}

// checked fails when s holds a control byte.
func (v secretVar) checked(s secret) (secret, error) {
	for i := 0; i < len(s.value); i++ {
		if c := s.value[i]; c < 0x20 || c == 0x7f {
			return secret{}, badSecret(s.source, fmt.Sprintf("contains a control character (byte %d of %d is 0x%02x; a newline?): "+
				"a file may end with one newline, nothing else", i+1, len(s.value), c))
		}
	}
	return s, nil
}

// inDir reports whether path names a file inside dir (lexically; "" is no
// directory). Files in $CREDENTIALS_DIRECTORY are not checked for group
// access: systemd creates them 0440 (LoadCredential=, SetCredential= ...)
// in a read-only directory that "is only accessible to the user associated
// with the unit ... (as well as the superuser)" (systemd.exec(5),
// Credentials), so a warning there would be false and could not be fixed.
func inDir(dir, path string) bool {
	if dir == "" {
		return false
	}
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// groupReadable warns when path can be read by its group or by others.
func groupReadable(source, path string) string {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return ""
	}
	return fmt.Sprintf("STREAMD_%s %s can be read by group or others (mode %04o): chmod 600 it", source, path, fi.Mode().Perm())
}

// loadSecrets finds the API key (required) and the NATS password and token
// (optional), recording warnings in d.
func (c *Config) loadSecrets(getenv func(string) string, d *derived) error {
	key, err := secretVar{name: "API_KEY", value: c.APIKey, file: c.APIKeyFile, cred: "api_key", required: true}.load(getenv)
	if err != nil {
		return err
	}

	if key.value == "" {
		return badSecret("API_KEY", "required: set STREAMD_API_KEY or STREAMD_API_KEY_FILE (or a systemd credential named api_key)")
	}

	d.credKind, err = credentialKind(key)
	if err != nil {
		return err
	}

	pass, err := secretVar{name: "NATS_PASSWORD", value: c.NATSPassword, file: c.NATSPasswordFile, cred: "nats_password"}.load(getenv)
	if err != nil {
		return err
	}

	token, err := secretVar{name: "NATS_TOKEN", value: c.NATSToken, file: c.NATSTokenFile, cred: "nats_token"}.load(getenv)
	if err != nil {
		return err
	}

	d.apiKey, d.natsPassword, d.natsToken = key.value, pass.value, token.value

	for _, s := range []secret{key, pass, token} {
		if s.warning != "" {
			d.warnings = append(d.warnings, s.warning)
		}
	}

	return nil
}
