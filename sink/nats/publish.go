package nats

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/streamd/streamd/sink"
)

// Header names set on every message; see the package documentation.
const (
	HeaderMsgID           = "Nats-Msg-Id" // JetStream only
	HeaderMessageID       = "Streamd-Message-Id"
	HeaderTopic           = "Streamd-Topic"
	HeaderPublishTime     = "Streamd-Publish-Time"
	HeaderEventType       = "Streamd-Event-Type"
	HeaderRedeliveryCount = "Streamd-Redelivery-Count"
	HeaderKey             = "Streamd-Key"
	HeaderInstance        = "Streamd-Instance"
)

// MsgID is the JetStream deduplication id of e: its topic and Pulsar message
// id, which together identify the event across redeliveries and restarts.
func MsgID(e *sink.Event) string {
	return e.Topic + ":" + e.MessageID
}

// Write publishes the batch and returns nil only once every event is
// accepted: for core NATS, after a flush round-trip showed the server read
// them on the same connection; for JetStream, once every PubAck arrived
// (duplicates included). On error the whole batch should be retried; with
// JetStream the retry is deduplicated by the stream.
//
// Events that can never be published are rejected for good, and Write then
// returns a *sink.RejectError listing them once every other event is
// accepted: a message larger than the server's max_payload, a subject that
// would exceed Config.MaxControlLine, a message larger than the stream's
// max_msg_size. Both are checked before sending, so the connection is never
// closed by the server for them.
func (s *Sink) Write(ctx context.Context, batch []*sink.Event) error {
	c, err := s.current()
	if err != nil {
		return err
	}

	if len(batch) == 0 {
		return nil
	}

	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish to nats: %w", err)
	}

	ctx, cancel := s.bound(ctx)
	defer cancel()
	lost := s.lostCh() // before the check: a disconnect after it closes lost

	if !c.nc.IsConnected() {
		return notConnected(c, "publish to nats")
	}

	if c.js != nil {
		return s.writeJetStream(ctx, c, lost, batch)
	}

	return s.writeCore(ctx, c, batch)
}

// message builds the NATS message for e.
func message(e *sink.Event, subj []byte, jetStream bool, instance string) *natsgo.Msg {
	m := &natsgo.Msg{Header: make(natsgo.Header, 8)}
	fill(m, make([]string, 0, 8), e, subj, jetStream, instance)
	return m
}

// fill makes m the NATS message for e, replacing its subject, data and
// every header. The header values share vals's backing array (at least 8
// long), to keep allocations per event low; m then uses it until the next
// fill.
func fill(m *natsgo.Msg, vals []string, e *sink.Event, subj []byte, jetStream bool, instance string) {
	h := m.Header
	clear(h)
	vals = append(vals[:0], e.MessageID, e.Topic, e.PublishTime, e.EventType, strconv.Itoa(e.RedeliveryCount))
	h[HeaderMessageID] = vals[0:1:1]
	h[HeaderTopic] = vals[1:2:2]
	h[HeaderPublishTime] = vals[2:3:3]
	h[HeaderEventType] = vals[3:4:4]
	h[HeaderRedeliveryCount] = vals[4:5:5]

	if e.Key != "" {
		vals = append(vals, e.Key)
		h[HeaderKey] = vals[len(vals)-1:]
	}

	if instance != "" {
		vals = append(vals, instance)
		h[HeaderInstance] = vals[len(vals)-1:]
	}

	if jetStream {
		vals = append(vals, MsgID(e))
		h[HeaderMsgID] = vals[len(vals)-1:]
	}

	m.Subject = string(subj)
	m.Data = e.Payload
}

// writeCore publishes the batch and confirms it with a PING/PONG round-trip.
// A reconnect between the first publish and the PONG fails the Write: the
// messages may have been lost with the old connection.
//
// Core NATS copies a message into its write buffer before PublishMsg
// returns, so one Msg, header map and value array serve the whole batch
// (JetStream keeps each message with its PubAck future, see
// writeJetStream).
func (s *Sink) writeCore(ctx context.Context, c *conn, batch []*sink.Event) error {
	before := c.nc.Stats().Reconnects
	var rej rejections
	var subj []byte
	m := natsgo.Msg{Header: make(natsgo.Header, 8)}
	var vals [8]string
	for i, e := range batch {
		subj = s.tmpl.render(subj[:0], e)
		if s.subjectTooLong(&rej, i, subj) {
			continue
		}

		fill(&m, vals[:0], e, subj, false, s.cfg.Instance)
		err := c.nc.PublishMsg(&m)
		if errors.Is(err, natsgo.ErrMaxPayload) {
			rej.tooLarge(i, e, c.nc.MaxPayload())
			continue
		}

		if err != nil {
			return fmt.Errorf("publish %s: %w", MsgID(e), err)
		}
	}

	if err := c.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("flush nats: %w", err)
	}

	if c.nc.Stats().Reconnects != before {
		return errors.New("flush nats: connection was re-established during the write")
	}

	return rej.err()
}

// writeJetStream publishes the batch asynchronously, holding one slot of
// s.slots per unacknowledged message, and waits for every PubAck.
func (s *Sink) writeJetStream(ctx context.Context, c *conn, lost <-chan struct{}, batch []*sink.Event) error {
	if err := s.ensureStream(ctx, c.js); err != nil {
		return err
	}

	w := window{
		s:    s,
		ctx:  ctx,
		lost: lost,
	}
	defer w.release()
	var opts []jetstream.PublishOpt
	if s.cfg.Stream != "" {
		opts = append(opts, jetstream.WithExpectStream(s.cfg.Stream))
	}

	var subj []byte
	for i, e := range batch {
		subj = s.tmpl.render(subj[:0], e)
		if s.subjectTooLong(&w.rej, i, subj) {
			continue
		}

		if err := w.acquire(); err != nil {
			return err
		}

		f, err := c.js.PublishMsgAsync(message(e, subj, true, s.cfg.Instance), opts...)
		if err != nil {
			<-s.slots
			if errors.Is(err, natsgo.ErrMaxPayload) {
				w.rej.tooLarge(i, e, c.nc.MaxPayload())
				continue
			}
			return fmt.Errorf("publish %s: %w", MsgID(e), err)
		}

		w.pending = append(w.pending, published{f, i})
	}

	for len(w.pending) > 0 {
		if err := w.waitOldest(); err != nil {
			return err
		}
	}

	return w.rej.err()
}
