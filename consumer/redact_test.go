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
