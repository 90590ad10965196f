package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// goldenMessage is one message of the fixed golden stream.
type goldenMessage struct {
	payload string
	opts    []pulsartest.PublishOption
}

// goldenStream covers the 8x8 shapes, unknown shapes, mixed-type fields,
// unicode and escapes, pretty-printed JSON, keys, properties and event time.
func goldenStream() []goldenMessage {
	return []goldenMessage{
		{payload: `{"Interaction":{"event":"InteractionCreated","interactionGuid":"int-euw2-1","resourceType":0,"priority":"100","attachedData":{"attachedDatum":[{"attachedDataKey":"@pri","attachedDataValue":100},{"attachedDataKey":"@pri","attachedDataValue":"100"},{"attachedDataKey":"flag","attachedDataValue":true}]}}}`},
		{payload: `{"AgentStatusChange":{"agentId":"agABCdef123","tenantId":"acme","state":"On Break","stateReasonCode":"12","time":1741064767089}}`},
		{payload: `{"AgentProvChange":{"event":"AgentSkillChanged","agentId":"agABCdef123","skills":[{"id":7,"level":"3"}]}}`},
		{payload: `{"FutureFamily":{"someField":[1,"two",3.0,null,{"deep":{"deeper":[]}}]}}`},
		{payload: `{"flat":true,"event":"ClientCheck","count":"7"}`},
		{payload: `{"a":1,"b":[],"c":{}}`},
		{payload: `{"Interaction":{"event":"InteractionQueued","callerName":"Zoë Ünïcødé 李雷 😀","note":"<b>&amp;</b>","esc":"tab\there \"q\" \\ \u00e9 \ud83d\ude00","ctl":"\u0001"}}`},
		{payload: "{\n  \"Interaction\": {\n    \"event\": \"InteractionDeleted\",\r\n    \"n\": 12345678901234567890123,\n    \"f\": 1.50, \"e\": -0.0e+10\n  }\n}"},
		{payload: `{"Interaction":{"event":"InteractionAssigned","agentId":"agABCdef123"}}`,
			opts: []pulsartest.PublishOption{pulsartest.WithKey("int-euw2-1/ü"), pulsartest.WithProperties(map[string]string{"region": "UK3", "trace id": `a"b`, "ünï": "ø"})}},
		{payload: `{"AgentStatusChange":{"agentId":"agXYZ","state":"Available"}}`,
			opts: []pulsartest.PublishOption{pulsartest.WithEventTime(time.Date(2025, 3, 4, 5, 6, 0, 500_000_000, time.UTC))}},
		{payload: `[1,2,3]`},
		{payload: `"just a string"`},
	}
}

// fixedClock returns a clock starting at a fixed instant, 1.5 ms per call.
func fixedClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2025, 3, 4, 5, 6, 7, 89_000_000, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(1500 * time.Microsecond)
		return t
	}
}

// TestGolden runs the daemon against an emulator publishing a fixed stream
// with a fixed clock and compares stdout, byte for byte, with
// testdata/{envelope,event}.golden. It also checks that every message was
// acked exactly once with its exact id, in order.
func TestGolden(t *testing.T) {
	for _, format := range []string{"envelope", "event"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			emu := pulsartest.Start(t, pulsartest.Config{Now: fixedClock()})
			var ids []string
			for _, m := range goldenStream() {
				ids = append(ids, emu.Publish("acme/event-v1/all", []byte(m.payload), m.opts...))
			}
			state := t.TempDir()
			p := start(t, baseEnv(t).with(
				"STREAMD_TENANT", "acme", "STREAMD_API_KEY", testKey, "STREAMD_ENDPOINT", emu.URL(),
				"STREAMD_STATE_DIR", state, "STREAMD_START", "earliest", "STREAMD_FORMAT", format,
			), "run")
			testutil.WaitFor(t, 15*time.Second, "every golden event acked", func() bool {
				return len(emu.Acked("acme/event-v1/all", "")) >= len(ids) || p.exited()
			})
			p.signal(syscall.SIGTERM)
			if code := p.wait(15 * time.Second); code != exitOK {
				t.Fatalf("exit %d after SIGTERM, want 0", code)
			}
			settled(t, emu)
			if acked := emu.Acked("acme/event-v1/all", ""); !slices.Equal(acked, ids) {
				t.Errorf("acked ids\n%q\nwant\n%q", acked, ids)
			}
			// The two payloads that are not JSON objects are dead letters.
			dead := fileLines(t, filepath.Join(state, "dead-letter.jsonl"))
			if len(dead) != 2 || !strings.Contains(dead[0], ids[len(ids)-2]) || !strings.Contains(dead[1], ids[len(ids)-1]) {
				t.Errorf("dead letters: want the last two messages, got %q", dead)
			}
			got := []byte(p.stdout.String())
			path := filepath.Join("testdata", format+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("stdout differs from %s (run with -update after checking):\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

func fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}
