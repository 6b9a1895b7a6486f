// Package controller registers every controller of provider-qdrantops.
package controller

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/crossplane/crossplane-runtime/v2/pkg/controller"
	"github.com/crossplane/crossplane-runtime/v2/pkg/ratelimiter"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/controller/backup"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/controller/config"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/controller/restore"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/controller/schedule"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/jobs"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/metrics"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

// Deps are shared by the controllers.
type Deps struct {
	// Context is the provider's lifetime; transfers stop with it.
	Context context.Context
	Metrics *metrics.Metrics
	// ShardRetryDelay is the first wait between tries of a shard.
	ShardRetryDelay time.Duration
	// Budget bounds the memory of every transfer of the process; nil
	// means DefaultTransferMemory.
	Budget *s3store.Budget
	// MaxQueueWait bounds how long a backup or restore waits for its Qdrant
	// cluster; zero means DefaultMaxQueueWait.
	MaxQueueWait time.Duration
	// RestoreMetrics are the Restore controller's; nil keeps none.
	RestoreMetrics *metrics.Restore
	// ScheduleMetrics are the BackupSchedule controller's; nil keeps none.
	ScheduleMetrics *metrics.Schedule
	// ScheduleReconcileRate bounds the BackupSchedule controller's
	// reconciles per second, apart from the other controllers'; zero means
	// DefaultScheduleReconcileRate.
	ScheduleReconcileRate int
	// RestoreURLTTL is the lifetime of the presigned URL of each shard a
	// restore recovers; zero means the restore use case's default.
	RestoreURLTTL time.Duration
}

// Defaults of Deps.
const (
	DefaultTransferMemory = 256 << 20
	DefaultMaxQueueWait   = 6 * time.Hour
	// DefaultScheduleReconcileRate lets a hundred schedules that share a
	// tick create their Backups within a second.
	DefaultScheduleReconcileRate = 100
)

func setups(d Deps) []func(ctrl.Manager, controller.Options) error {
	// Backups and restores share the per-cluster slots, so that a restore
	// and a backup never run on the same Qdrant cluster at once, and the
	// transfer budget.
	slots := jobs.NewSlots()
	wait := d.MaxQueueWait
	if wait <= 0 {
		wait = DefaultMaxQueueWait
	}
	budget := func() (*s3store.Budget, error) {
		if d.Budget != nil {
			return d.Budget, nil
		}
		b, err := s3store.NewBudget(DefaultTransferMemory, s3store.DefaultPartSize)
		if err != nil {
			return nil, err
		}
		d.Budget = b
		return b, nil
	}
	return []func(ctrl.Manager, controller.Options) error{
		config.Setup,
		func(mgr ctrl.Manager, o controller.Options) error {
			b, err := budget()
			if err != nil {
				return err
			}
			return backup.Setup(mgr, o, backup.Deps{Slots: slots, Metrics: d.Metrics, Context: d.Context, RetryDelay: d.ShardRetryDelay, Budget: b, MaxQueueWait: wait})
		},
		func(mgr ctrl.Manager, o controller.Options) error {
			b, err := budget()
			if err != nil {
				return err
			}
			return restore.Setup(mgr, o, restore.Deps{Slots: slots, Metrics: d.RestoreMetrics, Context: d.Context, RetryDelay: d.ShardRetryDelay, URLTTL: d.RestoreURLTTL, Budget: b, MaxQueueWait: wait})
		},
		func(mgr ctrl.Manager, o controller.Options) error {
			// Schedules have a rate limiter of their own: their ticks must
			// start within a second, and many schedules share ticks (02:00
			// every night), while Backups and Restores spend the shared
			// budget on every step of their transfers.
			rate := d.ScheduleReconcileRate
			if rate <= 0 {
				rate = DefaultScheduleReconcileRate
			}
			o.GlobalRateLimiter = ratelimiter.NewGlobal(rate)
			return schedule.Setup(mgr, o, schedule.Deps{Metrics: d.ScheduleMetrics})
		},
	}
}

// Setup adds every controller now.
func Setup(mgr ctrl.Manager, o controller.Options, d Deps) error {
	for _, s := range setups(d) {
		if err := s(mgr, o); err != nil {
			return err
		}
	}
	return nil
}

// SetupGated adds every controller once the provider's CRDs are established,
// so the provider can start before its CRDs (Crossplane's safe-start).
func SetupGated(mgr ctrl.Manager, o controller.Options, d Deps) error {
	o.Gate.Register(func() {
		if err := Setup(mgr, o, d); err != nil {
			mgr.GetLogger().Error(err, "cannot set up controllers")
		}
	}, v1alpha1.BackupGroupVersionKind, v1alpha1.RestoreGroupVersionKind, v1alpha1.BackupScheduleGroupVersionKind, v1alpha1.ProviderConfigGroupVersionKind, v1alpha1.ClusterProviderConfigGroupVersionKind, v1alpha1.ProviderConfigUsageGroupVersionKind)
	return nil
}
