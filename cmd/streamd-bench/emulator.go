package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/streamd/streamd/consumer/pulsartest"
)

// benchKey is the credential the emulator accepts.
const benchKey = "eght_bench_key_123"

// emulator is the in-process proxy plus the tracker its hooks feed.
type emulator struct {
	srv   *pulsartest.Server
	url   string
	base  time.Time // monotonic origin of every timestamp
	stop  context.CancelFunc
	done  chan error
	mu    sync.Mutex
	track *tracker
}

func startEmulator() (*emulator, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for emulator: %w", err)
	}

	e := &emulator{
		srv: pulsartest.New(pulsartest.Config{
			Keys:        []string{benchKey},
			IdleTimeout: -1,
		}),
		url:  "ws://" + ln.Addr().String(),
		base: time.Now(),
		done: make(chan error, 1),
	}

	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	go func() { e.done <- e.srv.Serve(ctx, ln) }()
	e.srv.SetBenchHooks(pulsartest.BenchHooks{
		Delivering:  func(f []byte) { e.current().sent(e.now(), f) },
		ClientFrame: func(f []byte) { e.current().acked(e.now(), f) },
	})

	return e, nil
}

func (e *emulator) close() error {
	e.stop()
	return <-e.done
}

func (e *emulator) now() int64 { return int64(time.Since(e.base)) }

func (e *emulator) current() *tracker {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.track
}

// attach makes t receive the hooks' observations.
func (e *emulator) attach(t *tracker) {
	e.mu.Lock()
	e.track = t
	e.mu.Unlock()
}

// waitIdle waits until no session is open (the previous child is gone).
func (e *emulator) waitIdle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return e.srv.WaitSessions(ctx, 0)
}

// tracker records, per message of one run's topic, when the emulator wrote
// it and when the client's ack for it arrived (first delivery and first ack
// only). Flat-out runs share a read-only index of the pre-published ids;
// paced runs index ids as they are first delivered.
type tracker struct {
	mu        sync.Mutex
	idx       map[string]int32
	grow      bool
	want      int     // 0 = not yet known
	send, ack []int64 // emulator nanos; 0 = not yet
	acks      int
	firstSend int64
	firstAck  int64
	lastAck   int64
	closed    bool
	done      chan struct{}
}

// newFixedTracker tracks the messages of idx, all of which must be acked.
func newFixedTracker(idx map[string]int32) *tracker {
	n := len(idx)
	return &tracker{
		idx:  idx,
		want: n,
		send: make([]int64, n),
		ack:  make([]int64, n),
		done: make(chan struct{}),
	}
}

// newGrowingTracker tracks every message delivered from now on; setWant
// says how many to wait for.
func newGrowingTracker(capacity int) *tracker {
	return &tracker{
		idx:  make(map[string]int32, capacity),
		grow: true,
		send: make([]int64, 0, capacity),
		ack:  make([]int64, 0, capacity),
		done: make(chan struct{}),
	}
}

var messageIDKey = []byte(`"messageId":"`)

// frameID returns the raw message id in a frame or an ack.
func frameID(f []byte) []byte {
	i := bytes.Index(f, messageIDKey)
	if i < 0 {
		return nil
	}
	rest := f[i+len(messageIDKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return nil
	}
	return rest[:j]
}

// indexLocked finds (or, growing, adds) the message with id.
func (t *tracker) indexLocked(id []byte, add bool) (int32, bool) {
	if id == nil {
		return 0, false
	}

	i, ok := t.idx[string(id)]
	if ok || !t.grow || !add {
		return i, ok
	}

	i = int32(len(t.send))
	t.idx[string(id)] = i
	t.send = append(t.send, 0)
	t.ack = append(t.ack, 0)

	return i, true
}

func (t *tracker) sent(now int64, f []byte) {
	if t == nil {
		return
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.indexLocked(frameID(f), true)
	if !ok || t.send[i] != 0 {
		return
	}

	t.send[i] = now

	if t.firstSend == 0 {
		t.firstSend = now
	}
}

func (t *tracker) acked(now int64, f []byte) {
	if t == nil {
		return
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.indexLocked(frameID(f), true)
	if !ok || t.ack[i] != 0 {
		return
	}

	t.ack[i] = now
	t.acks++

	if t.firstAck == 0 {
		t.firstAck = now
	}

	t.lastAck = now
	t.checkLocked()
}

func (t *tracker) checkLocked() {
	if !t.closed && t.want > 0 && t.acks >= t.want {
		t.closed = true
		close(t.done)
	}
}

// setWant sets how many acks complete the run.
func (t *tracker) setWant(n int) {
	t.mu.Lock()
	t.want = n
	t.checkLocked()
	t.mu.Unlock()
}

// latencies returns the send→ack latencies of the acked messages.
func (t *tracker) latencies() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]time.Duration, 0, t.acks)
	for i, a := range t.ack {
		if a != 0 && t.send[i] != 0 && a >= t.send[i] {
			out = append(out, time.Duration(a-t.send[i]))
		}
	}
	return out
}

// snapshot returns the ack count and the first send, first and last ack times.
func (t *tracker) snapshot() (acks int, firstSend, firstAck, lastAck int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.acks, t.firstSend, t.firstAck, t.lastAck
}

// sizeEvent shapes a generated event for the -size mix; ok false skips it.
func sizeEvent(mix string, ev []byte) ([]byte, bool) {
	switch mix {
	case "small":
		return ev, len(ev) < 512
	case "large":
		// Pad the family object: {"Interaction":{ → {"Interaction":{"benchPadding":"…",
		i := bytes.Index(ev, []byte(":{"))
		if i < 0 || len(ev) >= 4096 {
			return ev, true
		}

		pad := `"benchPadding":"` + strings.Repeat("x", 4096-len(ev)-20) + `"`
		if ev[i+2] != '}' {
			pad += ","
		}

		out := make([]byte, 0, len(ev)+len(pad))
		out = append(out, ev[:i+2]...)
		out = append(out, pad...)
		return append(out, ev[i+2:]...), true
	}

	return ev, true
}

// genEvents returns n generated events of the size mix.
func genEvents(tenant, mix string, n int, seed int64) [][]byte {
	g := pulsartest.NewGenerator(tenant, seed)
	out := make([][]byte, 0, n)
	for len(out) < n {
		ev, _ := g.Next()
		if ev, ok := sizeEvent(mix, ev); ok {
			out = append(out, ev)
		}
	}
	return out
}
