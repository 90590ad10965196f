package replay_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/replay"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// tailStream is the fixed event sequence of the golden file: the 8x8 shapes
// (doc §5.4), a day change, an unknown shape and an escape sequence.
var tailStream = []struct {
	at    time.Duration // after base
	event string
}{
	{0, `{"AgentStatusChange":{"agentId":"ag64oyEUb_Sk6bxVB9P5yaaa","msgInfo":{},"newReasonCodeUser":"801=1722","newState":5,"newSubState":"none","statusEventTS":1669235544}}`},
	{1500 * time.Millisecond, `{"Interaction":{"callState":"CS_QUEUED","event":"InteractionCreated","inboundChannelid":13125555068,"interactionGUID":"int-184a63564dc-ohWfVIbHJz2Hr2JFhAfdlb4Fa-phone-00-acmecorp01","resourceType":0}}`},
	{2 * time.Second, `{"Interaction":{"callState":"CS_QUEUED","direction":"in","event":"InteractionQueued","interactionGUID":"int-184a63564dc-ohWfVIbHJz2Hr2JFhAfdlb4Fa-phone-00-acmecorp01","queueId":1162,"queueList":1162}}`},
	{5 * time.Second, `{"Interaction":{"agentId":"agAglVJkg0TU28dok9y9UQKg","callState":"CS_INPROGRESS","event":"InteractionAssigned","interactionGUID":"int-184a63564dc-ohWfVIbHJz2Hr2JFhAfdlb4Fa-phone-00-acmecorp01","queueId":1162}}`},
	{9 * time.Second, `{"Interaction":{"agentId":"agAglVJkg0TU28dok9y9UQKg","callState":"CS_HOLD","event":"LineHoldStatus","interactionGUID":"int-184a63564dc-ohWfVIbHJz2Hr2JFhAfdlb4Fa-phone-00-acmecorp01","status":true}}`},
	{12 * time.Second, `{"Interaction":{"agentId":"agFDUfx__VREaRSfGYYm5cNw","event":"RecordingStatus","interactionGUID":"int-2","status":"resume"}}`},
	{15 * time.Hour, `{"Interaction":{"callHangupReason":"CEC_DISCONNECT_NORMAL","callState":"CS_DISCONNECTED","event":"InteractionDeleted","interactionGUID":"int-184a63564dc-ohWfVIbHJz2Hr2JFhAfdlb4Fa-phone-00-acmecorp01","queueList":"1162"}}`},
	{15*time.Hour + time.Second, `{"AgentProvChange":{"agentId":"agUeZBQ3RnQTaL0qZZukNOaw","enabled":"yes","event":"AgentSkillChanged","msgInfo":{}}}`},
	{15*time.Hour + 2*time.Second, `{"flat":true,"event":"ClientCheck"}`},
	{15*time.Hour + 3*time.Second, `{"Interaction":{"event":"InteractionChanged","interactionGUID":"int-\u001b[2Jevil","callState":["odd"]}}`},
}

func TestTailGolden(t *testing.T) {
	t.Parallel()
	emu, c := emulator(t, pulsartest.Config{})
	c.set(base.Add(-time.Minute))
	emu.Publish("acme/event-v1/all", event(0, "InteractionQueued")) // before --since: skipped
	for _, m := range tailStream {
		c.set(base.Add(m.at))
		emu.Publish("acme/event-v1/all", []byte(m.event))
	}
	out := &testutil.SyncBuffer{}
	ctx, cancel := context.WithCancel(testutil.Context(t, 20*time.Second))
	done := make(chan error, 1)
	go func() {
		done <- replay.Tail(ctx, replay.TailConfig{
			Sources: []consumer.Config{source(emu)}, Since: base, Policy: fastPolicy,
			Sink: &replay.Printer{Out: out},
		})
	}()
	testutil.WaitFor(t, 10*time.Second, "the last event", func() bool {
		return strings.Contains(out.String(), "ClientCheck") && strings.Contains(out.String(), "InteractionChanged")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("tail: %v", err)
	}
	golden(t, "tail.golden", out.String())
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestTailTypesAndJSON(t *testing.T) {
	t.Parallel()
	emu, c := emulator(t, pulsartest.Config{})
	ids := publish(emu, c, 6)
	out := &testutil.SyncBuffer{}
	ctx, cancel := context.WithCancel(testutil.Context(t, 20*time.Second))
	done := make(chan error, 1)
	go func() {
		done <- replay.Tail(ctx, replay.TailConfig{
			Sources: []consumer.Config{source(emu)}, Since: base, Types: []string{"InteractionAssigned"}, Policy: fastPolicy,
			Sink: &replay.Printer{Out: out, JSON: true},
		})
	}()
	testutil.WaitFor(t, 10*time.Second, "three envelopes", func() bool { return strings.Count(out.String(), "\n") >= 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("tail: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for i, want := range []string{ids[1], ids[3], ids[5]} {
		if !strings.HasPrefix(lines[i], `{"messageId":"`+want+`"`) {
			t.Errorf("line %d = %s, want the envelope of %s", i, lines[i], want)
		}
	}
	if len(lines) != 3 {
		t.Errorf("got %d lines, want 3", len(lines))
	}
}

// TestTailLatestSeesOnlyNewEvents: without --since the tail starts at the
// end of the topic.
func TestTailLatestSeesOnlyNewEvents(t *testing.T) {
	t.Parallel()
	emu, c := emulator(t, pulsartest.Config{})
	publish(emu, c, 3)
	out := &testutil.SyncBuffer{}
	ctx, cancel := context.WithCancel(testutil.Context(t, 20*time.Second))
	done := make(chan error, 1)
	go func() {
		done <- replay.Tail(ctx, replay.TailConfig{Sources: []consumer.Config{source(emu)}, Policy: fastPolicy, Sink: &replay.Printer{Out: out}})
	}()
	// The probe handshake comes first, then the reader's.
	testutil.WaitFor(t, 10*time.Second, "the reader", func() bool { return emu.Stats().Handshakes[101] >= 2 && emu.Sessions() == 1 })
	emu.Publish("acme/event-v1/all", event(77, "InteractionDeleted"))
	testutil.WaitFor(t, 10*time.Second, "the new event", func() bool { return strings.Contains(out.String(), "int-77-") })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("tail: %v", err)
	}
	if strings.Contains(out.String(), "int-0-") {
		t.Errorf("tail at latest printed an old event:\n%s", out.String())
	}
}

func TestPrinterColourOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	ev := &sink.Event{EventType: "InteractionQueued", Published: base, Payload: event(1, "InteractionQueued")}
	for _, colour := range []bool{false, true} {
		var b bytes.Buffer
		p := &replay.Printer{Out: &b, Color: colour}
		if err := p.Write(context.Background(), []*sink.Event{ev}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(b.String(), "\x1b["); got != colour {
			t.Errorf("Color=%v: escape codes present = %v:\n%q", colour, got, b.String())
		}
	}
}
