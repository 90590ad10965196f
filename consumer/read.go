package consumer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/sink"
)

// read holds the reading role until the connection ends: it decodes frames
// and queues them for the delivering goroutine, or delivers one itself (see
// inline.go). After a graceful stop it keeps reading (to receive the close
// handshake) but forwards nothing; such frames are never acked, so nothing
// is lost. The goroutine that holds the role last closes the queue and
// readDone; one that handed the role to a rescuer just returns.
func (s *session) read() {
	if s.readFrames() {
		return
	}

	close(s.queue)
	close(s.readDone)
}

// readFrames reads until the connection ends (false) or the reading role
// passed to a rescuer (true).
func (s *session) readFrames() (handedOver bool) {
	t := s.t
	var buf []byte
	var pace pace
	for {
		began := time.Now()
		data, total, err := s.readFrame(buf)
		now := time.Now()
		slow := pace.arrived(began, now)
		buf = reuse(data)
		if err != nil {
			if s.stop.Err() == nil {
				s.fail(t.red.Error(fmt.Errorf("read frame: %w", err)))
			}
			return false
		}

		t.progressed()

		if !s.framed.Load() {
			s.framed.Store(true)
		}

		it, ok, ended := s.admit(data, total, now)
		if ended {
			return false
		}

		if !ok {
			continue
		}

		if s.inline(slow) {
			switch s.deliverInline(it) {
			case inlineReadOn:
				continue
			case inlineHandedOver:
				return true
			case inlineFailed:
				return false
			}
		}

		s.queued.Add(1)
		select {
		case s.queue <- it:
		case <-s.connCtx.Done():
			return false
		}
	}
}

// admit turns a frame of total bytes, read at now, into an item to deliver (ok) and
// reserves its bytes in the budget, waiting while the budget is spent.
// Nothing is forwarded after a graceful stop, nor for a control frame;
// ended reports that the connection ended while waiting.
func (s *session) admit(data []byte, total int64, now time.Time) (it item, ok, ended bool) {
	if s.stop.Err() != nil {
		return item{}, false, false
	}

	if it, ok = s.t.decode(data, total, now); !ok {
		return item{}, false, false
	}

	it.size = it.bytes()
	if !s.budget.take(s.connCtx, s.stop, it.size) {
		// The connection ended, or a graceful stop: forward nothing more.
		return item{}, false, s.connCtx.Err() != nil
	}

	s.t.met.Inflight(int(s.unack.Add(1)))
	return it, true, false
}

// readFrame reads the next message into buf's storage, growing it as
// needed: the frame is only valid until the next call (decode copies what
// it keeps). It keeps at most cfg.ReadLimit bytes and discards the rest of
// a larger message, returning its first ReadLimit bytes and its whole
// length (total > len(frame)): the library's own limit would end the
// session, the proxy would send the same message on the next one, and the
// topic would loop on it (the session sets the library's limit off).
// Reading happens without a per-frame context: the session closes the
// connection when connCtx ends (session.run), which ends a blocked read,
// and a context here would cost a context.AfterFunc registration per frame
// inside coder/websocket.
func (s *session) readFrame(buf []byte) (frame []byte, total int64, err error) {
	_, r, err := s.conn.Reader(context.Background())
	if err != nil {
		return nil, 0, err
	}

	limit := s.t.cfg.ReadLimit
	buf = buf[:0]
	for int64(len(buf)) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}

		room := buf[len(buf):min(int64(cap(buf)), limit)]
		n, err := r.Read(room)
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, int64(len(buf)), nil
		}

		if err != nil {
			return buf, 0, err
		}
	}

	rest, err := io.Copy(io.Discard, r)
	return buf, int64(len(buf)) + rest, err
}

// maxReusedFrame bounds the frame buffer kept between reads, so that one
// huge frame does not pin its memory for the session's life.
const maxReusedFrame = 64 << 10

func reuse(frame []byte) []byte {
	if cap(frame) > maxReusedFrame {
		return nil
	}
	return frame
}

