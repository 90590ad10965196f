package main

import (
	"fmt"
	"time"

	"github.com/streamd/streamd/internal/health"
)

// statusEvery is how often the daemon refreshes the one-line status that
// `systemctl status` shows (sd_notify STATUS=): often enough for "last
// event N s ago" to be current, rarely enough to cost nothing at any event
// rate.
const statusEvery = 2 * time.Second

// status tracks what the STATUS= line reports between ticks.
type status struct {
	acked   int64     // events acked by all topics at the last observation
	eventAt time.Time // when acked last grew; zero before the first event
	sentAt  time.Time // when the line was last sent; zero before
	startAt time.Time // when the first line was sent: the daemon's start
	warned  bool      // the no-events warning was logged
}

// observe notes at now that acked events have been acked since start.
func (s *status) observe(now time.Time, acked int64) {
	if acked > s.acked {
		s.acked, s.eventAt = acked, now
	}
}

// due reports whether the line should be sent again at now.
func (s *status) due(now time.Time) bool {
	return s.sentAt.IsZero() || now.Sub(s.sentAt) >= statusEvery
}

// observeStatus notes at now how many events the topics have acked, and
// sends the status line when it is due.
func (d *daemon) observeStatus(now time.Time) {
	var acked int64
	for _, t := range d.topics {
		acked += t.Acked()
	}
	d.status.observe(now, acked)
	if d.status.due(now) {
		d.sendStatus(now)
	}
	d.warnIfQuiet(now)
}

// warnIfQuiet logs one warning when a fresh daemon has received no event
// NO_EVENTS_WARNING after its start. 8x8 documents a wrong region as a
// handshake that succeeds and a stream that stays empty, so silence alone
// proves nothing about the configuration.
func (d *daemon) warnIfQuiet(now time.Time) {
	s, limit := &d.status, d.cfg.NoEventsWarning
	if limit <= 0 || s.warned || s.acked > 0 || s.startAt.IsZero() || now.Sub(s.startAt) < limit {
		return
	}
	s.warned = true
	d.log.Warn("no events received since start; if the topics should be busy, check STREAMD_REGION: "+
		"8x8 documents that a wrong region authenticates fine and then delivers nothing "+
		"(`streamd check` counts what each topic holds)",
		"for", limit.String(), "region", d.cfg.Region, "endpoint", d.cfg.endpoint)
}

// sendStatus sends the status line and notes when.
func (d *daemon) sendStatus(now time.Time) {
	up := 0
	for _, t := range d.topics {
		if t.Connected() {
			up++
		}
	}
	_ = d.notify.Status(d.status.line(now, up, len(d.topics), d.health))
	d.status.sentAt = now
	if d.status.startAt.IsZero() {
		d.status.startAt = now
	}
}

// line is the status at now with up of n topics connected, e.g.
// "connected 1/1 topics, 12345 events acked, last event 2s ago", followed
// by the first part that is not ready, if any.
func (s *status) line(now time.Time, up, n int, hs *health.State) string {
	line := fmt.Sprintf("connected %d/%d topics, %d events acked, ", up, n, s.acked)
	if s.eventAt.IsZero() {
		line += "no events yet"
	} else {
		line += fmt.Sprintf("last event %s ago", now.Sub(s.eventAt).Round(time.Second))
	}
	if bad := hs.NotReady(); len(bad) > 0 {
		line += "; not ready: " + bad[0]
	}
	return line
}
