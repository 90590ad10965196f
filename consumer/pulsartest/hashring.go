package pulsartest

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"
	"strconv"
)

// ringPoints is the number of hash-ring points per consumer, both for the
// Failover active-consumer ring (CONSUMER_CONSISTENT_HASH_REPLICAS) and the
// Key_Shared selector (subscriptionKeySharedConsistentHashingReplicaPoints,
// default 100). Source: apache/pulsar
// AbstractDispatcherSingleActiveConsumer and
// ConsistentHashingStickyKeyConsumerSelector.
const ringPoints = 100

// noneKey is the sticky key of messages without a key (Pulsar's NONE_KEY):
// on Key_Shared they all go to one consumer.
var noneKey = []byte("NONE_KEY")

// pulsarHash is Pulsar's Murmur3_32Hash.makeHash: MurmurHash3 x86_32 with
// seed 0, masked to 31 bits (0..2^31-1). (The one Go module for it in reach,
// spaolacci/murmur3 v1.1.0, fails -race's checkptr, hence this copy of the
// public-domain algorithm.)
func pulsarHash(b []byte) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	var h uint32
	n := len(b)

	for ; len(b) >= 4; b = b[4:] {
		k := binary.LittleEndian.Uint32(b)
		h ^= bits.RotateLeft32(k*c1, 15) * c2
		h = bits.RotateLeft32(h, 13)*5 + 0xe6546b64
	}

	var k uint32
	for i := len(b) - 1; i >= 0; i-- {
		k = k<<8 | uint32(b[i])
	}

	h ^= bits.RotateLeft32(k*c1, 15) * c2
	h ^= uint32(n)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h & 0x7fffffff
}

// stickyHash is the Key_Shared hash of a message: of its key, else of
// NONE_KEY.
func stickyHash(m *message) uint32 {
	if m.opts.key == "" {
		return pulsarHash(noneKey)
	}
	return pulsarHash([]byte(m.opts.key))
}

// byPriorityName orders consumers as the broker does before picking a
// Failover active consumer: priorityLevel ascending (0 is the highest
// priority), then consumer name; the sort is stable, so equal names keep
// attach order.
func byPriorityName(ms []*member) []*member {
	out := slices.Clone(ms)
	slices.SortStableFunc(out, func(a, b *member) int {
		if c := cmp.Compare(a.priority, b.priority); c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	})
	return out
}

// pickActive returns the active consumer of a Failover or Exclusive
// subscription on a non-partitioned topic, by the broker's rule
// (AbstractDispatcherSingleActiveConsumer.pickAndScheduleActiveConsumer):
// among the consumers of the highest priority level, a hash ring with 100
// points per consumer (Murmur3 of name+index; a later consumer with an equal
// name takes over the earlier one's points) is looked up at the Murmur3 hash
// of the full topic name, taking the first point at or after it (wrapping).
// So which consumer is active depends on the names, not on attach order.
func pickActive(ms []*member, topic string) *member {
	if len(ms) == 0 {
		return nil
	}

	sorted := byPriorityName(ms)
	n := len(sorted)
	for i, m := range sorted {
		if m.priority != sorted[0].priority {
			n = i
			break
		}
	}

	ring := make(map[uint32]int, n*ringPoints)
	for i, m := range sorted[:n] {
		for j := range ringPoints {
			ring[pulsarHash([]byte(m.name+strconv.Itoa(j)))] = i
		}
	}

	th := pulsarHash([]byte(topic))
	best, bestHash := -1, uint32(0)
	first, firstHash := -1, uint32(0)
	for h, i := range ring {
		if h >= th && (best < 0 || h < bestHash) {
			best, bestHash = i, h
		}
		if first < 0 || h < firstHash {
			first, firstHash = i, h
		}
	}

	if best < 0 {
		best = first
	}

	return sorted[best]
}

// keyRing is the Key_Shared consumer selector with consistent hashing
// (ConsistentHashingStickyKeyConsumerSelector, Pulsar's default): each
// consumer puts 100 points on a ring at Murmur3(name + "\x00" + index); a
// key hash goes to the first point at or after it (wrapping). Colliding
// points (equal names) prefer the higher priorityLevel, then the lower name,
// then the consumer selected at fewer points.
type keyRing struct {
	points []uint32             // sorted
	at     map[uint32][]*member // candidates per point, best first
	chosen map[*member]int      // points where a member is selected
}

func newKeyRing() *keyRing {
	return &keyRing{
		at:     make(map[uint32][]*member),
		chosen: make(map[*member]int),
	}
}

func ringHash(m *member, i int) uint32 {
	return pulsarHash([]byte(m.name + "\x00" + strconv.Itoa(i)))
}

func (r *keyRing) add(m *member) {
	for i := range ringPoints {
		h := ringHash(m, i)
		cands := r.at[h]
		if len(cands) == 0 {
			pos, _ := slices.BinarySearch(r.points, h)
			r.points = slices.Insert(r.points, pos, h)
		}

		pos := len(cands)
		for j, c := range cands {
			if r.before(m, c) {
				pos = j
				break
			}
		}

		if pos == 0 {
			if len(cands) > 0 {
				r.chosen[cands[0]]--
			}
			r.chosen[m]++
		}

		r.at[h] = slices.Insert(cands, pos, m)
	}
}

// before reports whether a new candidate m outranks c at a shared point.
func (r *keyRing) before(m, c *member) bool {
	if m.priority != c.priority {
		return m.priority > c.priority
	}
	if m.name != c.name {
		return m.name < c.name
	}
	return r.chosen[m] < r.chosen[c]
}

func (r *keyRing) remove(m *member) {
	for i := range ringPoints {
		h := ringHash(m, i)
		cands := r.at[h]
		j := slices.Index(cands, m)
		if j < 0 {
			continue
		}

		if j == 0 {
			r.chosen[m]--
		}

		cands = slices.Delete(cands, j, j+1)
		if len(cands) == 0 {
			delete(r.at, h)
			pos, _ := slices.BinarySearch(r.points, h)
			r.points = slices.Delete(r.points, pos, pos+1)
			continue
		}

		if j == 0 {
			r.chosen[cands[0]]++
		}

		r.at[h] = cands
	}

	delete(r.chosen, m)
}

// selectFor returns the consumer serving key hash h, or nil when empty.
func (r *keyRing) selectFor(h uint32) *member {
	if len(r.points) == 0 {
		return nil
	}
	pos, _ := slices.BinarySearch(r.points, h)
	if pos == len(r.points) {
		pos = 0
	}
	return r.at[r.points[pos]][0]
}
