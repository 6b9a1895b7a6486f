// Package metrics defines the provider's Prometheus metrics: how long backups
// take, how many bytes they move, when each cluster last had a good one, and
// how often they fail.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of backups, labelled by namespace and cluster.
type Metrics struct {
	BackupDuration    *prometheus.HistogramVec
	BackupBytes       *prometheus.CounterVec
	BackupLastSuccess *prometheus.GaugeVec
	BackupFailures    *prometheus.CounterVec
}

// New creates the metrics and registers them.
func New(reg prometheus.Registerer) (*Metrics, error) {
	labels := []string{"namespace", "cluster"}
	m := &Metrics{
		BackupDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "qdrantops", Name: "backup_duration_seconds",
			Help:    "Time from the start of a backup's transfer to its manifest.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 16),
		}, labels),
		BackupBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "qdrantops", Name: "backup_bytes_total",
			Help: "Snapshot bytes stored by completed backups.",
		}, labels),
		BackupLastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "qdrantops", Name: "backup_last_success_timestamp_seconds",
			Help: "Unix time of the newest completed backup.",
		}, labels),
		BackupFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "qdrantops", Name: "backup_failures_total",
			Help: "Backups that ended Failed.",
		}, labels),
	}
	for _, c := range []prometheus.Collector{m.BackupDuration, m.BackupBytes, m.BackupLastSuccess, m.BackupFailures} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
