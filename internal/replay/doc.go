// Package replay reads a topic again, from a start position of its own, into
// the configured sinks (Run), or prints it for a person (Tail). Both use a
// consumer.Topic in reader mode without a checkpoint store: the proxy's
// reader is a non-durable subscription of its own (protocol doc §2.2, §6.2),
// so neither touches a live daemon's checkpoint, durable subscription or
// state directory, and both can run beside it.
//
// # Where a replay starts
//
// The proxy's reader starts at "earliest" (the oldest retained message,
// inclusive) or after a message id (exclusive, protocol doc §6.2); it cannot
// seek by time. A start time (Range.Since) therefore reads from "earliest"
// and skips, by publishTime, every event published before it; the skipped
// events are counted (Result.Skipped). If the first event read was
// published after Since, the start is older than what the service retains
// (8x8 does not document its retention) and Run fails with ErrRetention
// before delivering anything: streamd cannot tell "expired" from "nothing
// happened then", so a quiet period right after Since also triggers it.
//
// # Where a replay stops
//
// The WebSocket proxy offers no "has message available" query: its only
// end-of-stream signal, the isEndOfTopic reply, becomes true only for a
// topic an administrator terminated (protocol doc §3.2), which 8x8's live
// topics never are. So the end is decided from publish times and silence:
//
//   - Range.UntilID: the event with that id is the last one delivered; an
//     event with a greater id (same partition) also ends the range, unsent.
//   - Range.Until: the first event published after it ends the range,
//     unsent.
//   - neither: "caught up", which is Until set to the moment Run starts —
//     everything published before the replay began, nothing after.
//   - silence: the proxy pushes retained messages as fast as its window
//     allows, so once the Until time has passed, no frame for Config.Idle
//     (while connected and no batch is being written) means nothing is left
//     to read: the replay is caught up. With UntilID that silence means the
//     id was never reached, and Run fails with ErrUntilNotReached. If
//     the first event read is already after UntilID, the range ended
//     before what the service retains, and Run fails with
//     ErrUntilBeforeRetention having delivered nothing.
//
// publishTime is the broker's clock and the default Until is this host's;
// a skewed clock moves the "caught up" boundary by the skew. Events whose
// publishTime cannot be parsed are never skipped and never end a range.
//
// # Delivery
//
// Events go to the sink in publish order, in batches, only after the
// filters; the sink's own de-duplication applies (the JetStream sink sets
// Nats-Msg-Id to topic + message id, the same id the daemon used, so a
// replay inside the stream's duplicate window stores nothing twice).
// Undecodable messages are logged and handed to Config.DeadLetter if set.
package replay
