package pulsartest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
)

// jsonKind names the JSON type of v as decoded by encoding/json.
func jsonKind(v any) string {
	switch v := v.(type) {
	case bool:
		return "bool"
	case string:
		return "string"
	case float64:
		return "number"
	case map[string]any:
		if len(v) == 0 {
			return "empty"
		}
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func TestGenerator(t *testing.T) {
	t.Parallel()
	const n = 5000
	g := pulsartest.NewGenerator("acmecorp01", 42)
	g2 := pulsartest.NewGenerator("acmecorp01", 42)
	seen := map[string]map[string]bool{} // field → JSON kinds observed
	note := func(field string, v any) {
		if seen[field] == nil {
			seen[field] = map[string]bool{}
		}
		seen[field][jsonKind(v)] = true
	}
	types := map[string]int{}
	lifecycles := map[string][]string{}
	var order []string
	for i := range n {
		ev, typ := g.Next()
		if ev2, _ := g2.Next(); !bytes.Equal(ev, ev2) {
			t.Fatalf("event %d differs for equal seeds", i)
		}
		if got := consumer.EventType(ev); got != typ {
			t.Fatalf("event %d: type %q, consumer derives %q: %s", i, typ, got, ev)
		}
		types[typ]++
		var w map[string]map[string]any
		if err := json.Unmarshal(ev, &w); err != nil || len(w) != 1 {
			t.Fatalf("event %d not a one-key wrapper (%v): %s", i, err, ev)
		}
		for family, inner := range w {
			note("msgInfo", inner["msgInfo"])
			switch family {
			case "AgentStatusChange":
				for _, f := range []string{"agentId", "newReasonCodeUser", "newSubState", "newSubStateReason"} {
					if _, ok := inner[f].(string); !ok {
						t.Fatalf("%s.%s: %s", family, f, ev)
					}
				}
				if _, ok := inner["newState"].(float64); !ok {
					t.Fatalf("newState: %s", ev)
				}
			case "AgentProvChange":
				if inner["event"] != "AgentSkillChanged" && inner["event"] != "AgentSkillCreated" {
					t.Fatalf("prov event: %s", ev)
				}
			case "Interaction":
				guid, _ := inner["interactionGUID"].(string)
				if !strings.HasPrefix(guid, "int-") || !strings.HasSuffix(guid, "-acmecorp01") {
					t.Fatalf("guid %q", guid)
				}
				if _, ok := inner["interactionEventTS"].(float64); !ok {
					t.Fatalf("interactionEventTS: %s", ev)
				}
				if lifecycles[guid] == nil {
					order = append(order, guid)
				}
				lifecycles[guid] = append(lifecycles[guid], typ)
				for _, f := range []string{"isAgentInitiated", "isDirectAccess", "isExternal", "isOutboundCall", "isQueued", "dispositionCode", "inboundChannelid", "status"} {
					if v, ok := inner[f]; ok {
						note(f, v)
					}
				}
				if ad, ok := inner["attachedData"].(map[string]any); ok {
					for _, d := range ad["attachedDatum"].([]any) {
						note("attachedDataValue", d.(map[string]any)["attachedDataValue"])
					}
				}
			default:
				t.Fatalf("unknown family %q", family)
			}
		}
	}
	for field, kinds := range map[string][]string{
		"msgInfo":           {"empty", "object"},
		"isAgentInitiated":  {"bool", "string"},
		"isOutboundCall":    {"bool", "string"},
		"dispositionCode":   {"number", "string"},
		"inboundChannelid":  {"number", "string"},
		"attachedDataValue": {"number", "string", "bool"},
		"status":            {"bool", "string"},
	} {
		for _, k := range kinds {
			if !seen[field][k] {
				t.Errorf("%s never a %s (saw %v)", field, k, seen[field])
			}
		}
	}
	for _, typ := range []string{"AgentStatusChange", "AgentSkillChanged", "InteractionCreated", "InteractionQueued",
		"InteractionAssigned", "InteractionAccepted", "InteractionCustomerAccepted", "InteractionRejected",
		"InteractionUnqueued", "LineHoldStatus", "RecordingStatus", "InteractionRecordingStarted",
		"InteractionPostProcess", "InteractionEndPostProcess", "InteractionDeassigned", "InteractionDeleted"} {
		if types[typ] == 0 {
			t.Errorf("no %s in %d events", typ, n)
		}
	}
	checkLifecycles(t, order, lifecycles)
}

// checkLifecycles verifies catalog §5.5 ordering for every interaction.
func checkLifecycles(t *testing.T, order []string, lc map[string][]string) {
	t.Helper()
	complete := 0
	for _, guid := range order {
		evs := lc[guid]
		seq := strings.Join(evs, ">")
		if evs[0] != "InteractionCreated" {
			t.Fatalf("%s starts with %s", guid, seq)
		}
		pos := map[string]int{}
		for i, e := range evs {
			if e == "InteractionDeleted" && i != len(evs)-1 {
				t.Fatalf("event after Deleted: %s", seq)
			}
			if _, ok := pos[e]; !ok {
				pos[e] = i
			}
		}
		before := func(a, b string) {
			if pa, ok := pos[a]; ok {
				if pb, ok := pos[b]; ok && pa > pb {
					t.Fatalf("%s after %s: %s", a, b, seq)
				}
			}
		}
		for _, p := range [][2]string{{"InteractionQueued", "InteractionAssigned"}, {"InteractionAssigned", "InteractionAccepted"},
			{"InteractionAccepted", "InteractionCustomerAccepted"}, {"InteractionAccepted", "InteractionPostProcess"},
			{"InteractionPostProcess", "InteractionEndPostProcess"}, {"InteractionEndPostProcess", "InteractionDeassigned"},
			{"InteractionAssigned", "InteractionRejected"}} {
			before(p[0], p[1])
		}
		if _, ok := pos["InteractionCustomerAccepted"]; ok {
			if _, q := pos["InteractionQueued"]; q {
				t.Fatalf("outbound call queued: %s", seq)
			}
		}
		if evs[len(evs)-1] == "InteractionDeleted" {
			complete++
		}
	}
	if complete < len(order)-8 {
		t.Errorf("only %d of %d interactions completed", complete, len(order))
	}
}

func BenchmarkGenerator(b *testing.B) {
	g := pulsartest.NewGenerator("acme", 1)
	b.ReportAllocs()
	for b.Loop() {
		g.Next()
	}
}
