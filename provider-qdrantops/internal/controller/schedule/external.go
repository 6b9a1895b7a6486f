package schedule

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/managed"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/schedule"
)

// Event reasons of a BackupSchedule.
const (
	reasonBackupCreated event.Reason = "BackupCreated"
	reasonTickSkipped   event.Reason = "TickSkipped"
	reasonTicksMissed   event.Reason = "TicksMissed"
	reasonBackupPruned  event.Reason = "BackupPruned"
	reasonNameTaken     event.Reason = "BackupNameTaken"
	reasonCannotPrune   event.Reason = "CannotPrune"
)

// AnnotationPrunedBy is set on a Backup that retention pruned: it names the
// schedule whose retention pruned it.
const AnnotationPrunedBy = "ops.qdrantops.io/pruned-by"

// prunedOwner is the owner reference a pruned Backup is left with: a
// ConfigMap no object can be (no UID is "qdrantops-pruned"). Kubernetes'
// garbage collector deletes an object whose owners are all absent, so it
// deletes the Backup, which the provider may not do itself: Crossplane's RBAC
// manager grants a provider no delete on its own kinds. The Backup's
// finalizer then runs as for any deletion, and its management policies decide
// whether its objects in S3 go too.
var prunedOwner = metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "qdrantops-pruned", UID: types.UID("qdrantops-pruned")}

// maxNamesInEvent bounds the Backup names one Event lists.
const maxNamesInEvent = 10

type external struct {
	// kube reads Backups from the manager's cache and writes them.
	kube client.Client
	// reader reads from the API server, for what the cache may not hold yet.
	reader   client.Reader
	recorder event.Recorder
	metrics  metricsSink
	now      func() time.Time

	// plan is what Observe decided, for Update to carry out.
	plan plan
}

// metricsSink is what the controller reports to Prometheus.
type metricsSink interface {
	observed(cr *v1alpha1.BackupSchedule, p plan)
	missed(cr *v1alpha1.BackupSchedule, n int64)
	forget(namespace, name string)
}

// parse parses the schedule of cr in its time zone.
func parse(cr *v1alpha1.BackupSchedule) (schedule.Schedule, *time.Location, error) {
	s, err := schedule.Parse(cr.Spec.ForProvider.Schedule, cr.Spec.ForProvider.TimeZone)
	if err != nil {
		return schedule.Schedule{}, nil, err
	}
	return s, s.Location(), nil
}

// Observe reports the schedule's state: its Backups, the next tick, whether
// it is overdue, and whether a tick is due or retention has Backups to prune
// (then the schedule is not up to date, and Update acts).
func (e *external) Observe(ctx context.Context, cr *v1alpha1.BackupSchedule) (managed.ExternalObservation, error) {
	if meta.WasDeleted(cr) {
		// The Backups it controls are deleted by the garbage collector
		// once it is gone; nothing here to wait for.
		e.metrics.forget(cr.Namespace, cr.Name)
		return managed.ExternalObservation{ResourceExists: false}, nil
	}
	s, loc, err := parse(cr)
	if err != nil {
		// Admission refuses what CEL can tell; what is left (an unknown
		// time zone, a schedule that never fires) is reported by the
		// parser's message.
		return managed.ExternalObservation{}, err
	}
	backups, err := e.list(ctx, cr)
	if err != nil {
		return managed.ExternalObservation{}, err
	}
	inUse, err := e.restoring(ctx, cr.Namespace)
	if err != nil {
		return managed.ExternalObservation{}, err
	}
	p := newPlan(cr, s, loc, backups, inUse, e.now())
	e.plan = p

	st := &cr.Status.AtProvider
	st.LastSuccessfulBackupTime = timeOrNil(p.lastSuccess)
	st.NextBackupTime = timeOrNil(p.next)
	if cr.Spec.ForProvider.Suspend {
		st.NextBackupTime = nil
	}
	st.ActiveBackups = p.running
	st.KeptBackups = int32(min(p.kept, int(^uint32(0)>>1)))

	if cr.Spec.ForProvider.Suspend {
		cr.SetConditions(xpv2.Condition{Type: xpv2.TypeReady, Status: corev1.ConditionTrue, Reason: v1alpha1.ReasonSuspended,
			Message: "suspended: the schedule creates no Backups; retention still prunes", LastTransitionTime: metav1.Now()})
	} else {
		cr.SetConditions(xpv2.Available())
	}
	cr.SetConditions(overdueCondition(cr, p))
	if len(p.prune) == 0 {
		cr.SetConditions(retentionApplied())
	}
	e.metrics.observed(cr, p)

	return managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: p.upToDate()}, nil
}

