package consumer_test

import (
	"strings"
	"testing"

	"github.com/streamd/streamd/consumer"
	"github.com/streamd/streamd/consumer/pulsartest"
	"github.com/streamd/streamd/internal/health"
	"github.com/streamd/streamd/internal/testutil"
	"github.com/streamd/streamd/sink/sinktest"
)

// TestFailoverStandbyReportedNotReady: of two consumers on one Failover
// subscription the broker feeds one; the other is connected but receives
// nothing. It must not pass for a healthy stream ("connected", ready): it is
// not ready with the reason, until the active one leaves and it takes over.
func TestFailoverStandbyReportedNotReady(t *testing.T) {
	srv := pulsartest.Start(t, pulsartest.Config{Keys: []string{apiKey}})
	type replica struct {
		rec    *sinktest.Recorder
		health *health.State
		run    *running
	}
	var rs [2]replica
	for i := range rs {
		rs[i].rec, rs[i].health = &sinktest.Recorder{}, health.New()
		opts, _ := newOptions(t, rs[i].rec)
		opts.Health = rs[i].health
		cfg := newConfig(srv, consumer.ModeConsumer, "all")
		cfg.SubscriptionType = "Failover"
		rs[i].run = run(t, cfg, opts)
		if err := srv.WaitSessions(testutil.Context(t, wait), i+1); err != nil {
			t.Fatal(err)
		}
	}
	ids := publish(srv, pulsartest.NewGenerator(tenant, 81), allTopic, 20)
	testutil.WaitFor(t, wait, "the active consumer received", func() bool {
		return rs[0].rec.Count()+rs[1].rec.Count() >= len(ids)
	})
	active, standby := rs[0], rs[1]
	if standby.rec.Count() > active.rec.Count() {
		active, standby = standby, active
	}

	part := "topic event-v1/all"
	testutil.WaitFor(t, wait, "the standby reported", func() bool {
		_, parts := standby.health.Ready()
		return !parts[part].Ready && strings.Contains(parts[part].Reason, "Failover standby")
	})
	if ok, parts := active.health.Ready(); !ok {
		t.Errorf("the active consumer is not ready: %+v", parts)
	}

	if err := active.run.Stop(); err != nil {
		t.Fatalf("stop the active consumer: %v", err)
	}
	more := publish(srv, pulsartest.NewGenerator(tenant, 82), allTopic, 5)
	if err := standby.rec.WaitCount(testutil.Context(t, wait), len(more)); err != nil {
		t.Fatalf("the standby never took over: %v", err)
	}
	testutil.WaitFor(t, wait, "the new active one ready", func() bool { ok, _ := standby.health.Ready(); return ok })
}
