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
func (s *Sink) Write(ctx context.Context, batch []*sink.Event) error {
	if s.isClosed.Load() {
		return sink.ErrClosed
	}
	if len(batch) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish to nats: %w", err)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if !s.nc.IsConnected() {
		return s.notConnected("publish to nats")
	}
	if s.js != nil {
		return s.writeJetStream(ctx, batch)
	}
	return s.writeCore(ctx, batch)
}

// message builds the NATS message for e. The header values share one
// backing array to keep allocations per event low.
func (s *Sink) message(e *sink.Event, subj []byte) *natsgo.Msg {
	vals := make([]string, 0, 7)
	vals = append(vals, e.MessageID, e.Topic, e.PublishTime, e.EventType, strconv.Itoa(e.RedeliveryCount))
	h := make(natsgo.Header, 7)
	h[HeaderMessageID] = vals[0:1:1]
	h[HeaderTopic] = vals[1:2:2]
	h[HeaderPublishTime] = vals[2:3:3]
	h[HeaderEventType] = vals[3:4:4]
	h[HeaderRedeliveryCount] = vals[4:5:5]
	if e.Key != "" {
		vals = append(vals, e.Key)
		h[HeaderKey] = vals[len(vals)-1:]
	}
	if s.js != nil {
		vals = append(vals, MsgID(e))
		h[HeaderMsgID] = vals[len(vals)-1:]
	}
	return &natsgo.Msg{Subject: string(subj), Header: h, Data: e.Payload}
}

// writeCore publishes the batch and confirms it with a PING/PONG round-trip.
// A reconnect between the first publish and the PONG fails the Write: the
// messages may have been lost with the old connection.
func (s *Sink) writeCore(ctx context.Context, batch []*sink.Event) error {
	before := s.nc.Stats().Reconnects
	var subj []byte
	for _, e := range batch {
		subj = s.tmpl.render(subj[:0], e)
		if err := s.nc.PublishMsg(s.message(e, subj)); err != nil {
			return fmt.Errorf("publish %s: %w", MsgID(e), err)
		}
	}
	if err := s.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("flush nats: %w", err)
	}
	if s.nc.Stats().Reconnects != before {
		return errors.New("flush nats: connection was re-established during the write")
	}
	return nil
}

// writeJetStream publishes the batch asynchronously, holding one slot of
// s.slots per unacknowledged message, and waits for every PubAck.
func (s *Sink) writeJetStream(ctx context.Context, batch []*sink.Event) error {
	if err := s.ensureStream(ctx); err != nil {
		return err
	}
	w := window{s: s, ctx: ctx}
	defer w.release()
	var opts []jetstream.PublishOpt
	if s.cfg.Stream != "" {
		opts = append(opts, jetstream.WithExpectStream(s.cfg.Stream))
	}
	var subj []byte
	for _, e := range batch {
		if err := w.acquire(); err != nil {
			return err
		}
		subj = s.tmpl.render(subj[:0], e)
		f, err := s.js.PublishMsgAsync(s.message(e, subj), opts...)
		if err != nil {
			<-s.slots
			return fmt.Errorf("publish %s: %w", MsgID(e), err)
		}
		w.pending = append(w.pending, f)
	}
	for len(w.pending) > 0 {
		if err := w.waitOldest(); err != nil {
			return err
		}
	}
	return nil
}

// window tracks one Write's unacknowledged publishes.
type window struct {
	s       *Sink
	ctx     context.Context
	pending []jetstream.PubAckFuture // oldest first; each holds a slot
}

// acquire takes a slot. While the window is full it first waits for this
// Write's own oldest ack, so Writes never hold slots while blocked on each
// other; a Write with nothing pending waits for a free slot.
func (w *window) acquire() error {
	for {
		select {
		case w.s.slots <- struct{}{}:
			return nil
		default:
		}
		if len(w.pending) > 0 {
			if err := w.waitOldest(); err != nil {
				return err
			}
			continue
		}
		select {
		case w.s.slots <- struct{}{}:
			return nil
		case <-w.ctx.Done():
			return fmt.Errorf("wait for jetstream publish window: %w", w.ctx.Err())
		}
	}
}

// waitOldest waits for the oldest pending PubAck and frees its slot.
func (w *window) waitOldest() error {
	f := w.pending[0]
	var err error
	select {
	case <-f.Ok():
	case err = <-f.Err():
		if errors.Is(err, jetstream.ErrNoStreamResponse) {
			w.s.streamReady.Store(false) // the stream may have been deleted
		}
		err = fmt.Errorf("publish %s: %w", f.Msg().Header.Get(HeaderMsgID), err)
	case <-w.ctx.Done():
		return fmt.Errorf("wait for jetstream ack: %w", w.ctx.Err())
	}
	w.pending = w.pending[1:]
	<-w.s.slots
	return err
}

// release frees the slots of publishes nobody waits for any more.
func (w *window) release() {
	for range w.pending {
		<-w.s.slots
	}
	w.pending = nil
}
