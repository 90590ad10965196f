// Package nats is the streamd sink that publishes events to NATS, either as
// core NATS messages or to a JetStream stream.
//
// # How to use
//
//	s, err := nats.Open(ctx, nats.Config{URL: "nats://a:4222,nats://b:4222", JetStream: true, Stream: "EVENTS", Name: "streamd"})
//	...
//	err = s.Write(ctx, batch) // nil: every event is accepted (see below)
//	...
//	_ = s.Close(ctx)
//
// Open does not need a reachable server: the connection is retried forever
// in the background (every Config.ReconnectWait, default 1s, plus jitter),
// and Write returns an error until it is up. Ping reports reachability for
// health checks and `streamd check`.
//
// # Messages
//
// The body is the decoded event JSON exactly as 8x8 published it
// (sink.Event.Payload). The subject is Config.Subject, a template over
// {tenant}, {namespace}, {topic} (the Pulsar topic's three parts) and {type}
// (the event type), default "8x8.{tenant}.{type}". Values are sanitised to
// stay one subject token: spaces, '.', '*', '>' and control characters become
// '_', and an empty value becomes "_". Headers:
//
//	Nats-Msg-Id               JetStream only: topic + ":" + Pulsar message id (the dedup id)
//	Streamd-Message-Id        Pulsar message id, base64, as the proxy sent it
//	Streamd-Topic             full topic, "persistent://tenant/namespace/topic"
//	Streamd-Publish-Time      broker publish time, verbatim
//	Streamd-Event-Type        event type, e.g. "InteractionCreated"
//	Streamd-Redelivery-Count  broker redelivery count, decimal
//	Streamd-Key               partition key; absent when the message has none
//	Streamd-Instance          the publishing replica (Config.Instance); absent when unset
//
// # Delivery guarantee
//
// Core NATS: Write publishes the batch and then does a PING/PONG round-trip
// on the same connection; it returns nil only when the PONG arrived, which
// proves the server read every message. Publishing while disconnected fails
// at once (the client's reconnect buffer is disabled, so nothing is buffered
// and claimed as sent), and a reconnect during the Write fails it. Beyond
// the server core NATS is at-most-once: a message is delivered to the
// subscribers connected at that moment and is not stored. Retried batches
// may deliver an event twice; subscribers can deduplicate on
// Streamd-Topic + Streamd-Message-Id.
//
// JetStream: Write publishes the batch asynchronously, keeping at most
// Config.MaxInflight messages (default 256, shared by concurrent Writes)
// waiting for their PubAck, and returns nil only when every message has
// been acknowledged by the stream, i.e. stored. Any error fails the whole
// batch; the caller retries it, and Nats-Msg-Id makes the stream drop the
// copies it already stored, so an event is stored exactly once as long as
// the retry comes within the stream's duplicate window.
//
// # Healing
//
// Every wait for one server answer inside a Write is bounded by
// Config.AckTimeout (default 2s): a PubAck, and each JetStream API request
// (stream info, stream create, account info). A PubAck wait also ends at
// once when the connection drops, as that ack can never come. After a
// PubAck timeout or a "no responders" answer the next Write asks the
// server for the stream and, with Config.Stream set, creates it again when
// it is missing (a stream deleted while a plain subscriber listens on its
// subjects produces no error, only PubAcks that never come). So a deleted
// stream, a lame-duck restart or a lost stream leader costs a few seconds,
// never the 30s of a whole WriteTimeout.
//
// A connection the client library closed for good (CLOSED, e.g. after the
// server answered a protocol error) is replaced by a new one at the next
// Write or Ping.
//
// # Events rejected for good
//
// Write returns a *sink.RejectError (see package sink) listing the events
// that no retry can publish, after every other event of the batch was
// accepted:
//
//   - the message (payload plus headers) is larger than the server's
//     max_payload; the client refuses it before sending;
//   - the subject would make the protocol line longer than
//     Config.MaxControlLine (the server's max_control_line, default 4096);
//     checked before sending, because the server would close the
//     connection;
//   - JetStream only: the stream answers that the message exceeds its
//     max_msg_size (API error 10054).
//
// Everything else (not connected, timeouts, no stream, permissions) is
// transient: the whole batch fails and is retried.
//
// # Streams and the duplicate window
//
// With Config.Stream set, Open (or the first Write, when no server was
// reachable) makes sure that stream exists and that its subjects cover the
// subject template, with every placeholder token as '*' (the default
// template needs "8x8.*.*" or a wider filter such as "8x8.>"). A missing
// stream is created with file storage, limits retention, no size or age
// limits, and Duplicates = Config.DuplicateWindow. An existing stream is
// never changed; if its subjects do not cover ours, Open fails with
// ErrStreamSubjects. Publishes then carry Nats-Expected-Stream so that a
// message can only be stored by that stream. With Stream empty, streams are
// managed elsewhere and a publish with no stream listening fails.
//
// Choose the duplicate window at least as long as the longest time between
// the first publish of an event and its last retry: the longest NATS outage
// you want to ride through plus the time streamd needs to replay the
// unacknowledged backlog afterwards (Pulsar redelivers everything not yet
// acknowledged, also after a streamd restart). The default 2m covers short
// server restarts; use e.g. 1h if outages of tens of minutes must not
// produce duplicates. The server keeps every id of the window in memory,
// so a longer window costs memory proportional to the event rate.
package nats
