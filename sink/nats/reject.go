package nats

import (
	"fmt"

	"github.com/streamd/streamd/sink"
)

// controlLineOverhead is what an HPUB protocol line adds to the subject:
// "HPUB ", a reply inbox (JetStream, up to ~64 bytes), two decimal sizes,
// spaces and CRLF (the NATS client protocol, "HPUB" in docs.nats.io).
const controlLineOverhead = 96

// rejections collects the events of one Write that can never be published.
type rejections []sink.Rejected

func (r *rejections) add(index int, reason string) {
	*r = append(*r, sink.Rejected{
		Index:  index,
		Reason: reason,
	})
}

// tooLarge rejects e, refused by the client because the message is larger
// than the server's max_payload (checked before anything is sent).
func (r *rejections) tooLarge(index int, e *sink.Event, maxPayload int64) {
	r.add(index, fmt.Sprintf("message with a %d-byte payload plus headers exceeds the server's max_payload of %d bytes",
		len(e.Payload), maxPayload))
}

// err returns nil, or a *sink.RejectError listing the rejections.
func (r rejections) err() error {
	if len(r) == 0 {
		return nil
	}
	return &sink.RejectError{Rejected: r}
}

// subjectTooLong rejects the event at index when subj would make the
// protocol line longer than the server's max_control_line: the server would
// answer with an error and close the connection.
func (s *Sink) subjectTooLong(r *rejections, index int, subj []byte) bool {
	if len(subj)+controlLineOverhead <= s.cfg.MaxControlLine {
		return false
	}
	r.add(index, fmt.Sprintf("subject of %d bytes exceeds the server's control line limit (max_control_line %d)",
		len(subj), s.cfg.MaxControlLine))
	return true
}
