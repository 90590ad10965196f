package consumer

import (
	"bytes"
	"fmt"
	"time"

	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/sink"
)

// read decodes frames until the connection ends. After a graceful stop it
// keeps reading (to receive the close handshake) but forwards nothing; such
// frames are never acked, so nothing is lost.
func (s *session) read() {
	defer close(s.queue)
	t := s.t
	for {
		_, data, err := s.conn.Read(s.connCtx)
		if err != nil {
			if s.stop.Err() == nil {
				s.fail(t.red.wrap(fmt.Errorf("read frame: %w", err)))
			}
			return
		}
		if s.stop.Err() != nil {
			continue
		}

		it, ok := t.decode(data)
		if !ok {
			continue
		}
		s.unack.Add(1)
		t.opts.Metrics.Inflight(t.name, int(s.unack.Load()))

		select {
		case s.queue <- it:
		case <-s.connCtx.Done():
			return
		}
	}
}

// decode turns a frame into an item. It returns false for control frames,
// which are skipped and not acked.
func (t *Topic) decode(data []byte) (item, bool) {
	now := time.Now()
	f, err := decodeFrame(data)
	if err != nil {
		t.opts.Metrics.DecodeError(t.name, "frame")
		id := salvageID(data)
		t.log.Error("undecodable frame, dead-lettering it", "topic", t.name, "message_id", id, "error", err)
		return item{id: id, idOK: validID(id), poison: t.record(id, "frame is not valid JSON: "+err.Error(), data, now)}, true
	}
	if !f.IsData() {
		t.log.Debug("skipping control frame", "topic", t.name, "frame", truncate(data, 200))
		return item{}, false
	}

	t.opts.Metrics.Received(t.name, f.RedeliveryCount > 0)
	payload, typ, err := DecodePayload(f.Payload)
	if err != nil {
		t.opts.Metrics.DecodeError(t.name, "payload")
		t.log.Error("undecodable payload, dead-lettering it", "topic", t.name, "message_id", f.MessageID, "error", err)
		return item{id: f.MessageID, idOK: validID(f.MessageID), poison: t.record(f.MessageID, err.Error(), data, now)}, true
	}

	ev := &sink.Event{
		MessageID:       f.MessageID,
		Topic:           t.fullTopic,
		PublishTime:     f.PublishTime,
		Published:       parsePublishTime(f.PublishTime),
		RedeliveryCount: f.RedeliveryCount,
		Properties:      f.Properties,
		Key:             f.Key,
		EventType:       typ,
		Payload:         payload,
		Received:        now,
	}
	return item{id: f.MessageID, idOK: validID(f.MessageID), ev: ev}, true
}

// validID reports whether id can be acked on a consumer socket (the proxy
// closes the session with 1011 on an undecodable id) and resumed after by a
// reader (the proxy refuses the handshake with 500).
func validID(id string) bool {
	_, err := ParseMessageID(id)
	return err == nil
}

// record is the dead-letter record of an undeliverable frame.
func (t *Topic) record(id, reason string, frame []byte, now time.Time) *deadletter.Record {
	return &deadletter.Record{Time: now, Topic: t.fullTopic, MessageID: id, Reason: reason, Frame: string(frame)}
}

// salvageID finds a messageId in a frame that is not valid JSON, so that a
// corrupted frame can still be acked and its window slot released.
func salvageID(data []byte) string {
	const key = `"messageId":"`
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return ""
	}
	rest := data[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j <= 0 || j > 256 {
		return ""
	}
	return string(rest[:j])
}

func parsePublishTime(s string) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	if t, err := time.Parse("2006-01-02 15:04:05.999", s); err == nil {
		return t
	}
	return time.Time{}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
