// Package backup is the Backup controller: a managed reconciler whose
// external client starts the backup use case asynchronously and reports its
// progress, verifies the result, expires backups by retention and deletes
// their objects.
package backup

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/controller"
	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/logging"
	"github.com/crossplane/crossplane-runtime/v2/pkg/ratelimiter"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/managed"
	"github.com/crossplane/crossplane-runtime/v2/pkg/resource"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	usecase "github.com/qdrantops/qdrantops/provider-qdrantops/internal/backup"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/clients"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/jobs"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/metrics"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrantcluster"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

// Deps are what the controller shares with the provider's other controllers.
type Deps struct {
	Slots   *jobs.Slots
	Metrics *metrics.Metrics
	// Context bounds the lifetime of backup jobs: the provider's.
	Context context.Context
	// MaxAttempts bounds the runs of one backup before it ends Failed.
	MaxAttempts int32
	// RetryDelay is the first wait between the tries of a shard.
	RetryDelay time.Duration
	// Budget bounds the part buffers of every upload of the process.
	Budget *s3store.Budget
	// MaxQueueWait bounds how long a backup waits for its Qdrant cluster.
	MaxQueueWait time.Duration
}

// Setup adds the Backup controller.
func Setup(mgr ctrl.Manager, o controller.Options, d Deps) error {
	name := managed.ControllerName(v1alpha1.BackupGroupVersionKind.GroupKind().String())
	if d.MaxAttempts == 0 {
		d.MaxAttempts = 3
	}
	rec := event.NewAPIRecorder(mgr.GetEventRecorderFor(name)) //nolint:staticcheck // SA1019: crossplane-runtime v2.4.0's event.NewAPIRecorder takes only the old events API's recorder.
	log := o.Logger.WithValues("controller", name)
	// Secrets, ProviderConfigs and the objects external clients look up are
	// read from the API server, not through the manager's cache: a cache of
	// Secrets would list and watch every Secret of the cluster, and hold
	// them in memory.
	kube, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), HTTPClient: mgr.GetHTTPClient()})
	if err != nil {
		return fmt.Errorf("cannot create the uncached client of %s: %w", name, err)
	}
	conn := &connector{
		kube:     kube,
		usage:    resource.NewProviderConfigUsageTracker(mgr.GetClient(), &v1alpha1.ProviderConfigUsage{}),
		stores:   clients.NewCache[store](maxStores),
		runner:   jobs.NewRunner[jobResult](d.Context, d.Slots, jobs.WithMaxWait(d.MaxQueueWait)),
		recorder: rec,
		log:      log,
		metrics:  d.Metrics,
		deps:     d,
		newStore: func(cfg s3store.Config) (store, error) {
			cfg.Budget = d.Budget
			return s3store.New(cfg)
		},
		connect: func(ctx context.Context, t clients.Target) (usecase.Cluster, error) {
			return qdrantcluster.Connect(ctx, t.Options)
		},
	}
	opts := []managed.ReconcilerOption{
		managed.WithTypedExternalConnector[*v1alpha1.Backup](conn),
		managed.WithLogger(log),
		managed.WithPollInterval(o.PollInterval),
		managed.WithRecorder(rec),
		managed.WithManagementPolicies(),
		// A backup's existence is read from S3, which is strongly
		// consistent: no need to wait before believing it is gone.
		managed.WithCreationGracePeriod(time.Second),
		// Progress changes while a transfer runs: look again soon, not at
		// the next slow poll.
		managed.WithPollIntervalHook(func(mg resource.Managed, poll time.Duration) time.Duration {
			if b, ok := mg.(*v1alpha1.Backup); ok {
				switch b.Status.AtProvider.Phase {
				case v1alpha1.BackupQueued, v1alpha1.BackupInProgress, v1alpha1.BackupPending:
					return min(poll, 5*time.Second)
				default:
					// Settled phases wait for the next poll.
				}
			}
			return poll
		}),
	}
	if o.MetricOptions != nil {
		opts = append(opts, managed.WithMetricRecorder(o.MetricOptions.MRMetrics))
	}
	r := managed.NewReconciler(mgr, resource.ManagedKind(v1alpha1.BackupGroupVersionKind), opts...)
	return ctrl.NewControllerManagedBy(mgr).
		Named(name).
		WithOptions(o.ForControllerRuntime()).
		WithEventFilter(resource.DesiredStateChanged()).
		For(&v1alpha1.Backup{}).
		Complete(ratelimiter.NewReconciler(name, &cancelOnGone{inner: r, kube: mgr.GetClient(), runner: conn.runner}, o.GlobalRateLimiter))
}

// store is the object store as the controller uses it.
type store interface {
	usecase.Deleter
	CheckBucket(ctx context.Context) error
}

// maxStores bounds the object store clients a provider keeps: one per
// distinct config, bucket and endpoint in use.
const maxStores = 256

type connector struct {
	// kube reads without a cache (see Setup).
	kube  client.Client
	usage resource.ModernTracker
	// stores keeps a store per ResolvedStorage identity, so that an
	// unchanged config reuses its client and credentials across reconciles
	// (one STS call per expiry under IRSA, not one per poll).
	stores   *clients.Cache[store]
	runner   *jobs.Runner[jobResult]
	recorder event.Recorder
	log      logging.Logger
	metrics  *metrics.Metrics
	deps     Deps
	newStore func(s3store.Config) (store, error)
	connect  func(context.Context, clients.Target) (usecase.Cluster, error)
}

func (c *connector) Connect(ctx context.Context, cr *v1alpha1.Backup) (managed.TypedExternalClient[*v1alpha1.Backup], error) {
	if err := c.usage.Track(ctx, cr); err != nil {
		return nil, err
	}
	rs, err := clients.ResolveStorage(ctx, c.kube, cr.Namespace, cr.GetProviderConfigReference(), cr.Spec.ForProvider.Storage.S3)
	if err != nil {
		return nil, err
	}
	st, err := c.stores.Get(rs.Identity, func() (store, error) { return c.newStore(rs.Config) })
	if err != nil {
		return nil, err
	}
	return &external{connector: c, store: st, prefix: rs.Prefix}, nil
}