// overdueCondition is the BackupOverdue condition of p. Its message names
// times, not durations, so that it does not change, nor its transition time,
// at every reconcile.
func overdueCondition(cr *v1alpha1.BackupSchedule, p plan) xpv2.Condition {
	c := xpv2.Condition{Type: v1alpha1.TypeBackupOverdue, Status: corev1.ConditionFalse, Reason: v1alpha1.ReasonBackupsOnSchedule, LastTransitionTime: metav1.Now()}
	if !p.overdue {
		return c
	}
	c.Status, c.Reason = corev1.ConditionTrue, v1alpha1.ReasonNoRecentBackup
	cutoff := p.cutoff.UTC().Format(time.RFC3339)
	if p.lastSuccess.IsZero() {
		c.Message = fmt.Sprintf("no Backup has completed since the schedule was created at %s; the ticks since %s got none", cr.GetCreationTimestamp().UTC().Format(time.RFC3339), cutoff)
	} else {
		c.Message = fmt.Sprintf("the last successful Backup completed at %s; the ticks since %s got none", p.lastSuccess.UTC().Format(time.RFC3339), cutoff)
	}
	return c
}

func retentionApplied() xpv2.Condition {
	return xpv2.Condition{Type: v1alpha1.TypeRetention, Status: corev1.ConditionTrue, Reason: v1alpha1.ReasonRetentionApplied, LastTransitionTime: metav1.Now()}
}

// Create is never called: a BackupSchedule always exists once it is observed.
func (e *external) Create(_ context.Context, _ *v1alpha1.BackupSchedule) (managed.ExternalCreation, error) {
	return managed.ExternalCreation{}, nil
}

// Update carries out what Observe decided: the due tick's Backup, or its
// skipping, and retention.
func (e *external) Update(ctx context.Context, cr *v1alpha1.BackupSchedule) (managed.ExternalUpdate, error) {
	p := e.plan
	st := &cr.Status.AtProvider
	tick := p.due.Tick
	// The Backup first: if it cannot be created, the status the reconciler
	// still writes must not count this tick's missed ones, or each retry
	// would count them again.
	if p.action == actCreate {
		if err := e.create(ctx, cr, p.backupName, tick); err != nil {
			return managed.ExternalUpdate{}, err
		}
	}
	if p.due.Missed > 0 && p.action != actSuspended {
		e.countMissed(cr, p.due.Missed, p.due.LatestMissed)
		e.recorder.Event(cr, event.Warning(reasonTicksMissed, fmt.Errorf("%d tick(s) got no Backup, the latest at %s: the provider was not running or could not act at their time, and after such a gap only the latest tick is caught up, within the starting deadline (%s)", p.due.Missed, p.due.LatestMissed.UTC().Format(time.RFC3339), deadlineText(cr))))
	}
	switch p.action {
	case actNone:
	case actSuspended, actSkipLate:
		// Counted above when late; silent when suspended.
	case actSkipRunning:
		e.countMissed(cr, 1, tick)
		e.recorder.Event(cr, event.Warning(reasonTickSkipped, fmt.Errorf("tick %s skipped: concurrencyPolicy is Forbid and Backup %s is still running", tick.UTC().Format(time.RFC3339), strings.Join(p.running, ", "))))
	case actAdopt:
		e.recorded(cr, p.backupName, tick)
	case actCreate:
		// Done above.
	}
	if !tick.IsZero() {
		st.LastTickTime = &metav1.Time{Time: tick}
	}
	if len(p.prune) > 0 {
		// A failure to prune does not fail the reconcile: that would put
		// the schedule on error backoff, and its ticks would be late.
		// It is reported, and tried again at the next wake.
		if err := e.prune(ctx, cr, p.prune); err != nil {
			cr.SetConditions(xpv2.Condition{Type: v1alpha1.TypeRetention, Status: corev1.ConditionFalse, Reason: v1alpha1.ReasonCannotPrune, Message: err.Error(), LastTransitionTime: metav1.Now()})
			e.recorder.Event(cr, event.Warning(reasonCannotPrune, err))
			return managed.ExternalUpdate{}, nil
		}
		cr.SetConditions(retentionApplied())
		st.LastPruneTime = &metav1.Time{Time: e.now()}
		e.recorder.Event(cr, event.Normal(reasonBackupPruned, fmt.Sprintf("retention pruned %d Backup(s): %s", len(p.prune), names(p.prune))))
	}
	return managed.ExternalUpdate{}, nil
}

