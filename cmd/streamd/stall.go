package main

import (
	"fmt"
	"time"
)

// stallMargin is added to the stall bound for a loaded machine: the
// teardown of a failed session and a scheduler delay.
const stallMargin = 5 * time.Second

// liveTopic is what the stall rule reads of a topic; *consumer.Topic
// implements it.
type liveTopic interface {
	Name() string
	Connected() bool
	Waiting() bool
	Progress() time.Time
}

// stallBound is how long a connected topic may go without a frame, an ack
// or a pong before it counts as stalled: 2 × (PING_INTERVAL + PING_TIMEOUT)
// + stallMargin. A healthy connected topic moves at least every
// PING_INTERVAL (the proxy answers each ping), and the consumer replaces a
// silent peer within PING_INTERVAL + PING_TIMEOUT (then the topic is no
// longer connected), so twice that means its own detection did not act.
func stallBound(pingInterval, pingTimeout time.Duration) time.Duration {
	return 2*(pingInterval+pingTimeout) + stallMargin
}

// stalled lists, as "topic NAME: reason", the topics whose session is
// stuck: connected, not waiting for the sinks (sink down, byte-budget
// backpressure: see consumer.Topic.Waiting), and without progress for
// longer than bound at now. A topic that is not connected (dialing, in
// reconnect backoff) is recovering by itself and never listed.
func stalled(topics []liveTopic, now time.Time, bound time.Duration) []string {
	var out []string
	for _, t := range topics {
		if !t.Connected() || t.Waiting() {
			continue
		}

		last := t.Progress()
		if last.IsZero() {
			continue
		}

		if age := now.Sub(last); age > bound {
			out = append(out, fmt.Sprintf("topic %s: connected but no frame, ack or pong for %s (bound %s)",
				t.Name(), age.Round(time.Second), bound))
		}
	}

	return out
}
