package pulsartest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Message ids are real MessageIdData protobufs (ledgerId, entryId,
// batch_size 0). Ledgers start at 0x3E<<7 and entries run from 0x3F<<7 to
// 0x3F<<7+127 within a ledger, so the 8-byte encoding is
// 08 L1 3E 10 E1 3F 30 00, whose base64 ("CI…+E…/MAA=") contains '+', '/'
// and '=' for the first 128 ledgers. Later ids still contain '/' and '='.
const (
	firstLedger  = 0x3E << 7
	firstEntry   = 0x3F << 7
	entriesPerLd = 128
)

type idKey struct{ ledger, entry uint64 }

func (a idKey) less(b idKey) bool {
	return a.ledger < b.ledger || a.ledger == b.ledger && a.entry < b.entry
}

// encodeID renders a MessageIdData as the proxy does.
func encodeID(k idKey) string {
	b := make([]byte, 0, 16)
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, k.ledger)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, k.entry)
	b = protowire.AppendTag(b, 6, protowire.VarintType)
	b = protowire.AppendVarint(b, 0)
	return base64.StdEncoding.EncodeToString(b)
}

var errBadID = errors.New("missing ledgerId or entryId")

// decodeID parses a base64 MessageIdData, requiring ledger and entry ids.
func decodeID(s string) (idKey, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return idKey{}, err
	}

	var k idKey
	var haveL, haveE bool
	for len(raw) > 0 {
		num, typ, n := protowire.ConsumeTag(raw)
		if n < 0 {
			return idKey{}, protowire.ParseError(n)
		}

		raw = raw[n:]
		if typ == protowire.VarintType && (num == 1 || num == 2) {
			v, n := protowire.ConsumeVarint(raw)
			if n < 0 {
				return idKey{}, protowire.ParseError(n)
			}

			raw = raw[n:]

			if num == 1 {
				k.ledger, haveL = v, true
			} else {
				k.entry, haveE = v, true
			}

			continue
		}

		n = protowire.ConsumeFieldValue(num, typ, raw)
		if n < 0 {
			return idKey{}, protowire.ParseError(n)
		}

		raw = raw[n:]
	}

	if !haveL || !haveE {
		return idKey{}, errBadID
	}

	return k, nil
}

// message is one published message with its pre-rendered frame parts:
// frame = head + redeliveryCount + tail.
type message struct {
	seq     int64
	key     idKey
	id      string
	pub     time.Time
	head    []byte
	tail    []byte
	payload []byte
	opts    publishOpts
}

func (m *message) frame(redelivery int) []byte {
	b := make([]byte, 0, len(m.head)+len(m.tail)+4)
	b = append(b, m.head...)
	b = strconv.AppendInt(b, int64(redelivery), 10)
	return append(b, m.tail...)
}

// topic is a persistent topic: retained messages plus attached sessions.
type topic struct {
	name     string
	msgs     []*message
	base     int64 // seq of msgs[0]
	ledger   uint64
	entry    uint64 // next entry; entriesPerLd past firstEntry → new ledger
	sessions map[*session]struct{}
}

func (t *topic) next() int64 { return t.base + int64(len(t.msgs)) }

// at returns the message with sequence seq, or nil when trimmed or unknown.
func (t *topic) at(seq int64) *message {
	if seq < t.base || seq >= t.next() {
		return nil
	}
	return t.msgs[seq-t.base]
}

// trim drops the oldest messages beyond count (0: no limit) and those
// published more than age before now (0: no limit). Sessions and
// subscriptions whose position falls below base move up to it when they
// next deliver.
func (t *topic) trim(count int, age time.Duration, now time.Time) {
	drop := 0
	if count > 0 && len(t.msgs) > count {
		drop = len(t.msgs) - count
	}

	if age > 0 {
		cutoff := now.Add(-age)
		for drop < len(t.msgs) && t.msgs[drop].pub.Before(cutoff) {
			drop++
		}
	}

	if drop == 0 {
		return
	}

	// Clearing lets the dropped messages be collected now; the backing
	// array itself goes at the next append that outgrows it.
	clear(t.msgs[:drop])
	t.msgs = t.msgs[drop:]
	t.base += int64(drop)
}

// read returns the message at *cursor (first moving a trimmed cursor to
// the oldest retained message) and advances the cursor, or returns nil at
// the end of the topic.
func (t *topic) read(cursor *int64) *message {
	if *cursor < t.base {
		*cursor = t.base
	}
	m := t.at(*cursor)
	if m != nil {
		*cursor++
	}
	return m
}

