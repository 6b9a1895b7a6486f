package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/managed"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	usecase "github.com/qdrantops/qdrantops/provider-qdrantops/internal/backup"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/clients"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/jobs"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

// Event reasons.
const (
	reasonStarted   event.Reason = "BackupStarted"
	reasonResumed   event.Reason = "BackupResumed"
	reasonCompleted event.Reason = "BackupCompleted"
	reasonFailed    event.Reason = "BackupFailed"
	reasonRetrying  event.Reason = "BackupRetrying"
	reasonDeleted   event.Reason = "BackupDeleted"
	reasonExpired   event.Reason = "BackupExpired"
)

type external struct {
	*connector
	store store
	// prefix is the key prefix of the resource's objects: the one its
	// ClusterProviderConfig enforces, if any, then its own.
	prefix string
}

func (e *external) layout(cr *v1alpha1.Backup) manifest.Layout {
	fp := cr.Spec.ForProvider
	return manifest.Layout{Prefix: e.prefix, Namespace: cr.Namespace, Cluster: clients.TargetName(fp.ClusterRef, fp.Connection), Backup: cr.Name}
}

func (e *external) Observe(ctx context.Context, cr *v1alpha1.Backup) (managed.ExternalObservation, error) {
	key := string(cr.UID)
	obs := &cr.Status.AtProvider
	if meta.WasDeleted(cr) {
		e.runner.Cancel(key)
		// The backup exists while any object it can prove is its own is
		// left; other objects under its root are someone else's.
		left, err := usecase.AnyOwned(ctx, e.store, e.layout(cr), string(cr.UID))
		if err != nil {
			return managed.ExternalObservation{}, fmt.Errorf("cannot list the backup's objects: %w", err)
		}
		return managed.ExternalObservation{ResourceExists: left, ResourceUpToDate: true}, nil
	}
	if j, ok := e.runner.Get(key); ok {
		if err := e.observeJob(ctx, cr, j.State()); err != nil {
			return managed.ExternalObservation{}, err
		}
		return managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true}, nil
	}
	switch obs.Phase {
	case "":
		return managed.ExternalObservation{ResourceExists: false}, nil
	case v1alpha1.BackupCompleted:
		return managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true}, e.observeCompleted(ctx, cr)
	case v1alpha1.BackupExpired:
		// Nothing left to do; the condition says so until the Backup is
		// deleted.
	case v1alpha1.BackupFailed:
		cr.SetConditions(xpv2.Unavailable().WithMessage(obs.Error))
	default:
		// The provider restarted mid-backup, or an attempt failed and is
		// to be retried: run again. Finished shards are kept, incomplete
		// uploads aborted. Every run is counted before it starts, so that
		// a backup that crashes the provider cannot resume for ever.
		started, err := e.start(ctx, cr)
		if err != nil {
			return managed.ExternalObservation{}, err
		}
		if started {
			e.recorder.Event(cr, event.Normal(reasonResumed, fmt.Sprintf("Running the backup again (attempt %d of %d)", obs.Attempts, e.deps.MaxAttempts)))
		}
	}
	return managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true}, nil
}

// observeJob copies a running or finished job's state into the status. A
// finished job is forgotten only once its result is persisted: if the write
// fails, the next reconcile finds the job and tries again.
func (e *external) observeJob(ctx context.Context, cr *v1alpha1.Backup, st jobs.State[jobResult]) error {
	obs := &cr.Status.AtProvider
	apply(obs, st.Progress.Status)
	obs.S3Path = e.s3Path(cr)
	switch {
	case st.Queued:
		obs.Phase = v1alpha1.BackupQueued
		cr.SetConditions(xpv2.Creating().WithMessage(queueMessage(cr.Namespace, st.Behind, time.Since(st.QueuedSince))))
		return nil
	case !st.Done:
		obs.Phase = v1alpha1.BackupInProgress
		cr.SetConditions(xpv2.Creating().WithMessage(progressMessage(obs.Progress, st.Progress.Status.Retrying)))
		return nil
	case st.Err == nil:
		e.completed(cr, st.Progress)
	default:
		e.failed(cr, st.Err)
	}
	if err := e.kube.Status().Update(ctx, cr); err != nil {
		return fmt.Errorf("cannot record the backup's result: %w", err)
	}
	e.runner.Forget(string(cr.UID))
	e.announce(cr, st)
	return nil
}

