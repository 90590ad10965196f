// Package consumer streams one topic of 8x8's hosted Pulsar WebSocket proxy
// into a sink.
//
// A Topic is one supervised stream: it dials the proxy, reads frames,
// delivers their events to its sink, acknowledges them, and reconnects with
// backoff (package reconnect) whenever the connection ends.
//
// # Reader and consumer mode
//
// In reader mode (/ws/v2/reader) the proxy keeps no position: streamd
// checkpoints the id of the last message every sink accepted and resumes
// after it on the next session and after a restart. In consumer mode
// (/ws/v2/consumer) the proxy keeps a durable subscription and redelivers
// whatever was not acked.
//
// # Ack after accept
//
// A message is acked (consumer) or checkpointed (reader) only after every
// sink accepted it durably. A message that can never be delivered is first
// written to the dead-letter file with a stage and a reason, then acked:
// a frame that is not JSON, has a field of an unexpected type, has a
// messageId but no payload or a payload but no messageId, or is larger
// than Config.ReadLimit (its first ReadLimit bytes are recorded; stage
// "frame");
// an id a consumer cannot decode ("message_id"); a payload that is not
// base64 of a JSON object ("payload"); and an event a sink rejected for good
// (sink.RejectError; stage "sink <names>"). Nothing is dropped silently and
// nothing loops. A consumer cannot ack a frame without a decodable id (the
// proxy would end the session), so such a frame keeps its window slot until
// the session ends, and once such frames hold half the window the session is
// replaced (reason "window_leak"); Topic.Acked counts only the acks actually
// written.
//
// # Flow control and liveness
//
// The proxy never has more than Config.ReceiverQueueSize unacked messages in
// flight, and a session stops reading the socket while the events read but
// not yet accepted exceed Config.InflightBytes (TCP backpressure), so memory
// is bounded in messages and in bytes. Pings run in their own goroutine and
// ack writes carry a deadline, so a proxy that stops reading is declared dead
// within PingInterval + PingTimeout whatever else is blocked; Topic.Progress
// lets a liveness check see a session that makes no progress. Every
// handshake opens a fresh connection (a DNS move is followed) and a redirect
// is never followed. In consumer mode with a Failover subscription, a
// session that receives nothing for six ping intervals after connecting is
// reported not ready as a standby until its first message.
//
// # Drain and abort
//
// Topic.Run takes two contexts. Cancelling the first drains: the topic stops
// taking frames, finishes the events already received, acks and checkpoints
// them, and closes the socket normally. Cancelling the second aborts: events
// in flight are abandoned unacked, and come again on the next start.
//
// The data path of one session, one file per step: dial.go and handshake.go
// (connect, and what a refused upgrade means), read.go (frame to item),
// deliver.go (items to the sink), write.go (acks and pings), position.go
// (reader checkpoints); session.go coordinates the goroutines.
package consumer
