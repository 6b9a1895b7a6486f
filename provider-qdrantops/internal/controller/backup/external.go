package backup

import (
	"context"
	"errors"
	"fmt"
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
		objs, err := e.store.List(ctx, e.layout(cr).Root())
		if err != nil {
			return managed.ExternalObservation{}, fmt.Errorf("cannot list the backup's objects: %w", err)
		}
		return managed.ExternalObservation{ResourceExists: len(objs) > 0, ResourceUpToDate: true}, nil
	}
	if j, ok := e.runner.Get(key); ok {
		e.observeJob(cr, j.State())
		return managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true}, nil
	}
	switch obs.Phase {
	case "":
		return managed.ExternalObservation{ResourceExists: false}, nil
	case v1alpha1.BackupCompleted:
		return managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true}, e.observeCompleted(ctx, cr)
	case v1alpha1.BackupFailed:
		cr.SetConditions(xpv2.Unavailable().WithMessage(obs.Error))
	default:
		// The provider restarted mid-backup: resume. Finished shards are
		// kept, incomplete uploads aborted.
		if err := e.start(ctx, cr); err != nil {
			return managed.ExternalObservation{}, err
		}
		e.recorder.Event(cr, event.Normal(reasonResumed, "Resuming the backup after a restart of the provider"))
	}
	return managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true}, nil
}

// observeJob copies a running or finished job's state into the status.
func (e *external) observeJob(cr *v1alpha1.Backup, st jobs.State[usecase.Status]) {
	obs := &cr.Status.AtProvider
	apply(obs, st.Progress)
	obs.S3Path = e.s3Path(cr)
	switch {
	case st.Queued:
		obs.Phase = v1alpha1.BackupQueued
		msg := "Waiting for the Qdrant cluster"
		if st.Behind != "" {
			msg = fmt.Sprintf("Waiting for %s to finish: one backup or restore runs per Qdrant cluster at a time", st.Behind)
		}
		cr.SetConditions(xpv2.Creating().WithMessage(msg))
	case !st.Done:
		obs.Phase = v1alpha1.BackupInProgress
		cr.SetConditions(xpv2.Creating().WithMessage(progressMessage(obs.Progress, st.Progress.Retrying)))
	case st.Err == nil:
		e.completed(cr, st.Progress)
	default:
		e.failed(cr, st.Err)
	}
}

func (e *external) completed(cr *v1alpha1.Backup, st usecase.Status) {
	obs := &cr.Status.AtProvider
	e.runner.Forget(string(cr.UID))
	obs.Phase = v1alpha1.BackupCompleted
	now := metav1.NewTime(time.Now().UTC())
	done := now
	if !st.CompletedAt.IsZero() {
		done = metav1.NewTime(st.CompletedAt)
	}
	obs.CompletionTime = &done
	obs.Error = ""
	obs.ManifestKey = e.layout(cr).ManifestKey()
	obs.Verification = &v1alpha1.Verification{Verified: true, Time: &now, Message: fmt.Sprintf("manifest read back; %d shard objects present with their recorded sizes", st.ShardsDone)}
	cr.SetConditions(xpv2.Available())
	labels := []string{cr.Namespace, e.layout(cr).Cluster}
	if e.metrics != nil {
		e.metrics.BackupBytes.WithLabelValues(labels...).Add(float64(st.BytesDone))
		e.metrics.BackupLastSuccess.WithLabelValues(labels...).Set(float64(done.Unix()))
		if obs.StartTime != nil {
			e.metrics.BackupDuration.WithLabelValues(labels...).Observe(done.Sub(obs.StartTime.Time).Seconds())
		}
	}
	e.recorder.Event(cr, event.Normal(reasonCompleted, fmt.Sprintf("Backed up %d shards (%s) to %s", st.ShardsDone, obs.Size, obs.S3Path)))
}

func (e *external) failed(cr *v1alpha1.Backup, err error) {
	obs := &cr.Status.AtProvider
	e.runner.Forget(string(cr.UID))
	obs.Attempts++
	msg := err.Error()
	if errors.Is(err, context.Canceled) {
		msg = "the backup was interrupted"
	}
	if usecase.IsPermanent(err) || obs.Attempts >= e.deps.MaxAttempts {
		obs.Phase = v1alpha1.BackupFailed
		obs.Error = fmt.Sprintf("%s (after %d attempts)", msg, obs.Attempts)
		cr.SetConditions(xpv2.Unavailable().WithMessage(obs.Error))
		if e.metrics != nil {
			e.metrics.BackupFailures.WithLabelValues(cr.Namespace, e.layout(cr).Cluster).Inc()
		}
		e.recorder.Event(cr, event.Warning(reasonFailed, errors.New(obs.Error)))
		return
	}
	// Pending: the next reconcile starts another attempt, which keeps the
	// shards this one finished.
	obs.Phase = v1alpha1.BackupPending
	obs.Error = msg
	cr.SetConditions(xpv2.Creating().WithMessage(fmt.Sprintf("Attempt %d of %d failed, retrying: %s", obs.Attempts, e.deps.MaxAttempts, msg)))
	e.recorder.Event(cr, event.Warning(reasonRetrying, errors.New(msg)))
}

