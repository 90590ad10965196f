package consumer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"
)

func TestParseMessageIDWorkedExamples(t *testing.T) {
	// Examples from the protocol reference, §7.
	for _, tc := range []struct {
		in                   string
		ledger, entry        uint64
		partition, batchSize int32
	}{
		{"CAAQAw==", 0, 3, -1, 0},
		{"CAMQADAA", 3, 0, -1, 0},
		{"CPEKEINF", 1393, 8835, -1, 0},
	} {
		id, err := ParseMessageID(tc.in)
		if err != nil {
			t.Fatalf("ParseMessageID(%q): %v", tc.in, err)
		}
		if id.Ledger != tc.ledger || id.Entry != tc.entry || id.Partition != tc.partition || id.BatchIndex != -1 || id.BatchSize != tc.batchSize {
			t.Errorf("ParseMessageID(%q) = %+v", tc.in, id)
		}
	}
	for _, bad := range []string{"", "!!!", "CAA=", "EAM="} {
		if _, err := ParseMessageID(bad); err == nil {
			t.Errorf("ParseMessageID(%q) succeeded, want error", bad)
		}
	}
}

func TestMessageIDCompare(t *testing.T) {
	a, _ := ParseMessageID("CAAQAw==") // 0:3
	b, _ := ParseMessageID("CAMQADAA") // 3:0
	if a.Compare(b) != -1 || b.Compare(a) != 1 || a.Compare(a) != 0 {
		t.Fatalf("Compare order wrong: %v vs %v", a, b)
	}
}

func FuzzParseMessageID(f *testing.F) {
	for _, s := range []string{"CAAQAw==", "CAMQADAA", "CPEKEINF", "", "////"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseMessageID(s)
		if err == nil && id.String() == "" {
			t.Fatal("empty rendering")
		}
	})
}

func frameOf(payload string) []byte {
	return []byte(`{"messageId":"CAAQAw==","payload":"` + payload + `","properties":{"a":"b"},"publishTime":"2025-01-02T03:04:05.6Z","redeliveryCount":2,"key":"k1"}`)
}