// create creates the Backup of tick, named for it, so that two reconciles
// of one tick (a restart, a second replica) race on the apiserver's
// AlreadyExists and one Backup results.
func (e *external) create(ctx context.Context, cr *v1alpha1.BackupSchedule, name string, tick time.Time) error {
	b := &v1alpha1.Backup{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: cr.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelBackupSchedule: cr.Name,
				v1alpha1.LabelScheduleTick:   strconv.FormatInt(tick.Unix(), 10),
			},
			OwnerReferences: []metav1.OwnerReference{meta.AsController(meta.TypedReferenceTo(cr, v1alpha1.BackupScheduleGroupVersionKind))},
		},
		Spec: v1alpha1.BackupSpec{
			ManagedResourceSpec: xpv2.ManagedResourceSpec{ProviderConfigReference: cr.Spec.ProviderConfigReference.DeepCopy()},
			ForProvider:         v1alpha1.BackupParameters{BackupSource: *cr.Spec.ForProvider.Template.DeepCopy()},
		},
	}
	err := e.kube.Create(ctx, b)
	if err == nil {
		e.recorded(cr, name, tick)
		e.recorder.Event(cr, event.Normal(reasonBackupCreated, fmt.Sprintf("created Backup %s for the tick at %s", name, tick.UTC().Format(time.RFC3339))))
		return nil
	}
	if !kerrors.IsAlreadyExists(err) {
		return fmt.Errorf("cannot create Backup %s: %w", name, err)
	}
	cur := &v1alpha1.Backup{}
	if err := e.reader.Get(ctx, client.ObjectKey{Namespace: cr.Namespace, Name: name}, cur); err != nil {
		return fmt.Errorf("cannot read Backup %s, which exists: %w", name, err)
	}
	if metav1.IsControlledBy(cur, cr) {
		// Another reconcile of this tick created it.
		e.recorded(cr, name, tick)
		return nil
	}
	// Schedule names that differ by a dot and a dash ("a.b", "a-b") name
	// their Backups alike, and users may create Backups of any name: a
	// Backup the schedule does not control is never taken over.
	e.countMissed(cr, 1, tick)
	e.recorder.Event(cr, event.Warning(reasonNameTaken, fmt.Errorf("tick %s skipped: Backup %s exists and was not created by this schedule", tick.UTC().Format(time.RFC3339), name)))
	return nil
}

// recorded records the Backup of tick in the status.
func (e *external) recorded(cr *v1alpha1.BackupSchedule, name string, tick time.Time) {
	st := &cr.Status.AtProvider
	st.LastBackupTime = &metav1.Time{Time: tick}
	st.LastBackupName = name
}

