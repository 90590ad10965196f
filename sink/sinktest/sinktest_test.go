package sinktest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/sinktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ev(id string) *sink.Event {
	return &sink.Event{MessageID: id, Payload: []byte(`{"a":1}`), Properties: []byte(`{}`)}
}

func TestRecorderCopiesAndCounts(t *testing.T) {
	var r sinktest.Recorder
	e := ev("1")
	if err := r.Write(context.Background(), []*sink.Event{e, ev("2")}); err != nil {
		t.Fatal(err)
	}
	e.Payload[2] = 'X' // the caller may reuse its buffers
	if got := string(r.Events()[0].Payload); got != `{"a":1}` {
		t.Errorf("recorded payload changed to %s", got)
	}
	if r.Count() != 2 || r.Calls() != 1 || len(r.IDs()) != 2 || r.IDs()[1] != "2" {
		t.Errorf("Count=%d Calls=%d IDs=%v", r.Count(), r.Calls(), r.IDs())
	}
}

func TestRecorderFailHeal(t *testing.T) {
	var r sinktest.Recorder
	boom := errors.New("boom")
	r.Fail(boom)
	if err := r.Write(context.Background(), []*sink.Event{ev("1")}); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	r.Heal()
	if err := r.Write(context.Background(), []*sink.Event{ev("1")}); err != nil {
		t.Fatal(err)
	}
	if r.Count() != 1 || r.Calls() != 2 {
		t.Errorf("Count=%d Calls=%d", r.Count(), r.Calls())
	}
}

func TestRecorderBlockAndWaitCount(t *testing.T) {
	var r sinktest.Recorder
	r.Block()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := r.Write(ctx, []*sink.Event{ev("1")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blocked Write = %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Write(context.Background(), []*sink.Event{ev("2"), ev("3")}) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer wcancel()
	if err := r.WaitCount(wctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitCount while blocked = %v", err)
	}
	r.Unblock()
	if err := r.WaitCount(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r.Close(context.Background())
	if err := r.Write(context.Background(), nil); !errors.Is(err, sink.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestFunc(t *testing.T) {
	var got int
	var s sink.Sink = sinktest.Func(func(_ context.Context, b []*sink.Event) error { got += len(b); return nil })
	if err := s.Write(context.Background(), []*sink.Event{ev("1")}); err != nil || got != 1 {
		t.Errorf("err=%v got=%d", err, got)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestRecorderReject(t *testing.T) {
	var r sinktest.Recorder
	r.Reject(func(e *sink.Event) string {
		if e.MessageID == "b" {
			return "too large"
		}
		return ""
	})
	err := r.Write(context.Background(), []*sink.Event{ev("a"), ev("b"), ev("c")})
	var rej *sink.RejectError
	if !errors.As(err, &rej) || len(rej.Rejected) != 1 || rej.Rejected[0] != (sink.Rejected{Index: 1, Reason: "too large"}) {
		t.Fatalf("Write = %v, want event 1 rejected", err)
	}
	if got := strings.Join(r.IDs(), ","); got != "a,c" {
		t.Errorf("recorded %s, want a,c", got)
	}
}
