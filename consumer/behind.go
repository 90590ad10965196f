package consumer

import "sync"

// behind computes streamd_reader_behind_messages for a reader: the number
// of distinct message ids received on the topic that are newer (by ledger,
// entry, batch index) than the last message every sink accepted. While
// streaming that is the reader's own backlog, at most the proxy window
// (receiverQueueSize); after a reconnect from the checkpoint it also counts
// what this process had already received once and must read again. Messages
// the proxy has not sent yet are invisible to it: how far a reader trails
// the broker in time is streamd_lag_seconds.
type behind struct {
	mu     sync.Mutex
	newest MessageID
	have   bool
	ahead  []MessageID // received, newer than accepted, in order
}

// seen records a received id and returns the count; an id that does not
// parse is not counted.
func (b *behind) seen(id string) int {
	mid, err := ParseMessageID(id)
	return b.seenID(mid, err == nil)
}

// seenID is seen for an id the caller already parsed (ok: it parsed), so
// the hot path parses each message id once.
func (b *behind) seenID(mid MessageID, ok bool) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ok && (!b.have || mid.Compare(b.newest) > 0) {
		b.newest, b.have = mid, true
		b.ahead = append(b.ahead, mid)
	}
	return len(b.ahead)
}

// accepted records that every sink accepted everything up to id and
// returns the count.
func (b *behind) accepted(id string) int {
	mid, err := ParseMessageID(id)
	b.mu.Lock()
	defer b.mu.Unlock()

	if err != nil {
		return len(b.ahead)
	}

	i := 0
	for i < len(b.ahead) && b.ahead[i].Compare(mid) <= 0 {
		i++
	}

	b.ahead = append(b.ahead[:0], b.ahead[i:]...)
	return len(b.ahead)
}
