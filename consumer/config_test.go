package consumer

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

func TestURLReaderEncodesMessageID(t *testing.T) {
	c := Config{Endpoint: "wss://pulsar-ws-euw2.8x8.com", Tenant: "acme", Topic: "all", Credential: "eght_secret"}
	u, err := c.URL("CAEQAw+/=")
	if err != nil {
		t.Fatal(err)
	}
	want := "wss://pulsar-ws-euw2.8x8.com/ws/v2/reader/persistent/acme/event-v1/all?messageId=CAEQAw%2B%2F%3D&receiverQueueSize=1000"
	if u.String() != want {
		t.Fatalf("URL = %s\nwant  %s", u, want)
	}
	if strings.Contains(u.String(), "secret") {
		t.Fatal("header mode put the key in the URL")
	}
	if got := c.Header().Get("X-API-Key"); got != "eght_secret" {
		t.Fatalf("X-API-Key = %q", got)
	}
}

func TestURLConsumerAndQueryAuth(t *testing.T) {
	c := Config{Endpoint: "ws://127.0.0.1:8080", Tenant: "acme", Namespace: "agent-v1", Topic: "agX", Mode: ModeConsumer,
		Subscription: "my sub", SubscriptionType: "Exclusive", Auth: AuthQuery, Credential: "eght_a+b", ReceiverQueueSize: 10,
		ConsumerName: "pod-1"}
	u, err := c.URL("earliest")
	if err != nil {
		t.Fatal(err)
	}
	if u.EscapedPath() != "/ws/v2/consumer/persistent/acme/agent-v1/agX/my%20sub" {
		t.Errorf("path = %s", u.EscapedPath())
	}
	q, _ := url.ParseQuery(u.RawQuery)
	if q.Get("x-api-key") != "eght_a+b" || q.Get("subscriptionType") != "Exclusive" ||
		q.Get("subscriptionInitialPosition") != "Earliest" || q.Get("receiverQueueSize") != "10" ||
		q.Get("consumerName") != "pod-1" {
		t.Errorf("query = %v", q)
	}
	if c.Header().Get("X-API-Key") != "" {
		t.Error("query mode also sent the header")
	}
}

func TestHeaderBasic(t *testing.T) {
	tok := base64.StdEncoding.EncodeToString([]byte("acme:pw"))
	c := Config{Auth: AuthBasic, Credential: tok}
	if got := c.Header().Get("Authorization"); got != "Basic "+tok {
		t.Fatalf("Authorization = %q", got)
	}
}

func TestCredentialKind(t *testing.T) {
	for _, tc := range []struct {
		in, kind string
		ok       bool
	}{
		{"eght_0123456789abcdef", "Admin Console API key", true},
		{base64.StdEncoding.EncodeToString([]byte("acme:pw")), "Contact Center token", true},
		{"", "", false},
		{"eght_", "", false},
		{" eght_0123456789", "", false},
		{"plainword", "", false},
		{base64.StdEncoding.EncodeToString([]byte("nocolon")), "", false},
	} {
		kind, err := CredentialKind(tc.in)
		if (err == nil) != tc.ok || kind != tc.kind {
			t.Errorf("CredentialKind(%q) = %q, %v", tc.in, kind, err)
		}
		if err != nil && tc.in != "" && strings.Contains(err.Error(), tc.in) {
			t.Errorf("error echoes the credential: %v", err)
		}
	}
}
