package consumer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/streamd/streamd/internal/deadletter"
	"github.com/streamd/streamd/sink"
)

// item is one frame on its way from the reading goroutine to the delivering
// one. Exactly one of ev and poison is set, or neither for a frame that only
// needs a flow-control ack.
type item struct {
	size   int64  // bytes held until the sinks accept it (see budget)
	id     string // ack with this exact id; "" for a frame without one
	idOK   bool   // id is a decodable MessageIdData (may be acked on a consumer, checkpointed)
	ev     *sink.Event
	poison *deadletter.Record
}

// bytes is what it holds until the sinks accept it: the event's payload and
// properties, or the frame of a dead letter.
func (it *item) bytes() int64 {
	switch {
	case it.ev != nil:
		return int64(len(it.ev.Payload) + len(it.ev.Properties))
	case it.poison != nil:
		return int64(len(it.poison.Frame))
	}
	return 0
}

// ackBatch is what the delivering goroutine acks once the sinks accepted a
// batch: the ids to ack, and what to count once they are sent.
type ackBatch struct {
	ids       []string
	frames    int       // frames released, including any without an ackable id
	published time.Time // publish time of the batch's last event, for lag
}

// session is one connection: a reading goroutine decodes frames (read.go), a
// delivering goroutine hands them to the sinks, writes their acks strictly
// after acceptance and the close frame at the end (deliver.go, write.go),
// and a pinging goroutine checks the peer is alive (write.go). At low rates
// the reading goroutine delivers a frame itself (inline.go).
type session struct {
	t       *Topic
	conn    *websocket.Conn
	cork    *corkConn       // under conn: the acks of a batch in one write(2); nil: one each
	stop    context.Context // graceful: stop taking frames, finish the rest
	hard    context.Context // abort: give up on in-flight events without acking
	connCtx context.Context // the connection's life; cancelled on failure
	queue   chan item
	ackBuf  []byte        // the delivering goroutine's ack frame
	leaked  int           // consumer: frames without an ackable id (delivering goroutine)
	since   time.Time     // when the session connected
	framed  atomic.Bool   // a frame arrived on this session (see checkStandby)
	acking  atomic.Int64  // unix ns when the ack writes in progress began; 0: none
	closing chan struct{} // closed before the normal close: pings stop
	errMu   sync.Mutex
	err     error
	unack   atomic.Int64
	budget  budget
	cancel  context.CancelFunc // closes the connection

	// Delivery on the reading goroutine (inline.go).
	queued    atomic.Int64 // items queued or in the delivering goroutine's batch
	sinksFast atomic.Bool  // the sinks took the last batch under inlineSinkMax
	// deliverMu is held while a batch is delivered, by the delivering
	// goroutine or by a reader delivering inline.
	deliverMu   sync.Mutex
	deliverDone bool           // the delivering goroutine returned; guarded by deliverMu
	one         [1]item        // an inline batch
	oneEvent    [1]*sink.Event // and its event
	rescue      *time.Timer    // hands the reading role on when an inline delivery is slow
	rescueAfter time.Duration
	readDone    chan struct{} // closed by the last goroutine to hold the reading role
}

// connect runs one session: it dials, reports the connection to the
// supervisor through connected, and streams until the connection ends.
func (t *Topic) connect(stop, hard context.Context, connected func()) error {
	conn, cork, err := t.dial(stop, t.start())
	if err != nil {
		return err
	}

	connected()
	t.connected.Store(true)
	t.progressed()
	t.opts.Metrics.Connected(t.name, true)
	t.opts.Health.Set(t.part(), true, "connected")
	t.log.Info("connected", "mode", t.cfg.Mode, "start", t.start())

	if t.opts.OnConnect != nil {
		t.opts.OnConnect()
	}

	connCtx, cancel := context.WithCancel(hard)
	s := &session{
		t:           t,
		conn:        conn,
		cork:        cork,
		stop:        stop,
		hard:        hard,
		connCtx:     connCtx,
		cancel:      cancel,
		since:       time.Now(),
		queue:       make(chan item, t.cfg.ReceiverQueueSize+64),
		closing:     make(chan struct{}),
		readDone:    make(chan struct{}),
		rescueAfter: rescueAfter(t.cfg.PingTimeout),
		budget:      budget{limit: t.cfg.InflightBytes, peak: &t.inflightPeak, released: make(chan struct{}, 1), waitBegin: t.waitBegin, waitEnd: t.waitEnd},
	}

	err = s.run()
	conn.CloseNow()

	t.connected.Store(false)
	t.opts.Metrics.Connected(t.name, false)
	t.met.Inflight(0)

	if stop.Err() == nil {
		t.opts.Health.Set(t.part(), false, "disconnected: "+err.Error())
	}

	return err
}

// part names the topic in health output.
func (t *Topic) part() string { return "topic " + t.name }

// run drives the connection until it ends and returns why: errPingTimeout,
// a read error, context.Canceled after a graceful stop, or the hard
// context's error.
func (s *session) run() error {
	// Reads and writes take no context: ending the connection's life
	// closes it, which ends a blocked read or write. readFrame enforces
	// ReadLimit itself, dead-lettering a larger frame instead of ending
	// the session on it.
	s.conn.SetReadLimit(-1)
	context.AfterFunc(s.connCtx, func() { _ = s.conn.CloseNow() })

	s.rescue = time.AfterFunc(time.Hour, s.takeOver)
	s.rescue.Stop() // armed only while a reader delivers inline
	go s.read()

	pingDone := make(chan struct{})
	go func() { defer close(pingDone); s.ping(s.closing) }()

	s.deliver()
	close(s.closing) // no more pings: the close handshake follows

	if s.connCtx.Err() == nil {
		// Delivery finished (graceful stop or connection end): say
		// goodbye properly.
		_ = s.conn.Close(websocket.StatusNormalClosure, "")
	}

	s.cancel()
	<-s.readDone
	<-pingDone

	if err := s.result(); err != nil {
		return err
	}

	if s.hard.Err() != nil {
		return s.hard.Err()
	}

	return context.Canceled
}

// fail ends the connection with err; the first failure is the result.
func (s *session) fail(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
	s.cancel()
}

func (s *session) result() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}
