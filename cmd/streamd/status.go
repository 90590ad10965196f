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
