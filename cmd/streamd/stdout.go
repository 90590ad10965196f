package main

import (
	"errors"
	"io"
	"sync"
	"syscall"
)

// pipeWatch is the stdout sink's writer: it passes writes to w and closes
// closed on the first EPIPE, the sign that stdout's reader went away
// (`streamd run | head -1`). newDaemon ignores SIGPIPE so that such a
// write fails with EPIPE instead of killing the process without a word;
// the daemon then stops (see daemon.Run).
type pipeWatch struct {
	w      io.Writer
	once   sync.Once
	closed chan struct{}
}

func newPipeWatch(w io.Writer) *pipeWatch {
	return &pipeWatch{w: w, closed: make(chan struct{})}
}

func (p *pipeWatch) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if errors.Is(err, syscall.EPIPE) {
		p.once.Do(func() { close(p.closed) })
	}
	return n, err
}
