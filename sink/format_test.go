package sink_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamd/streamd/sink"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// goldenEvents covers: a key and none, mixed-type fields, unicode, escapes,
// invalid UTF-8 in metadata, properties with values and none, and a
// pretty-printed payload whose newlines must not break the line.
func goldenEvents() []*sink.Event {
	pub := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	return []*sink.Event{
		{
			MessageID: "CAEQAjAA", Topic: "persistent://acme/event-v1/all",
			PublishTime: "2024-05-01T12:00:00.000Z", Published: pub,
			Properties: json.RawMessage(`{"region":"us-west","tenant":"acme"}`),
			Key:        "interaction-42", EventType: "InteractionCreated",
			Payload: json.RawMessage(`{"eventType":"InteractionCreated","interaction":{"id":42,"priority":1.5,"queued":true,"agent":null,"tags":["vip","fr"]}}`),
		},
		{
			MessageID: "CAEQAzAA", Topic: "persistent://acme/event-v1/all",
			PublishTime: "2024-05-01T12:00:01.5Z", RedeliveryCount: 3,
			Properties: json.RawMessage(`{}`), EventType: "InteractionDeleted",
			Payload: json.RawMessage(`{"eventType":"InteractionDeleted","id":"x"}`),
		},
		{
			MessageID: "CAEQBDAA", Topic: "persistent://acme/event-v1/all",
			PublishTime: "2024-05-01T12:00:02Z",
			Key:         "clé \"quoted\" \\ tab\t nl\n ctl\x01 bad\xff 🎧", EventType: "AgentStatusChange",
			Payload: json.RawMessage(`{"eventType":"AgentStatusChange","agent":"Zoë Ångström 日本","status":"on-break ☕","count":-7,"ratio":1e-3}`),
		},
		{
			MessageID: "CAEQBTAA", Topic: "persistent://acme/event-v1/all",
			PublishTime: "2024-05-01T12:00:03Z",
			Properties:  json.RawMessage("{\n  \"a\": \"1\"\n}"), EventType: "InteractionUpdated",
			Payload: json.RawMessage("{\r\n  \"eventType\": \"InteractionUpdated\",\n  \"n\": [1, 2]\n}"),
		},
	}
}

func TestFormatGolden(t *testing.T) {
	for _, f := range []sink.Format{sink.FormatEnvelope, sink.FormatEvent} {
		t.Run(f.String(), func(t *testing.T) {
			var got []byte
			for _, e := range goldenEvents() {
				got = sink.AppendLine(got, f, e)
			}
			path := filepath.Join("testdata", f.String()+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run with -update to accept):\ngot:\n%s\nwant:\n%s", path, got, want)
			}
			lines := bytes.Split(bytes.TrimSuffix(got, []byte("\n")), []byte("\n"))
			if len(lines) != len(goldenEvents()) {
				t.Fatalf("%d lines, want %d", len(lines), len(goldenEvents()))
			}
			for i, l := range lines {
				if !json.Valid(l) {
					t.Errorf("line %d is not valid JSON: %s", i, l)
				}
			}
		})
	}
}

// TestEnvelopeDecodes checks the envelope against encoding/json.
func TestEnvelopeDecodes(t *testing.T) {
	for _, e := range goldenEvents() {
		var env struct {
			MessageID       string          `json:"messageId"`
			Topic           string          `json:"topic"`
			PublishTime     string          `json:"publishTime"`
			RedeliveryCount int             `json:"redeliveryCount"`
			Properties      json.RawMessage `json:"properties"`
			Key             *string         `json:"key"`
			EventType       string          `json:"eventType"`
			Event           json.RawMessage `json:"event"`
		}
		line := sink.AppendEnvelope(nil, e)
		if err := json.Unmarshal(line, &env); err != nil {
			t.Fatalf("unmarshal %s: %v", line, err)
		}
		wantKey := string(bytes.ToValidUTF8([]byte(e.Key), []byte("\uFFFD")))
		if env.MessageID != e.MessageID || env.Topic != e.Topic || env.PublishTime != e.PublishTime ||
			env.RedeliveryCount != e.RedeliveryCount || env.EventType != e.EventType {
			t.Errorf("metadata mismatch: %+v vs %+v", env, e)
		}
		if (e.Key == "") != (env.Key == nil) || (env.Key != nil && *env.Key != wantKey) {
			t.Errorf("key = %v, want %q", env.Key, wantKey)
		}
		if !jsonEqual(t, env.Event, e.Payload) {
			t.Errorf("event = %s, want %s", env.Event, e.Payload)
		}
		wantProps := e.Properties
		if len(wantProps) == 0 {
			wantProps = json.RawMessage(`{}`)
		}
		if !jsonEqual(t, env.Properties, wantProps) {
			t.Errorf("properties = %s, want %s", env.Properties, wantProps)
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var ca, cb bytes.Buffer
	if err := json.Compact(&ca, a); err != nil {
		t.Fatal(err)
	}
	if err := json.Compact(&cb, b); err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

func BenchmarkAppendEnvelope(b *testing.B) {
	e := goldenEvents()[0]
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = sink.AppendEnvelope(buf[:0], e)
	}
	b.SetBytes(int64(len(buf)))
}
