package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/streamd/streamd/internal/statelock"
)

// lockStateDir makes this process the one owner of the state directory
// (see internal/statelock). Another owner is a configuration problem, exit
// 78: two daemons on one directory would skip each other's events.
// Commands that own no state (check, replay, tail) never call it.
func lockStateDir(dir string) (*statelock.Lock, error) {
	l, err := statelock.Acquire(dir)
	var held *statelock.HeldError
	switch {
	case errors.As(err, &held):
		return nil, badVar("STATE_DIR", dir, err.Error()+"; one daemon per state directory: stop the other one or give this one its own STREAMD_STATE_DIR")
	case err != nil:
		return nil, badVar("STATE_DIR", dir, "cannot use it: "+err.Error())
	}
	return l, nil
}

// stateDir reports whether the state directory is writable and free: a
// daemon holding it makes a second `run` exit 78. The lock is probed, not
// taken, so check can run beside a daemon.
func (r *report) stateDir(dir string) {
	p := probeDir(dir)
	if _, err := os.Stat(dir); p.err == nil && err == nil {
		p.err = probeLock(dir)
	}
	r.path("state dir     ", dir, p)
}

func probeLock(dir string) error {
	held, pid, err := statelock.Probe(dir)
	switch {
	case err != nil:
		return err
	case !held:
		return nil
	case pid > 0:
		return fmt.Errorf("in use by a running streamd (pid %d): a second `streamd run` on it would exit 78", pid)
	}
	return errors.New("in use by a running streamd: a second `streamd run` on it would exit 78")
}