// queueMessage says what a queued backup waits for. It names the job ahead
// only when it is of the same namespace: another tenant's backups are none
// of this one's business.
func queueMessage(namespace, behind string, waited time.Duration) string {
	ahead := "another backup or restore of this Qdrant cluster"
	if ns, name, ok := strings.Cut(behind, "/"); ok && ns == namespace {
		ahead = name
	}
	return fmt.Sprintf("Waiting for %s to finish (waited %s): one backup or restore runs per Qdrant cluster at a time", ahead, waited.Round(time.Second))
}

func (e *external) completed(cr *v1alpha1.Backup, res jobResult) {
	obs := &cr.Status.AtProvider
	st := res.Status
	obs.Phase = v1alpha1.BackupCompleted
	now := metav1.NewTime(time.Now().UTC())
	done := now
	if !st.CompletedAt.IsZero() {
		done = metav1.NewTime(st.CompletedAt)
	}
	obs.CompletionTime = &done
	obs.Error = ""
	obs.ManifestKey = e.layout(cr).ManifestKey()
	obs.Verification = &v1alpha1.Verification{Verified: true, Time: &now, Message: verifiedMessage(res.Verified)}
	cr.SetConditions(xpv2.Available())
}

func verifiedMessage(v usecase.Verified) string {
	if v.Mode == usecase.VerifyContent {
		return fmt.Sprintf("manifest read back; %d shard objects (%s) read back, each matching its sha256", v.Shards, humanBytes(v.Bytes))
	}
	return fmt.Sprintf("manifest read back; %d shard objects present with their recorded sizes", v.Shards)
}

func (e *external) failed(cr *v1alpha1.Backup, err error) {
	obs := &cr.Status.AtProvider
	msg := err.Error()
	if errors.Is(err, context.Canceled) {
		msg = "the backup was interrupted"
	}
	if usecase.IsPermanent(err) || obs.Attempts >= e.deps.MaxAttempts {
		obs.Phase = v1alpha1.BackupFailed
		obs.Error = fmt.Sprintf("%s (after %d attempts)", msg, obs.Attempts)
		cr.SetConditions(xpv2.Unavailable().WithMessage(obs.Error))
		return
	}
	// Pending: the next reconcile starts another attempt, which keeps the
	// shards this one finished.
	obs.Phase = v1alpha1.BackupPending
	obs.Error = msg
	cr.SetConditions(xpv2.Creating().WithMessage(fmt.Sprintf("Attempt %d of %d failed, retrying: %s", obs.Attempts, e.deps.MaxAttempts, msg)))
}

// announce emits the Event and metrics of a result, once it is persisted.
func (e *external) announce(cr *v1alpha1.Backup, st jobs.State[jobResult]) {
	obs := &cr.Status.AtProvider
	labels := []string{cr.Namespace, metricCluster(cr)}
	switch obs.Phase {
	case v1alpha1.BackupCompleted:
		if e.metrics != nil {
			e.metrics.BackupBytes.WithLabelValues(labels...).Add(float64(st.Progress.Status.BytesDone))
			e.metrics.BackupLastSuccess.WithLabelValues(labels...).Set(float64(obs.CompletionTime.Unix()))
			if obs.StartTime != nil {
				e.metrics.BackupDuration.WithLabelValues(labels...).Observe(obs.CompletionTime.Sub(obs.StartTime.Time).Seconds())
			}
		}
		e.recorder.Event(cr, event.Normal(reasonCompleted, fmt.Sprintf("Backed up %d shards (%s) to %s", st.Progress.Status.ShardsDone, obs.Size, obs.S3Path)))
	case v1alpha1.BackupFailed:
		if e.metrics != nil {
			e.metrics.BackupFailures.WithLabelValues(labels...).Inc()
		}
		e.recorder.Event(cr, event.Warning(reasonFailed, errors.New(obs.Error)))
	default:
		e.recorder.Event(cr, event.Warning(reasonRetrying, errors.New(obs.Error)))
	}
}

