package stdout_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/streamd/streamd/sink"
	"github.com/streamd/streamd/sink/sinktest"
	"github.com/streamd/streamd/sink/stdout"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// countWriter counts Write calls.
type countWriter struct {
	bytes.Buffer
	calls int
}

func (c *countWriter) Write(p []byte) (int, error) { c.calls++; return c.Buffer.Write(p) }

func TestWriteFormatsOneCallPerBatch(t *testing.T) {
	for _, f := range []sink.Format{sink.FormatEnvelope, sink.FormatEvent} {
		var w countWriter
		s := stdout.New(&w, f)
		b := sinktest.Events(3, 0)
		if err := s.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		var want []byte
		for _, e := range b {
			want = sink.AppendLine(want, f, e)
		}
		if w.String() != string(want) {
			t.Errorf("%v: got %q, want %q", f, w.String(), want)
		}
		if w.calls != 1 {
			t.Errorf("%v: %d Write calls, want 1", f, w.calls)
		}
	}
}

func TestConcurrentBatchesDoNotInterleave(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := stdout.New(w, sink.FormatEvent)
	lines := make(chan []string, 1)
	go func() {
		var got []string
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			got = append(got, sc.Text())
		}
		lines <- got
	}()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				if err := s.Write(context.Background(), sinktest.Events(10, (g*25+i)*10)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	s.Close(context.Background())
	w.Close()
	got := <-lines
	if len(got) != 1000 {
		t.Fatalf("%d lines, want 1000", len(got))
	}
	seen := map[string]bool{}
	for _, l := range got {
		var v struct{ ID int }
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("bad line %q: %v", l, err)
		}
		seen[fmt.Sprint(v.ID)] = true
	}
	if len(seen) != 1000 {
		t.Errorf("%d distinct events, want 1000", len(seen))
	}
}

// tearWriter writes half of the first buffer and fails, then works.
type tearWriter struct {
	bytes.Buffer
	tore bool
}

func (t *tearWriter) Write(p []byte) (int, error) {
	if !t.tore {
		t.tore = true
		n, _ := t.Buffer.Write(p[:len(p)/2+1])
		return n, errors.New("broken pipe")
	}
	return t.Buffer.Write(p)
}

func TestTornWriteStartsNewLine(t *testing.T) {
	var w tearWriter
	s := stdout.New(&w, sink.FormatEvent)
	b := sinktest.Events(3, 0)
	if err := s.Write(context.Background(), b); err == nil || !strings.Contains(err.Error(), "write stdout: broken pipe") {
		t.Fatalf("err = %v", err)
	}
	if err := s.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	// One complete line, the torn fragment on its own, then the retried batch.
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5: %q", len(lines), lines)
	}
	for i, l := range lines {
		if valid := json.Valid([]byte(l)); valid == (i == 1) {
			t.Errorf("line %d valid=%v: %q", i, valid, l)
		}
	}
}

func TestCancelledAndClosed(t *testing.T) {
	var w bytes.Buffer
	s := stdout.New(&w, sink.FormatEvent)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Write(ctx, sinktest.Events(1, 0)); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want canceled", err)
	}
	s.Close(context.Background())
	s.Close(context.Background())
	if err := s.Write(context.Background(), sinktest.Events(1, 0)); !errors.Is(err, sink.ErrClosed) {
		t.Errorf("err = %v, want ErrClosed", err)
	}
	if w.Len() != 0 {
		t.Errorf("wrote %q", w.String())
	}
}

func BenchmarkStdoutWrite(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			sinktest.BenchWrite(b, stdout.New(io.Discard, sink.FormatEnvelope), n)
		})
	}
}
