// Package schedule is the BackupSchedule controller: a managed reconciler
// with no external resource, whose Observe reports the schedule's Backups and
// which tick is due, and whose Update creates the tick's Backup and prunes by
// retention. It wakes for the next tick, not on a polling interval.
package schedule

import (
	"context"
	"time"

	kerrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/crossplane/crossplane-runtime/v2/pkg/controller"
	xpevent "github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/ratelimiter"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/managed"
	"github.com/crossplane/crossplane-runtime/v2/pkg/resource"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/metrics"
)

// Deps are what the controller needs besides the manager.
type Deps struct {
	// Metrics are the schedule metrics; nil keeps none.
	Metrics *metrics.Schedule
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Setup adds the BackupSchedule controller.
func Setup(mgr ctrl.Manager, o controller.Options, d Deps) error {
	name := managed.ControllerName(v1alpha1.BackupScheduleGroupVersionKind.GroupKind().String())
	if d.Now == nil {
		d.Now = time.Now
	}
	rec := xpevent.NewAPIRecorder(mgr.GetEventRecorderFor(name)) //nolint:staticcheck // SA1019: crossplane-runtime v2.4.0's event.NewAPIRecorder takes only the old events API's recorder.
	conn := &connector{kube: mgr.GetClient(), reader: mgr.GetAPIReader(), recorder: rec, metrics: promSink{m: d.Metrics}, now: d.Now}
	opts := []managed.ReconcilerOption{
		managed.WithTypedExternalConnector[*v1alpha1.BackupSchedule](conn),
		managed.WithLogger(o.Logger.WithValues("controller", name)),
		managed.WithPollInterval(o.PollInterval),
		managed.WithRecorder(rec),
		managed.WithManagementPolicies(),
		managed.WithFinalizer(&orphaningFinalizer{Finalizer: resource.NewAPIFinalizer(mgr.GetClient(), managed.FinalizerName), kube: mgr.GetClient()}),
		managed.WithPollIntervalHook(func(mg resource.Managed, poll time.Duration) time.Duration {
			return wake(mg, poll, d.Now())
		}),
	}
	if o.MetricOptions != nil {
		opts = append(opts, managed.WithMetricRecorder(o.MetricOptions.MRMetrics))
	}
	r := managed.NewReconciler(mgr, resource.ManagedKind(v1alpha1.BackupScheduleGroupVersionKind), opts...)
	return ctrl.NewControllerManagedBy(mgr).
		Named(name).
		WithOptions(o.ForControllerRuntime()).
		For(&v1alpha1.BackupSchedule{}, builder.WithPredicates(resource.DesiredStateChanged())).
		// A Backup that completes, fails or goes away changes what the
		// schedule reports, may free a Forbid schedule and gives retention
		// work: look at once rather than at the next tick.
		Owns(&v1alpha1.Backup{}, builder.WithPredicates(phaseChanged())).
		Complete(ratelimiter.NewReconciler(name, &forgetOnGone{inner: r, kube: mgr.GetClient(), metrics: conn.metrics}, o.GlobalRateLimiter))
}

// forgetOnGone drops the metrics of a schedule that is gone. Observe
// forgets them when it sees the schedule deleted, but the managed reconciler
// does not always observe a deleted resource (not when its management
// policies leave out Delete, not when its finalizer was removed by hand):
// a stale overdue series would page for ever.
type forgetOnGone struct {
	inner   reconcile.Reconciler
	kube    client.Reader
	metrics metricsSink
}

func (f *forgetOnGone) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	res, err := f.inner.Reconcile(ctx, req)
	if gerr := f.kube.Get(ctx, req.NamespacedName, &v1alpha1.BackupSchedule{}); kerrors.IsNotFound(gerr) {
		f.metrics.forget(req.Namespace, req.Name)
	}
	return res, err
}

// wake is how long an up-to-date schedule sleeps: until its next tick, or
// the poll interval if that is sooner. BackupOverdue only changes at ticks
// and when a Backup completes, which wakes the schedule too; the poll is a
// safety net.
func wake(mg resource.Managed, poll time.Duration, now time.Time) time.Duration {
	cr, ok := mg.(*v1alpha1.BackupSchedule)
	if !ok {
		return poll
	}
	s, _, err := parse(cr)
	if err != nil {
		return poll
	}
	// Suspended schedules wake at their ticks too, to mark them handled, so
	// that resuming does not catch up a tick that passed while suspended.
	next := s.NextAfter(lastTick(cr), now)
	if next.IsZero() {
		return poll
	}
	// A zero RequeueAfter would mean "never": wake at least a millisecond
	// from now.
	return max(min(next.Sub(now), poll), time.Millisecond)
}

// phaseChanged passes what changes a schedule's report or frees its work: a
// Backup that completes, fails or stops being Ready (its manifest gone), and
// one that starts or finishes going away. Not a Backup's creation (the
// schedule made it, and already knows) nor its progress through Pending,
// Queued and InProgress: at a tick shared by many schedules each such event
// would cost its schedule a reconcile.
func phaseChanged() predicate.Funcs {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*v1alpha1.Backup)
			n, ok2 := e.ObjectNew.(*v1alpha1.Backup)
			if !ok1 || !ok2 {
				return true
			}
			if (o.GetDeletionTimestamp() == nil) != (n.GetDeletionTimestamp() == nil) {
				return true
			}
			if o.GetCondition(xpv2.TypeReady).Status != n.GetCondition(xpv2.TypeReady).Status && n.Status.AtProvider.Phase == v1alpha1.BackupCompleted {
				return true
			}
			ph := n.Status.AtProvider.Phase
			return o.Status.AtProvider.Phase != ph && (ph == v1alpha1.BackupCompleted || ph == v1alpha1.BackupFailed)
		},
	}
}

type connector struct {
	kube     client.Client
	reader   client.Reader
	recorder xpevent.Recorder
	metrics  metricsSink
	now      func() time.Time
}

func (c *connector) Connect(_ context.Context, _ *v1alpha1.BackupSchedule) (managed.TypedExternalClient[*v1alpha1.BackupSchedule], error) {
	return &external{kube: c.kube, reader: c.reader, recorder: c.recorder, metrics: c.metrics, now: c.now}, nil
}

// promSink reports to the Prometheus metrics; a nil m reports nothing.
type promSink struct{ m *metrics.Schedule }

func (s promSink) observed(cr *v1alpha1.BackupSchedule, p plan) {
	if s.m == nil {
		return
	}
	if !p.lastSuccess.IsZero() {
		s.m.LastSuccess.WithLabelValues(cr.Namespace, cr.Name).Set(float64(p.lastSuccess.Unix()))
	}
	overdue := 0.0
	if p.overdue {
		overdue = 1
	}
	s.m.Overdue.WithLabelValues(cr.Namespace, cr.Name).Set(overdue)
}

func (s promSink) missed(cr *v1alpha1.BackupSchedule, n int64) {
	if s.m == nil {
		return
	}
	s.m.MissedTicks.WithLabelValues(cr.Namespace, cr.Name).Add(float64(n))
}

func (s promSink) forget(namespace, name string) {
	if s.m != nil {
		s.m.Forget(namespace, name)
	}
}
