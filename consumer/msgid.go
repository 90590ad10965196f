package consumer

import (
	"encoding/base64"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// MessageID is a decoded Pulsar MessageIdData. streamd never re-encodes ids:
// acks and checkpoints always carry the exact string the proxy sent. The
// decoded form is only used for ordering and de-duplication.
type MessageID struct {
	Ledger     uint64
	Entry      uint64
	Partition  int32 // -1 when not partitioned
	BatchIndex int32 // -1 when not part of a batch
	BatchSize  int32
}

// ParseMessageID decodes the standard-base64 protobuf MessageIdData in s.
func ParseMessageID(s string) (MessageID, error) {
	// Ids are a few dozen bytes: decode on the stack, not the heap.
	var buf [64]byte
	var raw []byte
	if base64.StdEncoding.DecodedLen(len(s)) <= len(buf) {
		raw = buf[:]
	} else {
		raw = make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	}

	n, err := base64.StdEncoding.Decode(raw, []byte(s))
	if err != nil {
		return MessageID{}, fmt.Errorf("decode message id %q: %w", s, err)
	}

	raw = raw[:n]
	id := MessageID{Partition: -1, BatchIndex: -1}
	var haveLedger, haveEntry bool
	for len(raw) > 0 {
		num, typ, n := protowire.ConsumeTag(raw)
		if n < 0 {
			return MessageID{}, fmt.Errorf("decode message id %q: %w", s, protowire.ParseError(n))
		}

		raw = raw[n:]
		if typ != protowire.VarintType {
			n = protowire.ConsumeFieldValue(num, typ, raw)
			if n < 0 {
				return MessageID{}, fmt.Errorf("decode message id %q: %w", s, protowire.ParseError(n))
			}
			raw = raw[n:]
			continue
		}

		v, n := protowire.ConsumeVarint(raw)
		if n < 0 {
			return MessageID{}, fmt.Errorf("decode message id %q: %w", s, protowire.ParseError(n))
		}

		raw = raw[n:]

		switch num {
		case 1:
			id.Ledger, haveLedger = v, true
		case 2:
			id.Entry, haveEntry = v, true
		case 3:
			id.Partition = int32(v)
		case 4:
			id.BatchIndex = int32(v)
		case 6:
			id.BatchSize = int32(v)
		}
	}

	if !haveLedger || !haveEntry {
		return MessageID{}, fmt.Errorf("decode message id %q: %w", s, errors.New("missing ledger or entry id"))
	}

	return id, nil
}

// Compare orders ids of the same partition by (ledger, entry, batch index).
// It returns -1, 0 or +1. Ids of different partitions are not ordered.
func (a MessageID) Compare(b MessageID) int {
	switch {
	case a.Ledger != b.Ledger:
		return cmp3(a.Ledger < b.Ledger)
	case a.Entry != b.Entry:
		return cmp3(a.Entry < b.Entry)
	case a.BatchIndex != b.BatchIndex:
		return cmp3(a.BatchIndex < b.BatchIndex)
	}
	return 0
}

func cmp3(less bool) int {
	if less {
		return -1
	}
	return 1
}

// String renders the id for humans, e.g. "3:17:-1:-1".
func (a MessageID) String() string {
	return fmt.Sprintf("%d:%d:%d:%d", a.Ledger, a.Entry, a.Partition, a.BatchIndex)
}
