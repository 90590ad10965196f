package pulsartest

import (
	"fmt"
	"math/rand/v2"
)

// keySharedLookAhead bounds the messages a Key_Shared subscription reads
// ahead of its slowest key (Pulsar's
// keySharedLookAheadMsgInReplayThresholdPerConsumer default, 2000).
const keySharedLookAhead = 2000

// randomConsumerName mimics the Java client's generated consumer name
// (5 hex characters) used when consumerName is not given.
func randomConsumerName() string { return fmt.Sprintf("%05x", rand.IntN(1<<20)) }

// attachLocked adds session ss to sub as a consumer named name (random when
// empty) at priority level prio, and re-picks the active consumer.
func (s *Server) attachLocked(sub *subscription, ss *session, name string, prio int) {
	if name == "" {
		name = randomConsumerName()
	}

	m := &member{
		ss:       ss,
		name:     name,
		priority: prio,
	}
	sub.consumers = append(sub.consumers, m)
	ss.sub = sub

	if sub.typ == subKeyShared {
		if sub.ring == nil {
			sub.ring, sub.holds = newKeyRing(), make(map[uint32]hold)
		}
		sub.ring.add(m)
	}

	s.pickActiveLocked(sub)
	sub.kickAll()
}

// removeMemberLocked takes ss out of sub's consumers and selectors.
func (s *Server) removeMemberLocked(sub *subscription, ss *session) {
	m := sub.member(ss)
	if m == nil {
		return
	}

	for i, c := range sub.consumers {
		if c == m {
			sub.consumers = append(sub.consumers[:i], sub.consumers[i+1:]...)
			break
		}
	}

	if sub.ring != nil {
		sub.ring.remove(m)
	}

	s.pickActiveLocked(sub)
}

// pickActiveLocked re-picks the active consumer of an Exclusive or Failover
// subscription (see pickActive). When it changes, the broker restarts
// delivery from the first unacked message (cursor rewind: everything in
// flight at any consumer is redelivered to the new active one); on Failover
// it first waits Config.FailoverDelay (activeConsumerFailoverDelayTimeMillis)
// so the old active consumer can finish, delivering nothing meanwhile.
// Source: apache/pulsar PersistentDispatcherSingleActiveConsumer.
func (s *Server) pickActiveLocked(sub *subscription) {
	if sub.typ != subExclusive && sub.typ != subFailover {
		return
	}

	a := pickActive(sub.consumers, sub.topic.name)
	if a == sub.active {
		return
	}

	sub.active = a
	sub.switchGen++
	sub.switching = false

	if a == nil {
		return
	}

	s.stats.ActiveChanges++

	if sub.typ != subFailover || s.cfg.FailoverDelay <= 0 {
		s.rewindLocked(sub)
		return
	}

	sub.switching = true
	gen := sub.switchGen
	s.afterLocked(s.cfg.FailoverDelay, func() {
		if sub.switchGen == gen {
			sub.switching = false
			s.rewindLocked(sub)
			sub.kickAll()
		}
	})
}

// rewindLocked requeues every in-flight message of sub for redelivery.
func (s *Server) rewindLocked(sub *subscription) {
	s.requeueInflightLocked(sub, func(*delivery) bool { return true })
}

// canTake reports whether m may be assigned another message now.
func canTake(m *member) bool {
	return !m.ss.detached && m.ss.stall == nil && m.ss.hasRoom()
}

// dispatchLocked assigns messages of sub to its consumers the way the
// broker's dispatcher for the subscription type does (protocol doc §6.1;
// apache/pulsar Persistent*Dispatcher*): Exclusive and Failover to the
// active consumer only; Shared round robin over the consumers with window
// room, highest priority level (lowest priorityLevel) first; Key_Shared by
// the sticky-key hash ring, never handing a key to a consumer while
// another still holds unacked messages of it.
func (s *Server) dispatchLocked(sub *subscription) {
	if sub.deleted || len(sub.consumers) == 0 {
		return
	}

	switch sub.typ {
	case subShared:
		for sub.hasNext() {
			m := sub.nextShared()
			if m == nil {
				return
			}
			s.assignLocked(sub, m, s.takeNextLocked(sub))
		}
	case subKeyShared:
		s.dispatchKeySharedLocked(sub)
	default:
		m := sub.active
		for m != nil && !sub.switching && canTake(m) {
			d := s.takeNextLocked(sub)
			if d == nil {
				return
			}
			s.assignLocked(sub, m, d)
		}
	}
}

