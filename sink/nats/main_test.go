package nats_test

import (
	"encoding/base64"
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/streamd/streamd/sink"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testEvents returns n distinct events on one topic. Message ids contain
// '+', '/' and '=' like real base64 Pulsar ids.
func testEvents(n int, topic string) []*sink.Event {
	types := []string{"InteractionCreated", "InteractionDeleted", "Agent Status"}
	evs := make([]*sink.Event, n)
	for i := range evs {
		raw := []byte{0xfb, 0xff, byte(i >> 16), byte(i >> 8), byte(i), 0xfe}
		evs[i] = &sink.Event{
			MessageID:       base64.StdEncoding.EncodeToString(raw) + "=",
			Topic:           topic,
			PublishTime:     "2026-11-22T10:00:00.123Z",
			RedeliveryCount: i % 3,
			Properties:      []byte("{}"),
			EventType:       types[i%len(types)],
			Payload:         []byte(fmt.Sprintf(`{"interaction":{"eventType":%q,"seq":%d}}`, types[i%len(types)], i)),
		}
		if i%2 == 0 {
			evs[i].Key = fmt.Sprintf("key-%d", i)
		}
	}
	return evs
}