// after returns the sequence of the first retained message whose id is
// greater than k (reader start is exclusive).
func (t *topic) after(k idKey) int64 {
	i := sort.Search(len(t.msgs), func(i int) bool { return k.less(t.msgs[i].key) })
	return t.base + int64(i)
}

// topicLocked returns (creating) the topic with full name name.
func (s *Server) topicLocked(name string) *topic {
	t := s.topics[name]
	if t == nil {
		t = &topic{
			name:     name,
			sessions: make(map[*session]struct{}),
		}
		s.topics[name] = t
	}
	return t
}

// fullTopic turns "t/ns/x" into "persistent://t/ns/x"; full names pass.
func fullTopic(name string) string {
	if strings.Contains(name, "://") {
		return name
	}
	return "persistent://" + strings.TrimPrefix(name, "/")
}

// PublishOption customises one Publish call.
type PublishOption func(*publishOpts)

type publishOpts struct {
	key       string
	props     map[string]string
	eventTime time.Time
}

// WithKey sets the message's partition key (emitted as "key").
func WithKey(k string) PublishOption { return func(o *publishOpts) { o.key = k } }

// WithProperties sets the message properties.
func WithProperties(p map[string]string) PublishOption {
	return func(o *publishOpts) { o.props = p }
}

// WithEventTime sets the producer event time (emitted as "eventTime").
func WithEventTime(t time.Time) PublishOption { return func(o *publishOpts) { o.eventTime = t } }

// Publish appends payload to topic ("persistent://acme/event-v1/all" or
// "acme/event-v1/all") and wakes the sessions reading it. It returns the
// message id exactly as frames carry it.
func (s *Server) Publish(topicName string, payload []byte, opts ...PublishOption) string {
	var o publishOpts
	for _, f := range opts {
		f(&o)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.publishLocked(fullTopic(topicName), payload, o)
}

func (s *Server) publishLocked(name string, payload []byte, o publishOpts) string {
	pub := s.now()
	t := s.topicLocked(name)
	if t.ledger == 0 || t.entry >= firstEntry+entriesPerLd {
		t.ledger, t.entry = s.nextLedger, firstEntry
		s.nextLedger++
	}

	k := idKey{t.ledger, t.entry}
	t.entry++
	payload = append([]byte(nil), payload...)
	m := &message{
		seq:     t.next(),
		key:     k,
		id:      encodeID(k),
		pub:     pub,
		payload: payload,
		opts:    o,
	}
	m.head, m.tail = renderFrame(m.id, payload, o, pub)
	t.msgs = append(t.msgs, m)
	t.trim(s.cfg.RetainMessages, s.cfg.RetainFor, pub)
	s.stats.Published++

	for ss := range t.sessions {
		ss.kick()
	}

	return m.id
}

// renderFrame builds the §3.1 frame around the redeliveryCount value, with
// the proxy's field order.
func renderFrame(id string, payload []byte, o publishOpts, pub time.Time) (head, tail []byte) {
	var b bytes.Buffer
	b.WriteString(`{"messageId":`)
	writeJSONString(&b, id)
	b.WriteString(`,"payload":"`)
	b.WriteString(base64.StdEncoding.EncodeToString(payload))
	b.WriteString(`","properties":{`)
	keys := make([]string, 0, len(o.props))
	for k := range o.props {
		keys = append(keys, k)
	}

	sort.Strings(keys)

	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, k)
		b.WriteByte(':')
		writeJSONString(&b, o.props[k])
	}

	b.WriteString(`},"publishTime":"`)
	b.WriteString(JavaTime(pub))
	b.WriteString(`","redeliveryCount":`)
	head = append([]byte(nil), b.Bytes()...)
	b.Reset()

	if !o.eventTime.IsZero() {
		b.WriteString(`,"eventTime":"`)
		b.WriteString(JavaTime(o.eventTime))
		b.WriteByte('"')
	}

	if o.key != "" {
		b.WriteString(`,"key":`)
		writeJSONString(&b, o.key)
	}

	b.WriteByte('}')

	return head, b.Bytes()
}

// writeJSONString writes s as a JSON string without HTML escaping (as
// Jackson does).
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode's newline
}

// JavaTime renders t like Pulsar's DateFormatter in a UTC JVM: RFC 3339
// with millisecond precision and trailing zeros trimmed
// ("2025-01-02T03:04:05.6Z", "2025-01-02T03:04:05Z").
func JavaTime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.999Z07:00")
}
