package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Schedule holds the metrics of BackupSchedules, labelled by namespace and
// schedule, so that an alert can page when a schedule misses its recovery
// point objective.
type Schedule struct {
	LastSuccess *prometheus.GaugeVec
	Overdue     *prometheus.GaugeVec
	MissedTicks *prometheus.CounterVec
}

// NewSchedule creates the schedule metrics and registers them.
func NewSchedule(reg prometheus.Registerer) (*Schedule, error) {
	labels := []string{"namespace", "schedule"}
	m := &Schedule{
		LastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "qdrantops", Name: "backupschedule_last_success_timestamp_seconds",
			Help: "Unix time at which the newest Backup of the schedule completed; absent until one has.",
		}, labels),
		Overdue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "qdrantops", Name: "backupschedule_overdue",
			Help: "1 when no Backup of the schedule completed within two of its periods, else 0.",
		}, labels),
		MissedTicks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "qdrantops", Name: "backupschedule_missed_ticks_total",
			Help: "Ticks of the schedule that got no Backup: past their starting deadline, or skipped while a Backup still ran.",
		}, labels),
	}
	for _, c := range []prometheus.Collector{m.LastSuccess, m.Overdue, m.MissedTicks} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Forget drops the series of a schedule that is gone.
func (m *Schedule) Forget(namespace, schedule string) {
	if m == nil {
		return
	}
	l := prometheus.Labels{"namespace": namespace, "schedule": schedule}
	m.LastSuccess.Delete(l)
	m.Overdue.Delete(l)
	m.MissedTicks.Delete(l)
}