// metricCluster is the cluster label of a backup's metrics: the name of its
// QdrantCluster, or "connection" for an explicit connection. A URL's host,
// which a tenant chooses freely, never becomes a label, and neither does a
// Backup's name, of which a namespace has as many as it likes.
func metricCluster(cr *v1alpha1.Backup) string {
	if r := cr.Spec.ForProvider.ClusterRef; r != nil {
		return r.Name
	}
	return "connection"
}

// observeCompleted verifies that a completed backup's manifest is still
// there, and deletes the Backup once its retention has passed.
func (e *external) observeCompleted(ctx context.Context, cr *v1alpha1.Backup) error {
	obs := &cr.Status.AtProvider
	if expired(obs.CompletionTime, cr.Spec.ForProvider.RetentionDays, time.Now()) {
		return e.expire(ctx, cr)
	}
	if _, err := e.store.Head(ctx, e.layout(cr).ManifestKey()); err != nil {
		cr.SetConditions(xpv2.Unavailable().WithMessage("the backup's manifest is missing from the bucket: " + err.Error()))
		return nil //nolint:nilerr // Deliberate: a missing manifest is the backup's condition, not a failed observe.
	}
	cr.SetConditions(xpv2.Available())
	return nil
}

// expire ends a backup's retention: its objects are deleted, unless its
// management policies keep them, and it says Expired. The Backup itself
// stays until its owner (a person, GitOps, a BackupSchedule) deletes it:
// Crossplane grants a provider no deletion of its own managed resources.
func (e *external) expire(ctx context.Context, cr *v1alpha1.Backup) error {
	obs := &cr.Status.AtProvider
	days := *cr.Spec.ForProvider.RetentionDays
	what := "its objects are kept, as its management policies say"
	if deletesExternal(cr.GetManagementPolicies()) {
		n, err := usecase.Delete(ctx, e.store, e.layout(cr), string(cr.UID))
		if err != nil {
			return fmt.Errorf("cannot delete the objects of an expired backup: %w", err)
		}
		what = fmt.Sprintf("its %d objects were deleted", n)
	}
	obs.Phase = v1alpha1.BackupExpired
	msg := fmt.Sprintf("The backup expired after its retention of %d days: %s; delete this Backup", days, what)
	cr.SetConditions(xpv2.Unavailable().WithMessage(msg))
	e.recorder.Event(cr, event.Normal(reasonExpired, msg))
	return nil
}

// deletesExternal says whether management policies let the provider delete
// what the resource stands for; no policies means all of them.
func deletesExternal(p xpv2.ManagementPolicies) bool {
	if len(p) == 0 {
		return true
	}
	for _, a := range p {
		if a == xpv2.ManagementActionAll || a == xpv2.ManagementActionDelete {
			return true
		}
	}
	return false
}

// expired says whether a backup completed at done has outlived its
// retention of days. Days are added as calendar days, never multiplied into a
// Duration, which overflows past 106,751 days.
func expired(done *metav1.Time, days *int32, now time.Time) bool {
	if done == nil || days == nil || *days <= 0 {
		return false
	}
	return now.After(done.AddDate(0, 0, int(*days)))
}

func (e *external) Create(ctx context.Context, cr *v1alpha1.Backup) (managed.ExternalCreation, error) {
	started, err := e.start(ctx, cr)
	if err != nil {
		return managed.ExternalCreation{}, err
	}
	if started {
		e.recorder.Event(cr, event.Normal(reasonStarted, "Started backing up to "+e.s3Path(cr)))
	}
	return managed.ExternalCreation{}, nil
}

func (e *external) s3Path(cr *v1alpha1.Backup) string {
	return "s3://" + cr.Spec.ForProvider.Storage.S3.Bucket + "/" + e.layout(cr).Root()
}

// jobResult is what a backup job reports: its progress and, once done, what
// verification checked.
type jobResult struct {
	Status   usecase.Status
	Verified usecase.Verified
}

