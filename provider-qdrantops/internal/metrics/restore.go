package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Restore holds the metrics of restores, labelled by namespace and target
// cluster, as Metrics holds those of backups.
type Restore struct {
	Duration    *prometheus.HistogramVec
	Bytes       *prometheus.CounterVec
	LastSuccess *prometheus.GaugeVec
	Failures    *prometheus.CounterVec
}

// NewRestore creates the restore metrics and registers them.
func NewRestore(reg prometheus.Registerer) (*Restore, error) {
	labels := []string{"namespace", "cluster"}
	m := &Restore{
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "qdrantops", Name: "restore_duration_seconds",
			Help:    "Time from the start of a restore to its verified end.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 16),
		}, labels),
		Bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "qdrantops", Name: "restore_bytes_total",
			Help: "Snapshot bytes recovered by completed restores, fetched by Qdrant or uploaded by the provider.",
		}, labels),
		LastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "qdrantops", Name: "restore_last_success_timestamp_seconds",
			Help: "Unix time of the newest completed restore into the cluster.",
		}, labels),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "qdrantops", Name: "restore_failures_total",
			Help: "Restores that ended Failed.",
		}, labels),
	}
	for _, c := range []prometheus.Collector{m.Duration, m.Bytes, m.LastSuccess, m.Failures} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
