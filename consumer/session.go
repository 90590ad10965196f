package consumer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/sink"
)

// item is one frame on its way from the reading goroutine to the delivering
// one. Exactly one of ev and poison is set, or neither for a frame that only
// needs a flow-control ack.
type item struct {
	id     string // ack with this exact id; "" for a frame without one
	idOK   bool   // id is a decodable MessageIdData (may be acked on a consumer, checkpointed)
	ev     *sink.Event
	poison *deadletter.Record
}

// ackBatch is what the delivering goroutine hands the writer once the sinks
// accepted a batch: the ids to ack, and what to count once they are sent.
type ackBatch struct {
	ids       []string
	frames    int       // frames released, including any without an ackable id
	published time.Time // publish time of the batch's last event, for lag
}

// session is one connection: a reading goroutine decodes frames, a
// delivering goroutine hands them to the sinks and releases acks strictly
// after acceptance, and a single writing goroutine owns every write to the
// socket (acks, pings, the close frame).
type session struct {
	t       *Topic
	conn    *websocket.Conn
	stop    context.Context // graceful: stop taking frames, finish the rest
	hard    context.Context // abort: give up on in-flight events without acking
	connCtx context.Context // the connection's life; cancelled on failure
	queue   chan item
	acks    chan ackBatch
	errMu   sync.Mutex
	err     error
	unack   atomic.Int64
	cancel  context.CancelFunc // closes the connection
}

func (s *session) fail(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
	s.cancel()
}

func (s *session) result() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// run drives the connection until it ends and returns why: ErrPingTimeout,
// a read error, context.Canceled after a graceful stop, or the hard
// context's error.
func (s *session) run() error {
	readDone := make(chan struct{})
	go func() { defer close(readDone); s.read() }()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.deliver() }()
	go func() { defer wg.Done(); s.write() }()
	wg.Wait()
	s.cancel()
	<-readDone
	if err := s.result(); err != nil {
		return err
	}
	if s.hard.Err() != nil {
		return s.hard.Err()
	}
	return context.Canceled
}

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
	f, err := DecodeFrame(data)
	if err != nil {
		t.opts.Metrics.DecodeError(t.name, "frame")
		id := salvageID(data)
		t.log.Error("undecodable frame, dead-lettering it", "topic", t.name, "messageId", id, "err", err)
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
		t.log.Error("undecodable payload, dead-lettering it", "topic", t.name, "messageId", f.MessageID, "err", err)
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

func (t *Topic) record(id, reason string, frame []byte, now time.Time) *deadletter.Record {
	return &deadletter.Record{Time: now, Topic: t.fullTopic, MessageID: id, Reason: reason, Frame: string(frame)}
}

// deliver hands batches to the sinks in arrival order and releases their
// acks only after every sink accepted them.
func (s *session) deliver() {
	defer close(s.acks)
	t := s.t
	batch := make([]item, 0, t.cfg.ReceiverQueueSize)
	events := make([]*sink.Event, 0, t.cfg.ReceiverQueueSize)
	for {
		if s.connCtx.Err() != nil {
			// The connection failed: whatever is still queued can no
			// longer be acked on it. It comes again on the next session
			// (reader: from the checkpoint; consumer: redelivered).
			return
		}
		batch = batch[:0]
		select {
		case it, ok := <-s.queue:
			if !ok {
				return
			}
			batch = append(batch, it)
		case <-s.stop.Done():
			// Graceful stop: finish what was already received.
			select {
			case it, ok := <-s.queue:
				if !ok {
					return
				}
				batch = append(batch, it)
			default:
				return
			}
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case it, ok := <-s.queue:
				if !ok {
					break fill
				}
				batch = append(batch, it)
			default:
				break fill
			}
		}
		if err := s.deliverBatch(batch, events[:0]); err != nil {
			s.fail(err)
			return
		}
	}
}

func (s *session) deliverBatch(batch []item, events []*sink.Event) error {
	t := s.t
	ids := make([]string, 0, len(batch))
	var published time.Time
	var last string // last id that a reader may resume after
	for _, it := range batch {
		switch {
		case it.poison != nil:
			if err := t.deadLetter(s.hard, it.poison); err != nil {
				return err
			}
		case it.ev != nil:
			events = append(events, it.ev)
			published = it.ev.Published
		}
		if it.idOK {
			last = it.id
		}
		// A reader frees a window slot for any frame; a consumer closes the
		// session on an ack whose id it cannot decode, so none is sent.
		if it.idOK || t.cfg.Mode == ModeReader {
			ids = append(ids, it.id)
		}
	}
	if len(events) > 0 {
		// The batch is finished even if the connection drops meanwhile
		// (only the hard context abandons it): a reader then checkpoints
		// it and resumes after it instead of reading it again, and a sink
		// that is failing is not raced by a new session it cannot serve.
		if err := t.opts.Sink.Write(s.hard, events); err != nil {
			return fmt.Errorf("deliver batch: %w", err)
		}
	}
	// The writer drains acks until this goroutine closes the channel.
	s.acks <- ackBatch{ids: ids, frames: len(batch), published: published}
	if last != "" && t.cfg.Mode == ModeReader {
		t.advance(last, len(batch))
	}
	return nil
}

// write owns the socket's write side: acks in order, pings for dead-peer
// detection, and the normal close after a graceful stop. After a failure it
// keeps draining acks so the delivering goroutine never blocks.
func (s *session) write() {
	t := s.t
	ping := time.NewTicker(t.cfg.PingInterval)
	defer ping.Stop()
	var buf []byte
	alive := true
	for {
		select {
		case b, ok := <-s.acks:
			if !ok {
				if alive && s.connCtx.Err() == nil {
					// Delivery finished (graceful stop or connection end):
					// say goodbye properly.
					_ = s.conn.Close(websocket.StatusNormalClosure, "")
				}
				return
			}
			for _, id := range b.ids {
				if !alive {
					break
				}
				buf = appendAck(buf[:0], id)
				if err := s.conn.Write(s.connCtx, websocket.MessageText, buf); err != nil {
					alive = false
					s.fail(t.red.wrap(fmt.Errorf("write ack: %w", err)))
				}
			}
			s.unack.Add(-int64(b.frames))
			t.opts.Metrics.Inflight(t.name, int(s.unack.Load()))
			if alive {
				// Counted once the acks are on the wire, not before.
				t.opts.Metrics.Acked(t.name, b.frames, b.published)
				t.acked.Add(int64(b.frames))
			}
		case <-ping.C:
			if !alive {
				continue
			}
			ctx, cancel := context.WithTimeout(s.connCtx, t.cfg.PingTimeout)
			err := s.conn.Ping(ctx)
			cancel()
			if err != nil && s.connCtx.Err() == nil {
				alive = false
				s.fail(fmt.Errorf("ping after %s: %w", t.cfg.PingTimeout, ErrPingTimeout))
			}
		}
	}
}

// appendAck renders {"messageId":"<id>"} with the id byte-for-byte.
func appendAck(dst []byte, id string) []byte {
	if bytes.ContainsAny([]byte(id), "\"\\") || !isPrintableASCII(id) {
		b, _ := json.Marshal(struct {
			MessageID string `json:"messageId"`
		}{id})
		return append(dst, b...)
	}
	dst = append(dst, `{"messageId":"`...)
	dst = append(dst, id...)
	return append(dst, `"}`...)
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
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
