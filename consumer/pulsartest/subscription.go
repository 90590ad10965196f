package pulsartest

import (
	"sort"
	"time"
)

// Subscription types accepted by the consumer endpoint.
const (
	subExclusive = "Exclusive"
	subShared    = "Shared"
	subFailover  = "Failover"
	subKeyShared = "Key_Shared"
)

type subKey struct{ topic, name string }

// subscription is a consumer subscription's broker-side state: the cursor
// for first deliveries, the in-flight (delivered, unacked) messages and the
// queue of messages due for redelivery (on Key_Shared also messages read
// ahead of the cursor that no consumer could take yet). dispatch.go assigns
// them to consumers by the subscription type.
type subscription struct {
	key          subKey
	topic        *topic
	typ          string
	durable      bool
	deleted      bool // unsubscribed
	cursor       int64
	consumers    []*member // attach order
	active       *member   // Exclusive/Failover: the active consumer
	switching    bool      // Failover: active changed, dispatch paused for FailoverDelay
	switchGen    uint64    // guards the FailoverDelay timer
	ring         *keyRing  // Key_Shared consumer selector
	holds        map[uint32]hold
	rr           int // Shared: round-robin position in consumers
	inflight     map[idKey]*delivery
	redeliver    []*delivery // sorted by seq
	maxRedeliver int
	dlq          string
}

// member is one consumer of a subscription: its session, the name and
// priority it subscribed with, and the deliveries assigned to it but not
// yet written to its socket.
type member struct {
	ss       *session
	name     string // consumerName, or a random 5-hex name like the Java client's
	priority int    // priorityLevel: 0 is the highest
	outbox   []assigned
}

// assigned is a delivery handed to a member; stale once the delivery was
// settled or reassigned (gen moved on).
type assigned struct {
	d   *delivery
	gen uint64
}

// hold counts the in-flight messages of one Key_Shared key hash and the
// consumer holding them: no other consumer gets that key until they are
// settled, which keeps per-key order across consumer changes.
type hold struct {
	owner *session
	n     int
}

// delivery is a message of a subscription that is in flight or awaiting
// redelivery.
type delivery struct {
	msg   *message
	count int      // redeliveryCount of the next (or current) delivery
	owner *session // nil when not in flight
	gen   uint64   // bumped per delivery, guards ack-timeout timers
	hash  uint32   // Key_Shared sticky-key hash while held
}

func (sub *subscription) member(ss *session) *member {
	for _, m := range sub.consumers {
		if m.ss == ss {
			return m
		}
	}
	return nil
}

func (sub *subscription) kickAll() {
	for _, c := range sub.consumers {
		c.ss.kick()
	}
}

// untook gives back the window slot or permit of a frame that was charged
// but never written.
func (ss *session) untook() {
	if ss.pull {
		ss.permits++
	} else {
		ss.pending--
	}
}

// nextLocked returns the next frame session ss may write now, or nil. It
// charges the flow-control window (consumers: at dispatch).
func (s *Server) nextLocked(ss *session) []byte {
	if ss.detached || ss.stall != nil {
		return nil
	}

	if len(ss.injected) > 0 && ss.hasRoom() {
		f := ss.injected[0]
		ss.injected = ss.injected[1:]
		ss.took()
		s.stats.Injected++
		return f
	}

	if ss.kind == readerKind {
		return s.nextReaderLocked(ss)
	}

	sub := ss.sub
	s.dispatchLocked(sub)
	m := sub.member(ss)
	for m != nil && len(m.outbox) > 0 {
		a := m.outbox[0]
		m.outbox = m.outbox[1:]

		if a.d.owner != ss || a.d.gen != a.gen {
			ss.untook()
			continue
		}

		if a.d.count > 0 {
			s.stats.Redelivered++
		}

		s.stats.Delivered++

		return a.d.msg.frame(a.d.count)
	}

	return nil
}

func (s *Server) nextReaderLocked(ss *session) []byte {
	if !ss.hasRoom() {
		return nil
	}
	m := ss.topic.read(&ss.cursor)
	if m == nil {
		return nil
	}
	ss.took()
	s.stats.Delivered++
	return m.frame(0)
}

