package consumer_test

import (
	"testing"

	"github.com/streamd/streamd/consumer"
)

func TestRedact(t *testing.T) {
	const key = "eght_a+b/c"
	for in, want := range map[string]string{
		"dial wss://h/x?x-api-key=eght_a%2Bb%2Fc: refused": "dial wss://h/x?x-api-key=REDACTED: refused",
		"body echoed eght_a+b/c back":                      "body echoed REDACTED back",
		"path /eght_a+b%2Fc/x":                             "path /REDACTED/x",
		"connect tls://u:p@h:4222 and nats://tok@h2":       "connect tls://REDACTED@h:4222 and nats://REDACTED@h2",
		"nothing secret here":                              "nothing secret here",
	} {
		if got := consumer.Redact(in, key); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	if got := consumer.Redact("user@example.com at wss://a:b@h", ""); got != "user@example.com at wss://REDACTED@h" {
		t.Errorf("Redact without credential = %q", got)
	}
}

// TestRedactWholePasswords: a password holding '/', '@', a quote or a space
// leaves no part of itself, in free text (up to a space) and in values.
func TestRedactWholePasswords(t *testing.T) {
	for in, want := range map[string]string{
		"connect nats://user:pa/ss@h:4222 failed":    "connect nats://REDACTED@h:4222 failed",
		"connect nats://user:p@ss@h failed":          "connect nats://REDACTED@h failed",
		`parse "nats://user:p\"w@h": bad`:            `parse "nats://REDACTED@h": bad`,
		"servers nats://a:b@h1,nats://c:d@h2 ok":     "servers nats://REDACTED@h1,nats://REDACTED@h2 ok",
		"two secrets: natsPassword and eght_key_123": "two secrets: REDACTED and REDACTED",
	} {
		if got := consumer.Redact(in, "natsPassword", "eght_key_123", ""); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"nats://user:pa ss@host:4222":        "nats://REDACTED@host:4222",
		"nats://user:s3cr/et@127.0.0.1:1":    "nats://REDACTED@127.0.0.1:1",
		"nats://a:b@h1, tls://tok@h2":        "nats://REDACTED@h1, tls://REDACTED@h2",
		"nats://127.0.0.1:4222":              "nats://127.0.0.1:4222",
		"not a url with user@example.com in": "not a url with user@example.com in",
	} {
		if got := consumer.RedactValue(in); got != want {
			t.Errorf("RedactValue(%q) = %q, want %q", in, got, want)
		}
	}
}
