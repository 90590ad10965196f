// Package sink defines what streamd delivers events to: the Event value, the
// Sink interface every output implements, the line formats shared by the
// stdout and file sinks, and the fan-out that hands each batch to every
// configured sink and reports success only when all of them accepted it.
package sink

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("sink: closed")

// Event is one decoded 8x8 event together with the Pulsar metadata it arrived with.
//
// Byte slices and strings are never modified after the event is handed to a
// sink; sinks may keep references until Write returns, not longer.
type Event struct {
	// MessageID is the base64 Pulsar message id exactly as the proxy sent it.
	MessageID string
	// Topic is the full topic name, "persistent://tenant/namespace/topic".
	Topic string
	// PublishTime is the broker publish time verbatim; Published is it parsed
	// (zero when the proxy sent something unparseable).
	PublishTime string
	Published   time.Time
	// RedeliveryCount is the broker's count of earlier deliveries.
	RedeliveryCount int
	// Properties is the message properties object verbatim ("{}" when none).
	Properties json.RawMessage
	// Key is the partition key, empty when the message has none.
	Key string
	// EventType is derived from the payload, e.g. "InteractionCreated".
	EventType string
	// Payload is the decoded event JSON, byte-for-byte as published.
	Payload json.RawMessage
	// Received is when streamd read the frame; used for latency metrics.
	Received time.Time
}

// SplitTopic returns the tenant, namespace and local topic name of e.Topic.
// Parts that cannot be determined are returned empty.
func (e *Event) SplitTopic() (tenant, namespace, topic string) {
	rest := e.Topic
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	tenant, rest, _ = strings.Cut(rest, "/")
	namespace, topic, _ = strings.Cut(rest, "/")
	return tenant, namespace, topic
}

// Sink is an output. See README.md in this directory for how to add one.
//
// Write returns:
//
//   - nil once every event of the batch is as durable as the sink's
//     documented guarantee;
//   - a *RejectError when some events can never be accepted by this sink
//     (retrying the same event cannot help: too large, invalid subject, ...)
//     and every other event of the batch was accepted as with nil. The
//     caller dead-letters the rejected ones and treats the batch as done;
//   - any other error when the failure is transient (server down, disk
//     full, path missing): nothing counts as accepted and the whole batch
//     is retried later with backoff, so sinks must tolerate receiving an
//     event more than once.
//
// A sink never loops on an event it cannot accept and never blocks past ctx:
// Write honours ctx and may be called concurrently from several topic
// sessions. Close flushes and releases resources; it is idempotent.
type Sink interface {
	Write(ctx context.Context, batch []*Event) error
	Close(ctx context.Context) error
}
