package redact_test

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/streamd/streamd/internal/redact"
)

func TestString(t *testing.T) {
	const key = "eght_a+b/c"
	for in, want := range map[string]string{
		"dial wss://h/x?x-api-key=eght_a%2Bb%2Fc: refused": "dial wss://h/x?x-api-key=REDACTED: refused",
		"body echoed eght_a+b/c back":                      "body echoed REDACTED back",
		"path /eght_a+b%2Fc/x":                             "path /REDACTED/x",
		"connect tls://u:p@h:4222 and nats://tok@h2":       "connect tls://REDACTED@h:4222 and nats://REDACTED@h2",
		"open /var/log/x: permission denied":               "open /var/log/x: permission denied",
		"nothing secret here":                              "nothing secret here",
	} {
		if got := redact.String(in, key); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	if got := redact.String("user@example.com at wss://a:b@h", ""); got != "user@example.com at wss://REDACTED@h" {
		t.Errorf("String without credential = %q", got)
	}
}

// TestWholePasswords: a password holding '/', '@', a quote or a space
// leaves no part of itself, in free text (up to a space) and in values.
func TestWholePasswords(t *testing.T) {
	for in, want := range map[string]string{
		"connect nats://user:pa/ss@h:4222 failed":    "connect nats://REDACTED@h:4222 failed",
		"connect nats://user:p@ss@h failed":          "connect nats://REDACTED@h failed",
		`parse "nats://user:p\"w@h": bad`:            `parse "nats://REDACTED@h": bad`,
		"servers nats://a:b@h1,nats://c:d@h2 ok":     "servers nats://REDACTED@h1,nats://REDACTED@h2 ok",
		"two secrets: natsPassword and eght_key_123": "two secrets: REDACTED and REDACTED",
	} {
		if got := redact.String(in, "natsPassword", "eght_key_123", ""); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"nats://user:pa ss@host:4222":      "nats://REDACTED@host:4222",
		"nats://user:s3cr/et@127.0.0.1:1":  "nats://REDACTED@127.0.0.1:1",
		"nats://a:b@h1, tls://tok@h2":      "nats://REDACTED@h1, tls://REDACTED@h2",
		"nats://127.0.0.1:4222":            "nats://127.0.0.1:4222",
		"a value without user@example.com": "REDACTED@example.com",
		// nats.go takes a server without a scheme as nats://, so a
		// value without one is still a URL with userinfo.
		"bob:hunter2y@127.0.0.1:4222":    "REDACTED@127.0.0.1:4222",
		"nats://h1, bob:p@ss w@h2":       "nats://h1, REDACTED@h2",
		" user:pw5ecret@127.0.0.1:18765": " REDACTED@127.0.0.1:18765",
		"127.0.0.1:4222":                 "127.0.0.1:4222",
	} {
		if got := redact.Value(in); got != want {
			t.Errorf("Value(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEncodings: a secret leaves no trace in any encoding it is seen in:
// an eght_ key base64-encoded (standard and URL alphabets, with and without
// padding) and query-escaped; a Contact Center token raw, query-escaped,
// decoded to user:password, and its password alone, raw and escaped.
func TestEncodings(t *testing.T) {
	const key = "eght_k+y/?=x1"
	b := []byte(key)
	keyForms := []string{
		key, url.QueryEscape(key), url.PathEscape(key),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
	}
	const pair = "agent7:pa ss+w/rd"
	token := base64.StdEncoding.EncodeToString([]byte(pair))
	tokenForms := []string{
		token, url.QueryEscape(token), pair, url.QueryEscape(pair), url.PathEscape(pair),
		"pa ss+w/rd", url.QueryEscape("pa ss+w/rd"), base64.StdEncoding.EncodeToString([]byte("pa ss+w/rd")),
	}
	r := redact.New(key, token)
	for _, form := range append(keyForms, tokenForms...) {
		got := r.String("got [" + form + "] back")
		if got != "got ["+redact.Mark+"] back" {
			t.Errorf("String of %q = %q", form, got)
		}
	}
}

// TestShortPassword: a token whose password is too short to redact alone
// still loses the token and the decoded pair, and leaves other text alone.
func TestShortPassword(t *testing.T) {
	token := base64.StdEncoding.EncodeToString([]byte("agent7:ab"))
	in := "about " + token + " and agent7:ab"
	if got, want := redact.String(in, token), "about REDACTED and REDACTED"; got != want {
		t.Errorf("String(%q) = %q, want %q", in, got, want)
	}
}

func TestError(t *testing.T) {
	r := redact.New("eght_a+b/c")
	base := errors.New("dial ws://h/?x-api-key=eght_a%2Bb%2Fc failed; key eght_a+b/c")
	err := r.Error(base)
	if strings.Contains(err.Error(), "eght_a") {
		t.Fatalf("not redacted: %v", err)
	}
	if !errors.Is(err, base) {
		t.Error("the redacted error lost its chain")
	}
	clean := errors.New("nothing here")
	if r.Error(clean) != clean || r.Error(nil) != nil {
		t.Error("an error without secrets is not returned as is")
	}
}
