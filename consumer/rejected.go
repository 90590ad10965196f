package consumer

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/sink"
)

// deadLetterRejected records the events of a batch that sinks rejected for
// good (rej indexes events), each with the stage "sink <names>" and the
// sinks' reasons, so that they can be acked with the rest of the batch.
func (t *Topic) deadLetterRejected(ctx context.Context, events []*sink.Event, rej *sink.RejectError) error {
	now := time.Now()
	byEvent := rej.ByEvent()
	for _, i := range slices.Sorted(maps.Keys(byEvent)) {
		ev := events[i]
		r := &deadletter.Record{
			Time:      now,
			Topic:     t.fullTopic,
			MessageID: ev.MessageID,
			Stage:     rejectStage(rej, i),
			Reason:    byEvent[i],
			Frame:     eventFrame(ev),
		}
		if err := t.deadLetter(ctx, r); err != nil {
			return err
		}
	}

	return nil
}

// rejectStage is "sink" followed by the names of the sinks that rejected
// event i, e.g. "sink nats" or "sink file,nats".
func rejectStage(rej *sink.RejectError, i int) string {
	var names []string
	for _, r := range rej.Rejected {
		if r.Index == i && r.Sink != "" && !slices.Contains(names, r.Sink) {
			names = append(names, r.Sink)
		}
	}
	if len(names) == 0 {
		return "sink"
	}
	return "sink " + strings.Join(names, ",")
}

// eventFrame renders ev back into the proxy's frame format (§3.1 of the
// protocol reference; the payload base64 again), for the dead-letter
// record of an event whose original frame is no longer kept.
func eventFrame(ev *sink.Event) string {
	f := struct {
		MessageID       string          `json:"messageId"`
		Payload         []byte          `json:"payload"`
		Properties      json.RawMessage `json:"properties,omitempty"`
		PublishTime     string          `json:"publishTime,omitempty"`
		RedeliveryCount int             `json:"redeliveryCount"`
		Key             string          `json:"key,omitempty"`
	}{ev.MessageID, ev.Payload, ev.Properties, ev.PublishTime, ev.RedeliveryCount, ev.Key}

	b, err := json.Marshal(f)
	if err != nil {
		f.Properties = nil // not valid JSON: keep the rest
		b, _ = json.Marshal(f)
	}

	return string(b)
}
