package consumer

import (
	"time"
)

// standbyAfter is how long a Failover consumer session may receive nothing
// after it connected before it is reported as a standby: six ping
// intervals (2 minutes by default).
func (c *Config) standbyAfter() time.Duration { return 6 * c.PingInterval }

// checkStandby reports, on the ping goroutine's tick, a Failover consumer
// session that has received no frame standbyAfter after it connected: the
// broker gives the subscription's active role to another consumer (a
// replica, or streamd's own previous session after a silent TCP death that
// the proxy has not reaped yet), and a standby receives nothing. The topic
// is then not ready with that reason, instead of "connected", until a
// frame arrives. standby is the state reported so far; it returns the new
// one. An idle topic looks the same, which the reason says.
func (s *session) checkStandby(standby bool) bool {
	t := s.t
	if t.cfg.Mode != ModeConsumer || t.cfg.SubscriptionType != "Failover" {
		return false
	}

	framed := s.framed.Load()
	switch {
	case !standby && !framed && time.Since(s.since) >= t.cfg.standbyAfter():
		d := t.cfg.standbyAfter().String()
		t.opts.Health.Set(t.part(), false, "connected as a Failover standby: receiving nothing for "+d+
			" (another consumer of the subscription is active, or the topic is idle)")
		t.log.Warn("connected as a Failover standby: receiving nothing", "for", d)
		return true
	case standby && framed:
		t.opts.Health.Set(t.part(), true, "connected")
		t.log.Info("active: receiving after standing by")
		return false
	}

	return standby
}
