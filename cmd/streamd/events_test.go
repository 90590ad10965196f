package main

import (
	"strings"
	"testing"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/testutil"
)

// TestEventListWithSpaces: STREAMD_STDOUT_EVENTS written the natural way,
// "InteractionCreated, InteractionDeleted", lets both types through; the
// space after the comma does not make InteractionDeleted a type no event
// matches (filtered events are acked as accepted: they would be lost).
func TestEventListWithSpaces(t *testing.T) {
	t.Parallel()
	emu := pulsartest.Start(t, pulsartest.Config{})
	emu.Publish(streamTopic, []byte(`{"Interaction":{"event":"InteractionCreated","interactionGUID":"int-1"}}`))
	emu.Publish(streamTopic, []byte(`{"Interaction":{"event":"InteractionDeleted","interactionGUID":"int-1"}}`))
	p := start(t, pipeEnv(t, emu, "STREAMD_STDOUT_EVENTS", "InteractionCreated, InteractionDeleted"), "run")
	testutil.WaitFor(t, 20*time.Second, "both events acked", func() bool {
		return len(emu.Acked(streamTopic, "streamd")) >= 2 || p.exited()
	})
	testutil.WaitFor(t, 10*time.Second, "InteractionDeleted on stdout", func() bool {
		return strings.Contains(p.stdout.String(), `"eventType":"InteractionDeleted"`) || p.exited()
	})
	if out := p.stdout.String(); !strings.Contains(out, `"eventType":"InteractionCreated"`) || !strings.Contains(out, `"eventType":"InteractionDeleted"`) {
		t.Errorf("stdout lacks an allowed type:\n%s\nstderr:\n%s", out, p.stderr.String())
	}
}
