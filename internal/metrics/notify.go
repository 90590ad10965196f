package metrics

import "github.com/prometheus/client_golang/prometheus"

// notifyDroppedCounter is streamd_sdnotify_dropped_total. It reads the
// source NotifyDropped gave at each scrape and is 0 without one, so the
// series exists from the start.
func (m *Metrics) notifyDroppedCounter() prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "streamd_sdnotify_dropped_total",
		Help: "sd_notify datagrams (READY, STATUS, WATCHDOG, STOPPING) dropped because the notify socket's queue was full.",
	}, func() float64 {
		if f := m.notifyDropped.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	})
}

// NotifyDropped makes streamd_sdnotify_dropped_total report dropped(), a
// monotonic count such as (*sdnotify.Notifier).Dropped.
func (m *Metrics) NotifyDropped(dropped func() uint64) {
	if m == nil {
		return
	}
	m.notifyDropped.Store(&dropped)
}