// decode turns a frame of total bytes, read at now, into an item. It returns false for
// control frames (neither messageId nor payload: end-of-topic replies, auth
// challenges, unknown objects), which are skipped and not acked. Every
// other frame becomes an event, or a poison item for the dead letter (see
// unusable): among them a frame cut at the read limit (total > len(data)),
// acked by the messageId found in its first bytes.
func (t *Topic) decode(data []byte, total int64, now time.Time) (item, bool) {
	if total > int64(len(data)) {
		reason := fmt.Sprintf("frame of %d bytes exceeds the read limit (%d bytes, STREAMD_READ_LIMIT); the dead letter holds its first bytes", total, len(data))
		return t.unusable(data, salvageID(data), "frame", reason, now), true
	}

	f, err := decodeFrame(data)
	if err != nil {
		return t.unusable(data, frameID(data), "frame", frameReason(data, err), now), true
	}

	mid, idErr := ParseMessageID(f.MessageID) // once per frame: the hot path
	switch {
	case f.MessageID == "" && len(f.Payload) == 0:
		t.log.Debug("skipping control frame", "topic", t.name, "frame", truncate(data, 200))
		return item{}, false
	case len(f.Payload) == 0:
		return t.unusable(data, f.MessageID, "payload", "frame has a messageId but no payload", now), true
	case f.MessageID == "":
		return t.unusable(data, "", "message_id", "data frame without a messageId", now), true
	case t.cfg.Mode == ModeConsumer && idErr != nil:
		return t.unusable(data, f.MessageID, "message_id", "messageId is not a Pulsar MessageIdData", now), true
	}

	t.met.Received(f.RedeliveryCount > 0)

	if t.cfg.Mode == ModeReader {
		t.met.ReaderBehind(t.behind.seenID(mid, idErr == nil))
	}

	payload, props, typ, err := decodePayload(f.Payload, f.Properties)
	if err != nil {
		return t.unusable(data, f.MessageID, "payload", err.Error(), now), true
	}

	ev := &sink.Event{
		MessageID:       f.MessageID,
		Topic:           t.fullTopic,
		PublishTime:     f.PublishTime,
		Published:       parsePublishTime(f.PublishTime),
		RedeliveryCount: f.RedeliveryCount,
		Properties:      props,
		Key:             f.Key,
		EventType:       typ,
		Payload:         payload,
		Received:        now,
	}
	return item{id: f.MessageID, idOK: idErr == nil, ev: ev}, true
}

// unusable is the item of a frame streamd cannot deliver: it is counted
// (decode errors by stage), logged, and written to the dead letter with the
// stage and reason before its id is acked. A consumer acks only ids it can
// decode (the proxy ends the session with 1011 on any other, §4.1 of the
// protocol reference), so a frame without a usable id keeps its window slot
// until the session ends; a reader frees the slot whatever the id.
func (t *Topic) unusable(data []byte, id, stage, reason string, now time.Time) item {
	t.opts.Metrics.DecodeError(t.name, stage)
	t.log.Error("unusable frame, dead-lettering it", "topic", t.name, "stage", stage, "message_id", id, "reason", reason)
	r := t.record(id, reason, data, now)
	r.Stage = stage
	return item{id: id, idOK: validID(id), poison: r}
}

// frameReason says why a frame did not decode: not JSON at all, or JSON
// with a field of an unexpected type ("redeliveryCount":"1").
func frameReason(data []byte, err error) string {
	if json.Valid(data) {
		return "frame does not match the protocol: " + err.Error()
	}
	return "frame is not valid JSON: " + err.Error()
}

// frameID finds the messageId of a frame that did not decode, so that it
// can still be acked and its window slot released: the last string
// "messageId" member (matched like encoding/json, case-insensitively) of a
// valid JSON object, or for broken JSON the first "messageId":"..." text.
func frameID(data []byte) string {
	i := skipSpace(data, 0)
	if !json.Valid(data) || i >= len(data) || data[i] != '{' {
		return salvageID(data)
	}

	var id string
	m := members{b: data, i: i + 1}
	for key, val, ok := m.next(); ok; key, val, ok = m.next() {
		if fold(key, "messageId") && len(val) >= 2 && val[0] == '"' {
			id = unquote(val[1 : len(val)-1])
		}
	}

	return id
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
