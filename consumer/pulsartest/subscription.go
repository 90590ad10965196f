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
// queue of messages due for redelivery.
type subscription struct {
	key          subKey
	topic        *topic
	typ          string
	durable      bool
	deleted      bool // unsubscribed
	cursor       int64
	consumers    []*session // attach order; [0] is the Exclusive/Failover active consumer
	inflight     map[idKey]*delivery
	redeliver    []*delivery // sorted by seq
	maxRedeliver int
	dlq          string
}

// delivery is a message of a subscription that is in flight or awaiting
// redelivery.
type delivery struct {
	msg   *message
	count int      // redeliveryCount of the next (or current) delivery
	owner *session // nil when not in flight
	gen   uint64   // bumped per delivery, guards ack-timeout timers
}

// active reports whether ss may receive messages of its subscription.
func (sub *subscription) active(ss *session) bool {
	if sub.deleted || len(sub.consumers) == 0 {
		return false
	}
	switch sub.typ {
	case subShared, subKeyShared:
		return true
	}
	return sub.consumers[0] == ss
}

func (sub *subscription) kickAll() {
	for _, c := range sub.consumers {
		c.kick()
	}
}

// nextLocked returns the next frame session ss may write now, or nil. It
// charges the flow-control window.
func (s *Server) nextLocked(ss *session) []byte {
	if ss.detached || ss.stall != nil || !ss.hasRoom() {
		return nil
	}
	if len(ss.injected) > 0 {
		f := ss.injected[0]
		ss.injected = ss.injected[1:]
		ss.took()
		s.stats.Injected++
		return f
	}
	if ss.kind == readerKind {
		t := ss.topic
		if ss.cursor < t.base {
			ss.cursor = t.base
		}
		m := t.at(ss.cursor)
		if m == nil {
			return nil
		}
		ss.cursor++
		ss.took()
		s.stats.Delivered++
		return m.frame(0)
	}
	sub := ss.sub
	if !sub.active(ss) {
		return nil
	}
	var d *delivery
	if len(sub.redeliver) > 0 {
		d = sub.redeliver[0]
		sub.redeliver = sub.redeliver[1:]
		s.stats.Redelivered++
	} else {
		t := sub.topic
		if sub.cursor < t.base {
			sub.cursor = t.base
		}
		m := t.at(sub.cursor)
		if m == nil {
			return nil
		}
		sub.cursor++
		d = &delivery{msg: m}
	}
	d.owner = ss
	d.gen++
	sub.inflight[d.msg.key] = d
	if ss.ackTimeout > 0 {
		gen := d.gen
		s.afterLocked(ss.ackTimeout, func() {
			if sub.inflight[d.msg.key] == d && d.gen == gen && d.owner != nil {
				s.stats.AckTimeouts++
				delete(sub.inflight, d.msg.key)
				d.owner = nil
				d.count++
				s.requeueLocked(sub, d)
			}
		})
	}
	ss.took()
	s.stats.Delivered++
	return d.msg.frame(d.count)
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
	if d := sub.inflight[k]; d != nil {
		delete(sub.inflight, k)
		d.owner = nil
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
	delete(sub.inflight, k)
	d.owner = nil
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
	for i, c := range sub.consumers {
		if c == ss {
			sub.consumers = append(sub.consumers[:i], sub.consumers[i+1:]...)
			break
		}
	}
	var back []*delivery
	for k, d := range sub.inflight {
		if d.owner == ss {
			delete(sub.inflight, k)
			d.owner = nil
			d.count++
			back = append(back, d)
		}
	}
	s.requeueLocked(sub, back...)
	if !sub.durable && len(sub.consumers) == 0 && s.subs[sub.key] == sub {
		delete(s.subs, sub.key)
	}
	sub.kickAll()
}
