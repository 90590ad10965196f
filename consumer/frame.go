package consumer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
)

// frame is one server→client frame of the Pulsar WebSocket proxy.
type frame struct {
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
func (f *frame) IsData() bool { return f.MessageID != "" && len(f.Payload) > 0 }

// decodeFrame parses the wrapper JSON of a frame. It gives the same result
// as json.Unmarshal into a frame, but scans the known fields by hand: the
// raw fields (payload, properties) are zero-copy slices of data, and the
// common frame costs one string allocation per present string field instead
// of encoding/json's reflection. Frames with escaped or non-ASCII keys or
// strings take the encoding/json path.
func decodeFrame(data []byte) (frame, error) {
	if !validJSON(data) {
		return slowDecodeFrame(data)
	}

	i := skipSpace(data, 0)
	if data[i] != '{' {
		// null decodes to an empty frame; any other non-object is an
		// error, exactly as encoding/json says it.
		return slowDecodeFrame(data)
	}

	var f frame
	m := members{b: data, i: i + 1}
	for {
		key, val, ok := m.next()
		if !ok {
			return f, nil
		}
		if !plainASCII(key) || !f.set(key, val) {
			return slowDecodeFrame(data)
		}
	}
}

// set stores one field's raw value. It returns false when the value needs
// encoding/json's treatment: a type mismatch (an error) or a string with
// escapes or non-ASCII bytes (unescaping, UTF-8 repair).
func (f *frame) set(key, val []byte) bool {
	switch {
	case fold(key, "messageId"):
		return setString(&f.MessageID, val)
	case fold(key, "payload"):
		f.Payload = val
	case fold(key, "properties"):
		f.Properties = val
	case fold(key, "publishTime"):
		return setString(&f.PublishTime, val)
	case fold(key, "redeliveryCount"):
		if string(val) == "null" {
			return true
		}
		n, err := strconv.Atoi(string(val))
		if err != nil {
			return false
		}
		f.RedeliveryCount = n
	case fold(key, "eventTime"):
		return setString(&f.EventTime, val)
	case fold(key, "key"):
		return setString(&f.Key, val)
	case fold(key, "endOfTopic"):
		f.EndOfTopic = val
	}

	return true
}

func setString(dst *string, val []byte) bool {
	if string(val) == "null" {
		return true // encoding/json leaves the field alone
	}
	if len(val) < 2 || val[0] != '"' || !plainASCII(val[1:len(val)-1]) {
		return false
	}
	*dst = string(val[1 : len(val)-1])
	return true
}

func slowDecodeFrame(data []byte) (frame, error) {
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		return frame{}, fmt.Errorf("decode frame: %w", err)
	}
	return f, nil
}

// poisonError says why a data frame's payload cannot be delivered. Such
// messages go to the dead-letter file and are then acked.
type poisonError struct {
	Reason string // "payload is not base64", "payload is not JSON", "payload is not a JSON object"
	Err    error
}

func (e *poisonError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *poisonError) Unwrap() error { return e.Err }

// DecodePayload base64-decodes the raw JSON string payload of a data frame,
// checks that the result is a JSON object, and returns it verbatim together
// with its event type. The returned error says which check failed.
func DecodePayload(raw json.RawMessage) (event []byte, eventType string, err error) {
	event, _, eventType, err = decodePayload(raw, nil)
	return event, eventType, err
}

// decodePayload is DecodePayload that also copies keep (the frame's
// properties) into the same allocation as the event, so that nothing the
// event holds points into the frame: the frame (base64, 4/3 of the event)
// can be collected as soon as it is decoded.
func decodePayload(raw json.RawMessage, keep []byte) (event, kept []byte, eventType string, err error) {
	b64, err := payloadString(raw)
	if err != nil {
		return nil, nil, "", &poisonError{Reason: "payload is not a string", Err: err}
	}

	size := base64.StdEncoding.DecodedLen(len(b64))
	buf := make([]byte, size+len(keep))
	n, err := base64.StdEncoding.Decode(buf, b64)
	if err != nil {
		return nil, nil, "", &poisonError{Reason: "payload is not base64", Err: err}
	}

	event = buf[:n:n]
	if !validJSON(event) {
		return nil, nil, "", &poisonError{Reason: "payload is not JSON"}
	}

	trimmed := bytes.TrimSpace(event)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, nil, "", &poisonError{Reason: "payload is not a JSON object"}
	}

	if keep != nil {
		kept = buf[size : size+copy(buf[size:], keep) : size+len(keep)]
	}

	return event, kept, deriveType(trimmed), nil
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