// takeNextLocked returns the next delivery of sub: the oldest one due for
// redelivery, else the message at the cursor (advancing it), else nil.
func (s *Server) takeNextLocked(sub *subscription) *delivery {
	if len(sub.redeliver) > 0 {
		d := sub.redeliver[0]
		sub.redeliver = sub.redeliver[1:]
		return d
	}
	m := sub.topic.read(&sub.cursor)
	if m == nil {
		return nil
	}
	return &delivery{msg: m}
}

// hasNext reports whether takeNextLocked would return a delivery.
func (sub *subscription) hasNext() bool {
	return len(sub.redeliver) > 0 || sub.topic.at(max(sub.cursor, sub.topic.base)) != nil
}

// nextShared picks the Shared consumer for the next message: round robin
// over those with room at the highest priority level among them.
func (sub *subscription) nextShared() *member {
	best := -1
	n := len(sub.consumers)
	for i := range n {
		j := (sub.rr + i) % n
		m := sub.consumers[j]
		if canTake(m) && (best < 0 || m.priority < sub.consumers[best].priority) {
			best = j
		}
	}

	if best < 0 {
		return nil
	}

	sub.rr = best + 1
	return sub.consumers[best]
}

// dispatchKeySharedLocked scans the pending deliveries in publish order
// (reading ahead of the cursor up to keySharedLookAhead) and assigns each
// to the consumer its key hash selects, unless that consumer has no room,
// another consumer holds the key, or an earlier message of the key is still
// waiting: a key's messages stay in order on one consumer.
func (s *Server) dispatchKeySharedLocked(sub *subscription) {
	for len(sub.redeliver) < keySharedLookAhead {
		m := sub.topic.read(&sub.cursor)
		if m == nil {
			break
		}
		sub.redeliver = append(sub.redeliver, &delivery{msg: m})
	}

	var blocked map[uint32]bool
	kept := sub.redeliver[:0]
	for _, d := range sub.redeliver {
		h := stickyHash(d.msg)
		m := sub.ring.selectFor(h)
		held, isHeld := sub.holds[h]
		if blocked[h] || m == nil || !canTake(m) || isHeld && held.owner != m.ss {
			if blocked == nil {
				blocked = make(map[uint32]bool)
			}
			blocked[h] = true
			kept = append(kept, d)
			continue
		}

		d.hash = h
		s.assignLocked(sub, m, d)
	}

	clear(sub.redeliver[len(kept):])
	sub.redeliver = kept
}

// assignLocked hands d to consumer m: in flight, window charged, queued for
// m's socket, with an ack-timeout timer when the session has one.
func (s *Server) assignLocked(sub *subscription, m *member, d *delivery) {
	ss := m.ss
	d.owner = ss
	d.gen++
	sub.inflight[d.msg.key] = d

	if sub.typ == subKeyShared {
		h := sub.holds[d.hash]
		sub.holds[d.hash] = hold{ss, h.n + 1}
	}

	if ss.ackTimeout > 0 {
		gen := d.gen
		s.afterLocked(ss.ackTimeout, func() {
			if sub.inflight[d.msg.key] == d && d.gen == gen && d.owner != nil {
				s.stats.AckTimeouts++
				sub.settleLocked(d.msg.key)
				d.count++
				s.requeueLocked(sub, d)
			}
		})
	}

	ss.took()
	m.outbox = append(m.outbox, assigned{d, d.gen})
	ss.kick()
}

// ActiveConsumer returns the consumer name of the active consumer of an
// Exclusive or Failover subscription of topic, "" when there is none (or
// for other types).
func (s *Server) ActiveConsumer(topic, subscription string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[subKey{fullTopic(topic), subscription}]
	if sub == nil || sub.active == nil {
		return ""
	}
	return sub.active.name
}

// Unacked returns, per consumer name, how many messages of a consumer
// subscription of topic are in flight (delivered or assigned, not acked).
func (s *Server) Unacked(topic, subscription string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int)
	sub := s.subs[subKey{fullTopic(topic), subscription}]
	if sub == nil {
		return out
	}

	for _, d := range sub.inflight {
		if m := sub.member(d.owner); m != nil {
			out[m.name]++
		}
	}

	return out
}