// observeCompleted verifies that a completed backup's manifest is still
// there, and deletes the Backup once its retention has passed.
func (e *external) observeCompleted(ctx context.Context, cr *v1alpha1.Backup) error {
	obs := &cr.Status.AtProvider
	if days := cr.Spec.ForProvider.RetentionDays; days != nil && obs.CompletionTime != nil &&
		time.Since(obs.CompletionTime.Time) > time.Duration(*days)*24*time.Hour {
		e.recorder.Event(cr, event.Normal(reasonExpired, fmt.Sprintf("Deleting the backup: it is older than its retention of %d days", *days)))
		return e.kube.Delete(ctx, cr)
	}
	if _, err := e.store.Head(ctx, e.layout(cr).ManifestKey()); err != nil {
		cr.SetConditions(xpv2.Unavailable().WithMessage("the backup's manifest is missing from the bucket: " + err.Error()))
		return nil
	}
	cr.SetConditions(xpv2.Available())
	return nil
}

func (e *external) Create(ctx context.Context, cr *v1alpha1.Backup) (managed.ExternalCreation, error) {
	if err := e.start(ctx, cr); err != nil {
		return managed.ExternalCreation{}, err
	}
	e.recorder.Event(cr, event.Normal(reasonStarted, "Started backing up to "+e.s3Path(cr)))
	return managed.ExternalCreation{}, nil
}

func (e *external) s3Path(cr *v1alpha1.Backup) string {
	return "s3://" + cr.Spec.ForProvider.Storage.S3.Bucket + "/" + e.layout(cr).Root()
}

// start checks what can be checked at once, then starts the backup job.
func (e *external) start(ctx context.Context, cr *v1alpha1.Backup) error {
	fp := cr.Spec.ForProvider
	target, err := clients.QdrantTarget(ctx, e.kube, cr.Namespace, fp.ClusterRef, fp.Connection)
	if err != nil {
		return err
	}
	if err := e.store.CheckBucket(ctx); err != nil {
		return err
	}
	req := usecase.Request{
		Layout:     e.layout(cr),
		Backup:     manifest.BackupRef{Namespace: cr.Namespace, Name: cr.Name, UID: string(cr.UID)},
		Cluster:    target.Name,
		RetryDelay: e.deps.RetryDelay,
	}
	for _, c := range fp.Collections {
		req.Collections = append(req.Collections, string(c))
	}
	if fp.Parallelism != nil {
		req.Parallelism = int(*fp.Parallelism)
	}
	st, connect := e.store, e.connect
	e.runner.Start(string(cr.UID), target.Key, cr.Namespace+"/"+cr.Name, func(ctx context.Context, report func(usecase.Status)) (usecase.Status, error) {
		cl, err := connect(ctx, target)
		if err != nil {
			return usecase.Status{}, &usecase.Error{Reason: usecase.ReasonQdrantUnreachable, Message: "cannot connect to Qdrant: " + err.Error(), Err: err}
		}
		var last usecase.Status
		req.Report = func(s usecase.Status) { last = s; report(s) }
		if _, err := usecase.Run(ctx, cl, st, req); err != nil {
			return last, err
		}
		if err := usecase.Verify(ctx, st, req.Layout); err != nil {
			return last, err
		}
		return last, nil
	})
	return nil
}

func (e *external) Update(context.Context, *v1alpha1.Backup) (managed.ExternalUpdate, error) {
	// What a backup holds never changes; the schema makes its target immutable.
	return managed.ExternalUpdate{}, nil
}

func (e *external) Delete(ctx context.Context, cr *v1alpha1.Backup) (managed.ExternalDelete, error) {
	e.runner.Cancel(string(cr.UID))
	n, err := e.store.DeletePrefix(ctx, e.layout(cr).Root())
	if err != nil {
		return managed.ExternalDelete{}, fmt.Errorf("cannot delete the backup's objects: %w", err)
	}
	e.recorder.Event(cr, event.Normal(reasonDeleted, fmt.Sprintf("Deleted %d objects under %s", n, e.s3Path(cr))))
	return managed.ExternalDelete{}, nil
}

func (e *external) Disconnect(context.Context) error { return nil }