func TestDecodeFrameAndPayload(t *testing.T) {
	event := `{"Interaction": {"event":"InteractionQueued","status":"true","dispositionCode":1000, "x":[1,"2",true]}}`
	f, err := DecodeFrame(frameOf(base64.StdEncoding.EncodeToString([]byte(event))))
	if err != nil {
		t.Fatal(err)
	}
	if !f.IsData() || f.MessageID != "CAAQAw==" || f.RedeliveryCount != 2 || f.Key != "k1" || string(f.Properties) != `{"a":"b"}` {
		t.Fatalf("frame = %+v", f)
	}
	got, typ, err := DecodePayload(f.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != event {
		t.Errorf("payload not verbatim:\n got %s\nwant %s", got, event)
	}
	if typ != "InteractionQueued" {
		t.Errorf("type = %q", typ)
	}
}

func TestDecodeControlFrames(t *testing.T) {
	for _, s := range []string{`{"endOfTopic":false}`, `{"endOfTopic":"true"}`, `{"type":"AUTH_CHALLENGE"}`, `{}`} {
		f, err := DecodeFrame([]byte(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if f.IsData() {
			t.Errorf("%s treated as data", s)
		}
	}
	if _, err := DecodeFrame([]byte(`{"messageId":`)); err == nil {
		t.Error("truncated frame decoded")
	}
}

func TestDecodePayloadPoison(t *testing.T) {
	b64 := func(s string) json.RawMessage {
		return json.RawMessage(`"` + base64.StdEncoding.EncodeToString([]byte(s)) + `"`)
	}
	for _, tc := range []struct {
		raw    json.RawMessage
		reason string
	}{
		{json.RawMessage(`"not base64!"`), "payload is not base64"},
		{json.RawMessage(`12`), "payload is not a string"},
		{b64(`{"a":`), "payload is not JSON"},
		{b64(`[1,2]`), "payload is not a JSON object"},
		{b64(`"str"`), "payload is not a JSON object"},
		{b64(``), "payload is not JSON"},
	} {
		_, _, err := DecodePayload(tc.raw)
		p, ok := err.(*PoisonError)
		if !ok || p.Reason != tc.reason || !IsPoison(err) {
			t.Errorf("DecodePayload(%s) = %v, want reason %q", tc.raw, err, tc.reason)
		}
	}
	// Escaped slashes (legal JSON, never sent by Jackson) still decode.
	enc := base64.StdEncoding.EncodeToString([]byte(`{"k":"???>>>"}`))
	escaped := json.RawMessage(`"` + string(bytes.ReplaceAll([]byte(enc), []byte("/"), []byte(`\/`))) + `"`)
	if got, _, err := DecodePayload(escaped); err != nil || string(got) != `{"k":"???>>>"}` {
		t.Errorf("escaped payload: %q, %v", got, err)
	}
}

func TestEventType(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"AgentStatusChange": {"agentId":"ag1","newState":5}}`, "AgentStatusChange"},
		{`{"AgentProvChange": {"agentId":"ag1","event":"AgentSkillChanged"}}`, "AgentSkillChanged"},
		{`{"Interaction":{"attachedData":{"attachedDatum":[{"attachedDataKey":"event","attachedDataValue":"x"}]},"event":"InteractionDeleted"}}`, "InteractionDeleted"},
		{`{"Interaction":{"event":1}}`, "Interaction"},
		{`{"GuestChatEnd":{}}`, "GuestChatEnd"},
		{`{"NewFamily":{"foo":"bar"}}`, "NewFamily"},
		{`{"eventId":"1","eventType":"agent.login","data":{}}`, "agent.login"},
		{`{"event":"Flat","x":1}`, "Flat"},
		{` { "Interaction" : { "event" : "Sp\u0061ced" } } `, "Spaced"},
		{`{"a":1,"b":2}`, "unknown"},
		{`{}`, "unknown"},
		{`[]`, "unknown"},
		{`{"event":""}`, "unknown"},
	} {
		if got := EventType([]byte(tc.in)); got != tc.want {
			t.Errorf("EventType(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEventTypeKnownDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	ev := []byte(`{"Interaction":{"callState":"CS_QUEUED","event":"InteractionQueued","msgInfo":{}}}`)
	if n := testing.AllocsPerRun(100, func() { EventType(ev) }); n != 0 {
		t.Errorf("EventType allocates %v times for a known type", n)
	}
}

func TestEventTypeAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range []string{
		// A repeated key takes its last value, as in Go, jq and Python.
		`{"Interaction":{"event":"InteractionCreated","callState":"CS_QUEUED","event":"InteractionDeleted"}}`,
		`{"Interaction":{"event":"InteractionCreated","event":1}}`,
		`{"Interaction":{"event":1,"event":"InteractionQueued"}}`,
		`{"A":{"event":"X"},"A":{"event":"Y"}}`,
		`{"A":{"event":"X"},"A":1}`,
		`{"A":1,"A":{"event":"Y"}}`,
		`{"A":{},"\u0041":{"event":"Z"}}`,
		`{"event":"A","event":"B"}`,
		`{"event":"A","event":null,"eventType":"T"}`,
		`{"eventType":"T","event":"E"}`,
		`{"event":"","eventType":"T"}`,
		`{"ev\u0065nt":"Escaped","x":1}`,
		`{"Interaction":{"ev\u0065nt":"EscapedInner"}}`,
		`{"Interaction":{"event":""}}`,
		`{"Interaction":{"nested":{"event":"Deep"}}}`,
		"{\"\xff\":{},\"\xfe\":{}}",
	} {
		if got, want := EventType([]byte(in)), refEventType([]byte(in)); got != want {
			t.Errorf("EventType(%s) = %q, encoding/json says %q", in, got, want)
		}
	}
}

// refEventType is EventType written with encoding/json: the oracle the
// hand-written scanner must agree with on every input.
func refEventType(b []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil || top == nil {
		return UnknownEventType
	}
	str := func(raw json.RawMessage) string {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	}
	if len(top) == 1 {
		for family, val := range top {
			var inner map[string]json.RawMessage
			if len(val) == 0 || val[0] != '{' || json.Unmarshal(val, &inner) != nil {
				break
			}
			if s := str(inner["event"]); s != "" {
				return s
			}
			if family == "" {
				return UnknownEventType
			}
			return family
		}
	}
	if s := str(top["event"]); s != "" {
		return s
	}
	if s := str(top["eventType"]); s != "" {
		return s
	}
	return UnknownEventType
}

func FuzzEventType(f *testing.F) {
	for _, s := range []string{
		`{"Interaction":{"event":"X"}}`, `{"a":{}}`, `{"event":"e"}`, `{"a":"\"}`, `{"`, `{"a":[{"b":"}"}]}`,
		`{"Interaction":{"event":"InteractionCreated","event":"InteractionDeleted"}}`,
		`{"A":{"event":"X"},"\u0041":{"event":"Y"}}`, `{"ev\u0065nt":"E","eventType":"T"}`,
		`{"A":{"b":{"event":"deep"}},"A":{}}`, ` {"event" : "\ud800"} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, want := EventType(b), refEventType(b) // must never panic, valid JSON or not
		if got != want {
			t.Fatalf("EventType(%q) = %q, encoding/json says %q", b, got, want)
		}
	})
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(frameOf(base64.StdEncoding.EncodeToString([]byte(`{"Interaction":{"event":"InteractionCreated"}}`))))
	f.Add([]byte(`{"endOfTopic":false}`))
	f.Add([]byte(`{"messageId":"x","payload":"e30="}`))
	f.Add([]byte(`{"messageId":"x","payload":12}`))
	f.Add([]byte(`{"MessageID":"a","redeliveryCount":1e2}`))
	f.Add([]byte(`{"messageId":"\u0041","key":null,"redeliveryCount":-0} `))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := DecodeFrame(data)
		want, wantErr := slowDecodeFrame(data) // the encoding/json oracle
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("DecodeFrame(%q) error %v, encoding/json says %v", data, err, wantErr)
		}
		if !sameFrame(fr, want) {
			t.Fatalf("DecodeFrame(%q) = %+v, encoding/json says %+v", data, fr, want)
		}
		if err != nil || !fr.IsData() {
			return
		}
		event, typ, err := DecodePayload(fr.Payload)
		if err != nil {
			if !IsPoison(err) {
				t.Fatalf("non-poison error %v", err)
			}
			return
		}
		if !json.Valid(event) || typ == "" {
			t.Fatalf("accepted invalid event %q (type %q)", event, typ)
		}
	})
}