func (e *external) countMissed(cr *v1alpha1.BackupSchedule, n int64, latest time.Time) {
	st := &cr.Status.AtProvider
	st.MissedTicks += n
	if st.LastMissedTime == nil || latest.After(st.LastMissedTime.Time) {
		st.LastMissedTime = &metav1.Time{Time: latest}
	}
	e.metrics.missed(cr, n)
}

// prune hands the named Backups to the garbage collector: each loses its
// owner references but prunedOwner. The patch is checked against the
// Backup's resource version, so a Backup that changed since retention chose
// it is left for the next reconcile to judge again.
func (e *external) prune(ctx context.Context, cr *v1alpha1.BackupSchedule, prune []string) error {
	// One Backup that cannot be pruned does not keep the others.
	var errs []error
	for _, name := range prune {
		if err := e.pruneOne(ctx, cr, name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (e *external) pruneOne(ctx context.Context, cr *v1alpha1.BackupSchedule, name string) error {
	b := &v1alpha1.Backup{}
	if err := e.kube.Get(ctx, client.ObjectKey{Namespace: cr.Namespace, Name: name}, b); err != nil {
		if kerrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("cannot read Backup %s to prune it: %w", name, err)
	}
	if !metav1.IsControlledBy(b, cr) {
		// Not this schedule's (any more): never touched.
		return nil
	}
	orig := b.DeepCopy()
	b.SetOwnerReferences([]metav1.OwnerReference{prunedOwner})
	meta.AddAnnotations(b, map[string]string{AnnotationPrunedBy: cr.Name})
	if err := e.kube.Patch(ctx, b, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("cannot hand Backup %s to the garbage collector: %w", name, err)
	}
	return nil
}

// list returns the Backups cr controls: labelled with its name and with a
// controller reference to its UID. A label alone is not enough: anyone who
// may create Backups may label them.
func (e *external) list(ctx context.Context, cr *v1alpha1.BackupSchedule) ([]v1alpha1.Backup, error) {
	l := &v1alpha1.BackupList{}
	if err := e.kube.List(ctx, l, client.InNamespace(cr.Namespace), client.MatchingLabels{v1alpha1.LabelBackupSchedule: cr.Name}); err != nil {
		return nil, fmt.Errorf("cannot list the Backups of the schedule: %w", err)
	}
	out := l.Items[:0]
	for _, b := range l.Items {
		if metav1.IsControlledBy(&b, cr) {
			out = append(out, b)
		}
	}
	return out, nil
}

// restoring returns the names of the Backups of namespace that a Restore
// not yet Completed or Failed reads.
func (e *external) restoring(ctx context.Context, namespace string) (map[string]bool, error) {
	l := &v1alpha1.RestoreList{}
	if err := e.kube.List(ctx, l, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("cannot list the Restores of the namespace: %w", err)
	}
	inUse := map[string]bool{}
	for _, r := range l.Items {
		ref := r.Spec.ForProvider.BackupRef
		if ref == nil {
			continue
		}
		if ph := r.Status.AtProvider.Phase; ph == v1alpha1.RestoreCompleted || ph == v1alpha1.RestoreFailed {
			continue
		}
		inUse[ref.Name] = true
	}
	return inUse, nil
}

// Delete does nothing: the Backups the schedule controls are deleted by the
// garbage collector after it.
func (e *external) Delete(_ context.Context, _ *v1alpha1.BackupSchedule) (managed.ExternalDelete, error) {
	return managed.ExternalDelete{}, nil
}

// Disconnect does nothing: there is no connection.
func (e *external) Disconnect(_ context.Context) error { return nil }

func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return &metav1.Time{Time: t}
}

func deadlineText(cr *v1alpha1.BackupSchedule) string {
	if d := cr.Spec.ForProvider.StartingDeadlineSeconds; d != nil {
		return (time.Duration(*d) * time.Second).String()
	}
	return "none"
}

// names lists at most maxNamesInEvent names.
func names(n []string) string {
	if len(n) <= maxNamesInEvent {
		return strings.Join(n, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(n[:maxNamesInEvent], ", "), len(n)-maxNamesInEvent)
}
