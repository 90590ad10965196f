package consumer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// Frame is one server→client frame of the Pulsar WebSocket proxy.
type Frame struct {
	MessageID       string          `json:"messageId"`
	Payload         json.RawMessage `json:"payload"` // JSON string of base64, kept raw to avoid a copy
	Properties      json.RawMessage `json:"properties"`
	PublishTime     string          `json:"publishTime"`
	RedeliveryCount int             `json:"redeliveryCount"`
	EventTime       string          `json:"eventTime"`
	Key             string          `json:"key"`
	EndOfTopic      json.RawMessage `json:"endOfTopic"`
}

// IsData reports whether f is a delivered message (it has a messageId and a
// payload). Anything else — end-of-topic replies, auth challenges, unknown
// objects — is a control frame: skipped and never acked.
func (f *Frame) IsData() bool { return f.MessageID != "" && len(f.Payload) > 0 }

// DecodeFrame parses the wrapper JSON of a frame.
func DecodeFrame(data []byte) (Frame, error) {
	var f Frame
	if err := json.Unmarshal(data, &f); err != nil {
		return Frame{}, fmt.Errorf("decode frame: %w", err)
	}
	return f, nil
}

// PoisonError says why a data frame's payload cannot be delivered. Such
// messages go to the dead-letter file and are then acked.
type PoisonError struct {
	Reason string // "payload is not base64", "payload is not JSON", "payload is not a JSON object"
	Err    error
}

func (e *PoisonError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *PoisonError) Unwrap() error { return e.Err }

// DecodePayload base64-decodes the raw JSON string payload of a data frame,
// checks that the result is a JSON object, and returns it verbatim together
// with its event type. The returned error is a *PoisonError.
func DecodePayload(raw json.RawMessage) (event []byte, eventType string, err error) {
	b64, err := payloadString(raw)
	if err != nil {
		return nil, "", &PoisonError{Reason: "payload is not a string", Err: err}
	}
	event = make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
	n, err := base64.StdEncoding.Decode(event, b64)
	if err != nil {
		return nil, "", &PoisonError{Reason: "payload is not base64", Err: err}
	}
	event = event[:n]
	if !json.Valid(event) {
		return nil, "", &PoisonError{Reason: "payload is not JSON"}
	}
	trimmed := bytes.TrimSpace(event)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, "", &PoisonError{Reason: "payload is not a JSON object"}
	}
	return event, deriveType(trimmed), nil
}

// IsPoison reports whether err marks an undeliverable payload.
func IsPoison(err error) bool {
	var p *PoisonError
	return errors.As(err, &p)
}

// payloadString returns the contents of the JSON string raw. The common case
// (no escapes, which base64 never needs) is a zero-copy slice.
func payloadString(raw json.RawMessage) ([]byte, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1], nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}