func sameFrame(a, b Frame) bool {
	return a.MessageID == b.MessageID && a.PublishTime == b.PublishTime &&
		a.RedeliveryCount == b.RedeliveryCount && a.EventTime == b.EventTime && a.Key == b.Key &&
		bytes.Equal(a.Payload, b.Payload) && bytes.Equal(a.Properties, b.Properties) &&
		bytes.Equal(a.EndOfTopic, b.EndOfTopic)
}

func BenchmarkDecode(b *testing.B) {
	event := []byte(`{"Interaction":{"attachedData":{"attachedDatum":[{"attachedDataKey":"@pri","attachedDataValue":100},{"attachedDataKey":"callingName","attachedDataValue":"Jane"},{"attachedDataKey":"phoneNum","attachedDataValue":5515557212}]},"callState":"CS_QUEUED","event":"InteractionCreated","inboundChannelid":13125555068,"interactionEventTS":1669235827,"interactionGUID":"int-184a63564dc-ohWfVIbHJz2Hr2JFhAfdlb4Fa-phone-00-acmecorp01","msgInfo":{"instanceId":"us1tomcat04","sequenceId":224,"timestamp":1669235827942},"resourceType":0}}`)
	frame := frameOf(base64.StdEncoding.EncodeToString(event))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := DecodeFrame(frame)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := DecodePayload(f.Payload); err != nil {
			b.Fatal(err)
		}
	}
}
