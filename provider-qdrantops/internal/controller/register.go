// Package controller registers every controller of provider-qdrantops.
package controller

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/crossplane/crossplane-runtime/v2/pkg/controller"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/controller/backup"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/controller/config"
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
	// MaxQueueWait bounds how long a backup waits for its Qdrant cluster;
	// zero means DefaultMaxQueueWait.
	MaxQueueWait time.Duration
}

// Defaults of Deps.
const (
	DefaultTransferMemory = 256 << 20
	DefaultMaxQueueWait   = 6 * time.Hour
)

func setups(d Deps) []func(ctrl.Manager, controller.Options) error {
	slots := jobs.NewSlots()
	return []func(ctrl.Manager, controller.Options) error{
		config.Setup,
		func(mgr ctrl.Manager, o controller.Options) error {
			budget := d.Budget
			if budget == nil {
				b, err := s3store.NewBudget(DefaultTransferMemory, s3store.DefaultPartSize)
				if err != nil {
					return err
				}
				budget = b
			}
			wait := d.MaxQueueWait
			if wait <= 0 {
				wait = DefaultMaxQueueWait
			}
			return backup.Setup(mgr, o, backup.Deps{Slots: slots, Metrics: d.Metrics, Context: d.Context, RetryDelay: d.ShardRetryDelay, Budget: budget, MaxQueueWait: wait})
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
	}, v1alpha1.BackupGroupVersionKind, v1alpha1.ProviderConfigGroupVersionKind, v1alpha1.ClusterProviderConfigGroupVersionKind, v1alpha1.ProviderConfigUsageGroupVersionKind)
	return nil
}
