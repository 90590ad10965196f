package consumer

import (
	"encoding/base64"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func testID(ledger, entry uint64) string {
	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, ledger)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, entry)
	return base64.StdEncoding.EncodeToString(b)
}

// The count is the received ids newer than the accepted one; replays after
// a reconnect neither add to it nor hide what was seen before.
func TestBehindCountsReceivedBeyondAccepted(t *testing.T) {
	var b behind
	for e := uint64(1); e <= 5; e++ {
		if got := b.seen(testID(7, e)); got != int(e) {
			t.Fatalf("after seeing 7:%d count %d", e, got)
		}
	}
	if got := b.accepted(testID(7, 2)); got != 3 {
		t.Errorf("after accepting 7:2 count %d, want 3", got)
	}
	// Reconnect from the checkpoint 7:2: 7:3..7:5 come again.
	for e := uint64(3); e <= 5; e++ {
		if got := b.seen(testID(7, e)); got != 3 {
			t.Errorf("replayed 7:%d changed the count to %d", e, got)
		}
	}
	if got := b.seen(testID(8, 0)); got != 4 {
		t.Errorf("new ledger: count %d, want 4", got)
	}
	if got := b.accepted(testID(8, 0)); got != 0 {
		t.Errorf("all accepted: count %d, want 0", got)
	}
	if got := b.seen("not-an-id"); got != 0 {
		t.Errorf("bad id counted: %d", got)
	}
}
