package deadletter

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// Record is one dead-lettered message.
//
// On disk, Frame (the raw frame text, verbatim) is the JSON string "frame"
// when it is valid UTF-8. Otherwise it is stored losslessly as standard
// base64 in "frameBase64" and "frame" is absent, because encoding/json would
// replace invalid bytes with U+FFFD. Unmarshalling a line restores Frame
// either way. The other fields are plain JSON strings.
type Record struct {
	Time      time.Time `json:"time"`
	Topic     string    `json:"topic"`
	MessageID string    `json:"messageId,omitempty"`
	// Stage is where delivery gave up: "frame", "message_id", "payload",
	// or "sink <name>" for an event a sink rejected for good.
	Stage  string `json:"stage,omitempty"`
	Reason string `json:"reason"`
	Frame  string `json:"frame"`
}

// wire is the line format of a Record.
type wire struct {
	Time        time.Time `json:"time"`
	Topic       string    `json:"topic"`
	MessageID   string    `json:"messageId,omitempty"`
	Stage       string    `json:"stage,omitempty"`
	Reason      string    `json:"reason"`
	Frame       *string   `json:"frame,omitempty"`
	FrameBase64 string    `json:"frameBase64,omitempty"`
}

// MarshalJSON implements json.Marshaler with the frame encoding above.
func (r Record) MarshalJSON() ([]byte, error) {
	w := r.wire()
	return json.Marshal(&w)
}

func (r Record) wire() wire {
	w := wire{
		Time:      r.Time,
		Topic:     r.Topic,
		MessageID: r.MessageID,
		Stage:     r.Stage,
		Reason:    r.Reason,
	}
	if utf8.ValidString(r.Frame) {
		w.Frame = &r.Frame
	} else {
		w.FrameBase64 = base64.StdEncoding.EncodeToString([]byte(r.Frame))
	}
	return w
}

// UnmarshalJSON implements json.Unmarshaler, accepting either frame field.
func (r *Record) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}

	*r = Record{
		Time:      w.Time,
		Topic:     w.Topic,
		MessageID: w.MessageID,
		Stage:     w.Stage,
		Reason:    w.Reason,
	}

	switch {
	case w.Frame != nil:
		r.Frame = *w.Frame
	case w.FrameBase64 != "":
		f, err := base64.StdEncoding.DecodeString(w.FrameBase64)
		if err != nil {
			return fmt.Errorf("decode frameBase64: %w", err)
		}
		r.Frame = string(f)
	}

	return nil
}
