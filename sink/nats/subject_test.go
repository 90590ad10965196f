package nats_test

import (
	"context"
	"strings"
	"testing"

	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/nats"
)

func TestSubject(t *testing.T) {
	t.Parallel()
	ev := func(topic, typ string) *sink.Event { return &sink.Event{Topic: topic, EventType: typ} }
	tests := []struct {
		name, tmpl string
		e          *sink.Event
		want       string
	}{
		{"default", "", ev("persistent://acme/default/events", "InteractionCreated"), "8x8.acme.InteractionCreated"},
		{"all tokens", "x.{tenant}.{namespace}.{topic}.{type}", ev("persistent://acme/ns1/cc-events", "T"), "x.acme.ns1.cc-events.T"},
		{"mixed token", "ev-{tenant}_{type}", ev("persistent://acme/ns/t", "T"), "ev-acme_T"},
		{"dots", "a.{tenant}.{type}", ev("persistent://ac.me/ns/t", "a.b"), "a.ac_me.a_b"},
		{"wildcards", "a.{tenant}.{type}", ev("persistent://*/ns/t", "x>y"), "a._.x_y"},
		{"spaces and controls", "a.{tenant}.{type}", ev("persistent://a b/ns/t", "x\ty\r\n\x00\x7f"), "a.a_b.x_y____"},
		{"empty", "a.{tenant}.{namespace}.{topic}.{type}", ev("", ""), "a._._._._"},
		{"missing parts", "{tenant}.{namespace}.{topic}", ev("persistent://acme", "T"), "acme._._"},
		{"unicode kept", "a.{tenant}", ev("persistent://zürich/ns/t", ""), "a.zürich"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := nats.Subject(tt.tmpl, tt.e); got != tt.want {
				t.Errorf("Subject(%q) = %q, want %q", tt.tmpl, got, tt.want)
			}
		})
	}
}

func TestPatternAndCovers(t *testing.T) {
	t.Parallel()
	patterns := map[string]string{
		"":                              "8x8.*.*",
		"x.{tenant}.{namespace}.{type}": "x.*.*.*",
		"ev-{tenant}.fixed.{type}-x":    "*.fixed.*",
		"static.subject":                "static.subject",
	}
	for tmpl, want := range patterns {
		got, err := nats.Pattern(tmpl)
		if err != nil || got != want {
			t.Errorf("Pattern(%q) = %q, %v; want %q", tmpl, got, err, want)
		}
	}
	covers := []struct {
		filter, pattern string
		want            bool
	}{
		{"8x8.*.*", "8x8.*.*", true},
		{"8x8.>", "8x8.*.*", true},
		{">", "8x8.*.*", true},
		{"*.*.*", "8x8.*.*", true},
		{"8x8.acme.*", "8x8.*.*", false},
		{"8x8.*", "8x8.*.*", false},
		{"8x8.*.*.*", "8x8.*.*", false},
		{"other.>", "8x8.*.*", false},
		{"8x8.>", "8x8", false},
		{"a.b", "a.b", true},
	}
	for _, c := range covers {
		if got := nats.Covers(c.filter, c.pattern); got != c.want {
			t.Errorf("covers(%q, %q) = %v, want %v", c.filter, c.pattern, got, c.want)
		}
	}
}

func TestOpenRejectsBadTemplate(t *testing.T) {
	t.Parallel()
	for _, tmpl := range []string{"a.{tenant", "a.{nope}", "a..{type}", "a.*.{type}", "a.>", "a b.{type}", "a.{type}."} {
		s, err := nats.Open(context.Background(), nats.Config{URL: "nats://127.0.0.1:1", Subject: tmpl})
		if err == nil {
			_ = s.Close(context.Background())
			t.Errorf("Open with subject %q: no error", tmpl)
		}
	}
}

// FuzzSubject checks that any topic and event type render to a valid
// publish subject with the template's token count.
func FuzzSubject(f *testing.F) {
	f.Add("persistent://acme/default/events", "InteractionCreated")
	f.Add("persistent://a.b/c d/*", "x>y\x00")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, topic, typ string) {
		got := nats.Subject("x.{tenant}.{namespace}.{topic}.{type}", &sink.Event{Topic: topic, EventType: typ})
		toks := strings.Split(got, ".")
		if len(toks) != 5 {
			t.Fatalf("subject %q has %d tokens, want 5", got, len(toks))
		}
		for _, tok := range toks {
			if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, "*> \t\r\n\x00\x7f") {
				t.Fatalf("subject %q has invalid token %q", got, tok)
			}
		}
	})
}