// settleLocked removes k from the in-flight set (releasing its Key_Shared
// hold) and returns its delivery, or nil.
func (sub *subscription) settleLocked(k idKey) *delivery {
	d := sub.inflight[k]
	if d == nil {
		return nil
	}

	delete(sub.inflight, k)

	if sub.holds != nil {
		if h, ok := sub.holds[d.hash]; ok {
			if h.n <= 1 {
				delete(sub.holds, d.hash)
			} else {
				sub.holds[d.hash] = hold{h.owner, h.n - 1}
			}
		}
	}

	d.owner = nil
	return d
}

// requeueInflightLocked requeues, with redeliveryCount+1, every in-flight
// delivery for which pick is true, and returns how many.
func (s *Server) requeueInflightLocked(sub *subscription, pick func(*delivery) bool) int {
	var back []*delivery
	for k, d := range sub.inflight {
		if pick(d) {
			sub.settleLocked(k)
			d.count++
			back = append(back, d)
		}
	}
	s.requeueLocked(sub, back...)
	return len(back)
}

// requeueLocked queues deliveries for redelivery in publish order, moving
// those past the subscription's maxRedeliverCount to its dead-letter topic.
func (s *Server) requeueLocked(sub *subscription, ds ...*delivery) {
	if sub.deleted || len(ds) == 0 {
		return
	}

	for _, d := range ds {
		if sub.maxRedeliver > 0 && d.count > sub.maxRedeliver {
			s.publishLocked(sub.dlq, d.msg.payload, d.msg.opts)
			s.stats.DeadLettered++
			continue
		}

		i := sort.Search(len(sub.redeliver), func(i int) bool { return sub.redeliver[i].msg.seq >= d.msg.seq })
		sub.redeliver = append(sub.redeliver, nil)
		copy(sub.redeliver[i+1:], sub.redeliver[i:])
		sub.redeliver[i] = d
	}

	sub.kickAll()
}

// ackLocked acknowledges k on sub, whichever consumer it was delivered to.
func (s *Server) ackLocked(sub *subscription, k idKey) {
	if sub.settleLocked(k) != nil {
		if sub.typ == subKeyShared {
			sub.kickAll() // the key's hold may have ended
		}
		return
	}

	for i, d := range sub.redeliver {
		if d.msg.key == k {
			sub.redeliver = append(sub.redeliver[:i], sub.redeliver[i+1:]...)
			return
		}
	}
}

// nackLocked schedules redelivery of k if ss holds it in flight.
func (s *Server) nackLocked(ss *session, k idKey) {
	sub := ss.sub
	d := sub.inflight[k]
	if d == nil || d.owner != ss {
		return
	}

	sub.settleLocked(k)
	d.count++
	delay := ss.nackDelay
	if s.nackDelay >= 0 {
		delay = s.nackDelay
	}

	s.afterLocked(delay, func() { s.requeueLocked(sub, d) })
}

// afterLocked runs f under s.mu after d, unless the server closes first.
func (s *Server) afterLocked(d time.Duration, f func()) {
	if s.closed {
		return
	}

	var t *time.Timer
	t = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.timers[t]; !ok {
			return
		}
		delete(s.timers, t)
		f()
	})

	s.timers[t] = struct{}{}
}

// detachLocked removes ss from the broker: its unacked messages go back to
// the subscription for redelivery with redeliveryCount+1. Idempotent.
func (s *Server) detachLocked(ss *session) {
	if ss.detached {
		return
	}

	ss.detached = true
	delete(s.sessions, ss)
	close(s.sessChange)
	s.sessChange = make(chan struct{})
	delete(ss.topic.sessions, ss)
	sub := ss.sub
	if sub == nil {
		return
	}

	s.removeMemberLocked(sub, ss)
	s.requeueInflightLocked(sub, func(d *delivery) bool { return d.owner == ss })

	if !sub.durable && len(sub.consumers) == 0 && s.subs[sub.key] == sub {
		delete(s.subs, sub.key)
	}

	sub.kickAll()
}