// start checks what can be checked at once, counts the attempt in the
// persisted status, then starts the backup job. It reports false when the
// attempts are used up and the backup is marked Failed instead.
func (e *external) start(ctx context.Context, cr *v1alpha1.Backup) (bool, error) {
	fp := cr.Spec.ForProvider
	obs := &cr.Status.AtProvider
	l := e.layout(cr)
	if err := l.Validate(); err != nil {
		return false, &clients.ConfigError{Msg: "the backup's object keys would be invalid: " + err.Error()}
	}
	if obs.Attempts >= e.deps.MaxAttempts {
		obs.Phase = v1alpha1.BackupFailed
		if obs.Error == "" {
			obs.Error = "the provider stopped during every attempt"
		}
		obs.Error = fmt.Sprintf("%s (after %d attempts)", strings.TrimSuffix(obs.Error, fmt.Sprintf(" (after %d attempts)", obs.Attempts)), obs.Attempts)
		cr.SetConditions(xpv2.Unavailable().WithMessage(obs.Error))
		if err := e.kube.Status().Update(ctx, cr); err != nil {
			return false, fmt.Errorf("cannot record the backup's failure: %w", err)
		}
		e.recorder.Event(cr, event.Warning(reasonFailed, errors.New(obs.Error)))
		return false, nil
	}
	target, err := clients.QdrantTarget(ctx, e.kube, cr.Namespace, fp.ClusterRef, fp.Connection)
	if err != nil {
		return false, err
	}
	if err := e.store.CheckBucket(ctx); err != nil {
		return false, err
	}
	obs.Attempts++
	if err := e.kube.Status().Update(ctx, cr); err != nil {
		return false, fmt.Errorf("cannot record the backup's attempt: %w", err)
	}
	req := usecase.Request{
		Layout:     l,
		Backup:     manifest.BackupRef{Namespace: cr.Namespace, Name: cr.Name, UID: string(cr.UID)},
		Cluster:    target.Name,
		RetryDelay: e.deps.RetryDelay,
	}
	// A resumed run keeps the time the transfer first started.
	if obs.StartTime != nil {
		req.StartedAt = obs.StartTime.Time
	}
	for _, c := range fp.Collections {
		req.Collections = append(req.Collections, string(c))
	}
	if fp.Parallelism != nil {
		req.Parallelism = int(*fp.Parallelism)
	}
	mode := usecase.VerifySizes
	if fp.Verify == v1alpha1.VerifyFull {
		mode = usecase.VerifyContent
	}
	st, connect := e.store, e.connect
	ns := cr.Namespace
	j := e.runner.Start(string(cr.UID), target.Key, cr.Namespace+"/"+cr.Name, func(ctx context.Context, report func(jobResult)) (jobResult, error) {
		// The namespace's transfers share its part of the transfer budget.
		ctx = s3store.WithOwner(ctx, ns)
		cl, err := connect(ctx, target)
		if err != nil {
			return jobResult{}, &usecase.Error{Reason: usecase.ReasonQdrantUnreachable, Message: "cannot connect to Qdrant: " + err.Error(), Err: err}
		}
		var last usecase.Status
		req.Report = func(s usecase.Status) { last = s; report(jobResult{Status: s}) }
		if _, err := usecase.Run(ctx, cl, st, req); err != nil {
			return jobResult{Status: last}, err
		}
		v, err := usecase.Verify(ctx, st, req.Layout, req.Backup.UID, mode)
		if err != nil {
			return jobResult{Status: last}, err
		}
		return jobResult{Status: last, Verified: v}, nil
	})
	// The job's place in its cluster's queue is known at once: say so in
	// the same status write as the rest of this reconcile.
	return true, e.observeJob(ctx, cr, j.State())
}

func (e *external) Update(context.Context, *v1alpha1.Backup) (managed.ExternalUpdate, error) {
	// What a backup holds never changes; the schema makes its target immutable.
	return managed.ExternalUpdate{}, nil
}

func (e *external) Delete(ctx context.Context, cr *v1alpha1.Backup) (managed.ExternalDelete, error) {
	e.runner.Cancel(string(cr.UID))
	n, err := usecase.Delete(ctx, e.store, e.layout(cr), string(cr.UID))
	if err != nil {
		return managed.ExternalDelete{}, fmt.Errorf("cannot delete the backup's objects: %w", err)
	}
	e.recorder.Event(cr, event.Normal(reasonDeleted, fmt.Sprintf("Deleted %d objects under %s", n, e.s3Path(cr))))
	return managed.ExternalDelete{}, nil
}

func (e *external) Disconnect(context.Context) error { return nil }
