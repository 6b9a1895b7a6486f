// Package restore is the Restore controller: a managed reconciler whose
// external client resolves a Restore's source (a Backup or a raw S3 path)
// and target, starts the restore use case asynchronously, journals its
// progress in the Restore's status so that a restarted provider resumes it,
// and reports the result. Deleting a Restore never touches data.
package restore

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
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/clients"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/jobs"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/metrics"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrantcluster"
	usecase "github.com/qdrantops/qdrantops/provider-qdrantops/internal/restore"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

// Deps are what the controller shares with the provider's other controllers.
type Deps struct {
	// Slots are the Backup controller's: a restore and a backup never run
	// on the same Qdrant cluster at once.
	Slots   *jobs.Slots
	Metrics *metrics.Restore
	// Context bounds the lifetime of restore jobs: the provider's.
	Context context.Context
	// MaxAttempts bounds the runs of one restore before it ends Failed.
	MaxAttempts int32
	// AttemptBackoff is the wait before the second run of a restore whose
	// first failed for a reason that may pass; it doubles with every run.
	AttemptBackoff time.Duration
	// RetryDelay is the first wait between the tries of a shard.
	RetryDelay time.Duration
	// URLTTL is the lifetime of each presigned URL; zero is the use case's
	// default.
	URLTTL time.Duration
	// Budget bounds the part buffers of every transfer of the process.
	Budget *s3store.Budget
	// MaxQueueWait bounds how long a restore waits for its Qdrant cluster.
	MaxQueueWait time.Duration
}

// Defaults of Deps.
const (
	DefaultMaxAttempts    = 3
	DefaultAttemptBackoff = 30 * time.Second
)

// Setup adds the Restore controller.
func Setup(mgr ctrl.Manager, o controller.Options, d Deps) error {
	name := managed.ControllerName(v1alpha1.RestoreGroupVersionKind.GroupKind().String())
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = DefaultMaxAttempts
	}
	if d.AttemptBackoff <= 0 {
		d.AttemptBackoff = DefaultAttemptBackoff
	}
	if d.Slots == nil {
		return fmt.Errorf("%s needs the Slots it shares with the Backup controller", name)
	}
	rec := event.NewAPIRecorder(mgr.GetEventRecorderFor(name)) //nolint:staticcheck // SA1019: crossplane-runtime v2.4.0's event.NewAPIRecorder takes only the old events API's recorder.
	log := o.Logger.WithValues("controller", name)
	// Secrets, ProviderConfigs, the Backups a Restore names and the journal
	// are read and written through the API server, not the manager's cache:
	// a cache of Secrets would list and watch every Secret of the cluster,
	// and a Backup or journal read from a lagging cache could be stale.
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
		now:      time.Now,
		newStore: func(cfg s3store.Config) (store, error) {
			cfg.Budget = d.Budget
			return s3store.New(cfg)
		},
		connect: func(ctx context.Context, t clients.Target) (usecase.Target, error) {
			cl, err := qdrantcluster.Connect(ctx, t.Options)
			if err != nil {
				return nil, err
			}
			return qdrantcluster.NewTarget(cl), nil
		},
	}
	opts := []managed.ReconcilerOption{
		managed.WithTypedExternalConnector[*v1alpha1.Restore](conn),
		managed.WithLogger(log),
		managed.WithPollInterval(o.PollInterval),
		managed.WithRecorder(rec),
		managed.WithManagementPolicies(),
		// A restore's existence is its status: no need to wait before
		// believing it is not started.
		managed.WithCreationGracePeriod(time.Second),
		managed.WithPollIntervalHook(func(mg resource.Managed, poll time.Duration) time.Duration {
			if r, ok := mg.(*v1alpha1.Restore); ok {
				return nextLook(r, poll, time.Now())
			}
			return poll
		}),
	}
	if o.MetricOptions != nil {
		opts = append(opts, managed.WithMetricRecorder(o.MetricOptions.MRMetrics))
	}
	r := managed.NewReconciler(mgr, resource.ManagedKind(v1alpha1.RestoreGroupVersionKind), opts...)
	return ctrl.NewControllerManagedBy(mgr).
		Named(name).
		WithOptions(o.ForControllerRuntime()).
		WithEventFilter(resource.DesiredStateChanged()).
		For(&v1alpha1.Restore{}).
		Complete(ratelimiter.NewReconciler(name, &cancelOnGone{inner: r, kube: mgr.GetClient(), runner: conn.runner, recorder: rec}, o.GlobalRateLimiter))
}

// nextLook is when a Restore is observed again: soon while its job runs,
// with a growing wait while it waits for its Backup or for its next attempt,
// at the poll interval once settled.
func nextLook(r *v1alpha1.Restore, poll time.Duration, now time.Time) time.Duration {
	switch r.Status.AtProvider.Phase {
	case v1alpha1.RestoreQueued, v1alpha1.RestoreInProgress, v1alpha1.RestoreVerifying:
		return min(poll, 5*time.Second)
	case v1alpha1.RestorePending:
		// Waiting for a Backup, or for the backoff of a failed attempt:
		// look again after half as long as it has waited so far, so that
		// a short wait is noticed soon and a long one costs few reads.
		since := r.GetCondition(xpv2.TypeReady).LastTransitionTime.Time
		if since.IsZero() {
			return min(poll, time.Second)
		}
		return min(poll, max(time.Second, now.Sub(since)/2))
	default:
		// Settled phases wait for the next poll.
	}
	return poll
}

// store is the object store as the controller uses it.
type store interface {
	usecase.Store
	CheckBucket(ctx context.Context) error
}

// maxStores bounds the object store clients a provider keeps: one per
// distinct config, bucket and endpoint in use.
const maxStores = 256

type connector struct {
	// kube reads and writes without a cache (see Setup).
	kube  client.Client
	usage resource.ModernTracker
	// stores keeps a store per ResolvedStorage identity, so that an
	// unchanged config reuses its client and credentials across reconciles.
	stores   *clients.Cache[store]
	runner   *jobs.Runner[jobResult]
	recorder event.Recorder
	log      logging.Logger
	metrics  *metrics.Restore
	deps     Deps
	now      func() time.Time
	newStore func(s3store.Config) (store, error)
	connect  func(context.Context, clients.Target) (usecase.Target, error)
}

// Connect tracks the ProviderConfig's usage only: where the backup is read
// from is known once its Backup is ready, which a Restore may wait for, so
// the source is resolved when the restore starts.
func (c *connector) Connect(ctx context.Context, cr *v1alpha1.Restore) (managed.TypedExternalClient[*v1alpha1.Restore], error) {
	if err := c.usage.Track(ctx, cr); err != nil {
		return nil, err
	}
	return &external{connector: c}, nil
}
