package restore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"
	"github.com/crossplane/crossplane-runtime/v2/pkg/reconciler/managed"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/clients"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/jobs"
	usecase "github.com/qdrantops/qdrantops/provider-qdrantops/internal/restore"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

// Event reasons.
const (
	reasonStarted            event.Reason = "RestoreStarted"
	reasonResumed            event.Reason = "RestoreResumed"
	reasonCollectionRestored event.Reason = "CollectionRestored"
	reasonCompleted          event.Reason = "RestoreCompleted"
	reasonFailed             event.Reason = "RestoreFailed"
	reasonRetrying           event.Reason = "RestoreRetrying"
	reasonStopped            event.Reason = "RestoreStopped"
)

// reasonRestoreFailed is the Ready condition's reason for a failure the use
// case did not classify.
const reasonRestoreFailed xpv2.ConditionReason = "RestoreFailed"

// hint says what to do about a failure whose message, from the use case,
// says only what failed. A failed restore deleted what it created, so a new
// Restore starts afresh.
func hint(reason string) string {
	switch reason {
	case usecase.ReasonShardFailed:
		return "check the backup's objects (a Backup with verify: Full reads them back) and the target's nodes, then create a new Restore"
	case usecase.ReasonQdrantUnreachable:
		return "check the target's connection and that its nodes answer, then create a new Restore"
	case usecase.ReasonStorageFailed:
		return "check the bucket and its credentials, then create a new Restore"
	case usecase.ReasonCreateFailed:
		return "check the target's logs for why it refused the collection, then create a new Restore"
	case usecase.ReasonJournalFailed:
		return "the provider could not write this Restore's status; check its permissions, then create a new Restore"
	}
	return ""
}

// maxCollectionEvents bounds the CollectionRestored Events of one restore;
// the status lists every collection.
const maxCollectionEvents = 20

type external struct {
	*connector
}

func (e *external) Observe(ctx context.Context, cr *v1alpha1.Restore) (managed.ExternalObservation, error) {
	key := string(cr.UID)
	obs := &cr.Status.AtProvider
	if meta.WasDeleted(cr) {
		// Deleting a Restore never touches data: its job stops (and says
		// what it leaves, see cancelOnGone), and what it restored stays in
		// the target.
		e.runner.Cancel(key)
		return managed.ExternalObservation{ResourceExists: false}, nil
	}
	exists := managed.ExternalObservation{ResourceExists: true, ResourceUpToDate: true}
	if j, ok := e.runner.Get(key); ok {
		return exists, e.observeJob(ctx, cr, j.State())
	}
	switch {
	case obs.Phase == "" && obs.Attempts == 0:
		return managed.ExternalObservation{ResourceExists: false}, nil
	case obs.Phase == v1alpha1.RestoreCompleted || obs.Phase == v1alpha1.RestoreFailed:
		// A restore runs once: its result, and the conditions recorded
		// with it, stand, whatever restarts in between.
		return exists, nil
	}
	// Pending, or a phase of a run the provider did not see finish: it
	// restarted mid-restore. Run again, resuming from the journal. A
	// restore whose last attempt failed waits for its backoff first.
	if wait := e.backoffLeft(cr); wait > 0 {
		return exists, nil
	}
	attempts := obs.Attempts
	started, err := e.start(ctx, cr)
	if err != nil {
		return managed.ExternalObservation{}, err
	}
	if started {
		if attempts == 0 {
			e.recorder.Event(cr, event.Normal(reasonStarted, "Started restoring from "+obs.S3Path))
		} else {
			e.recorder.Event(cr, event.Normal(reasonResumed, resumedMessage(obs, e.deps.MaxAttempts)))
		}
	}
	return exists, nil
}

func resumedMessage(obs *v1alpha1.RestoreObservation, maxAttempts int32) string {
	shards := 0
	for _, c := range obs.RestoredCollections {
		shards += len(c.RecoveredShards)
	}
	msg := fmt.Sprintf("Running the restore again (attempt %d of %d)", obs.Attempts, maxAttempts)
	if shards > 0 {
		msg += fmt.Sprintf(": %d shards recovered before are kept", shards)
	}
	return msg
}

// backoffLeft is how long a restore whose last attempt failed still waits
// before the next: AttemptBackoff after the first failure, doubling after
// each, counted from when the failure was recorded.
func (e *external) backoffLeft(cr *v1alpha1.Restore) time.Duration {
	obs := cr.Status.AtProvider
	if obs.Phase != v1alpha1.RestorePending || obs.Error == "" || obs.Attempts == 0 {
		return 0
	}
	since := cr.GetCondition(xpv2.TypeReady).LastTransitionTime.Time
	return since.Add(attemptBackoff(e.deps.AttemptBackoff, obs.Attempts)).Sub(e.now())
}

// attemptBackoff is the wait after the given number of failed attempts.
func attemptBackoff(base time.Duration, attempts int32) time.Duration {
	d := base
	for i := int32(1); i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

func (e *external) Create(ctx context.Context, cr *v1alpha1.Restore) (managed.ExternalCreation, error) {
	started, err := e.start(ctx, cr)
	if err != nil {
		return managed.ExternalCreation{}, err
	}
	if started {
		e.recorder.Event(cr, event.Normal(reasonStarted, "Started restoring from "+cr.Status.AtProvider.S3Path))
	}
	return managed.ExternalCreation{}, nil
}

// start resolves the restore's source and target, counts the attempt in the
// persisted status, then starts the restore job. It reports false when it
// did not start one: the Backup is not ready yet (the Restore waits, Pending)
// or the attempts are used up (the Restore is Failed).
func (e *external) start(ctx context.Context, cr *v1alpha1.Restore) (bool, error) {
	fp := cr.Spec.ForProvider
	obs := &cr.Status.AtProvider
	if obs.Attempts >= e.deps.MaxAttempts {
		obs.Phase = v1alpha1.RestoreFailed
		if obs.Error == "" {
			obs.Error = "the provider stopped during every attempt"
		}
		obs.Error = withAttempts(strings.TrimSuffix(obs.Error, fmt.Sprintf(" (after %d attempts)", obs.Attempts)), obs.Attempts)
		cr.SetConditions(failedCondition(reasonRestoreFailed, obs.Error))
		if err := e.kube.Status().Update(ctx, cr); err != nil {
			return false, fmt.Errorf("cannot record the restore's failure: %w", err)
		}
		e.recorder.Event(cr, event.Warning(reasonFailed, errors.New(truncate(obs.Error, maxEventBytes))))
		return false, nil
	}
	src, err := e.resolveSource(ctx, cr)
	var nr *waitError
	if errors.As(err, &nr) {
		waiting := xpv2.Creating().WithMessage(truncate(nr.msg, maxMessageBytes))
		if obs.Phase == v1alpha1.RestorePending && cr.GetCondition(xpv2.TypeReady).Equal(waiting) {
			// Still waiting for the same reason: nothing to write.
			return false, nil
		}
		obs.Phase = v1alpha1.RestorePending
		cr.SetConditions(waiting)
		if err := e.kube.Status().Update(ctx, cr); err != nil {
			return false, fmt.Errorf("cannot record that the restore waits for its Backup: %w", err)
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	target, err := clients.QdrantTarget(ctx, e.kube, cr.Namespace, fp.TargetClusterRef, fp.TargetConnection)
	if err != nil {
		return false, err
	}
	if err := src.store.CheckBucket(ctx); err != nil {
		return false, err
	}
	obs.Attempts++
	obs.S3Path = src.path
	// A started restore says so in the write that counts its attempt: the
	// reconciler's later writes may be refused or replaced (a conflict with
	// the journal, the create annotations), and a restarted provider must
	// find it started, to resume it rather than start it anew. The error
	// of an earlier attempt is the Retrying Event's: this attempt has none.
	obs.Phase = v1alpha1.RestorePending
	obs.Error = ""
	cr.SetConditions(xpv2.Creating().WithMessage(fmt.Sprintf("Starting the restore (attempt %d of %d)", obs.Attempts, e.deps.MaxAttempts)))
	if err := e.kube.Status().Update(ctx, cr); err != nil {
		return false, fmt.Errorf("cannot record the restore's attempt: %w", err)
	}
	req := e.request(cr, src)
	base := append([]v1alpha1.RestoredCollection(nil), obs.RestoredCollections...)
	key := types.NamespacedName{Namespace: cr.Namespace, Name: cr.Name}
	uid := cr.UID
	kube, connect, st := e.kube, e.connect, src.store
	j := e.runner.Start(string(cr.UID), target.Key, cr.Namespace+"/"+cr.Name, func(ctx context.Context, report func(jobResult)) (jobResult, error) {
		// The namespace's transfers share its part of the transfer budget.
		ctx = s3store.WithOwner(ctx, key.Namespace)
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		var mu sync.Mutex
		cur := jobResult{Journal: req.Resume, Journaled: true, StartedAt: time.Now()}
		// publish changes the job's result and reports it, in order.
		publish := func(f func(*jobResult)) jobResult {
			mu.Lock()
			defer mu.Unlock()
			f(&cur)
			r := cur.clone()
			report(r)
			return r
		}
		publish(func(*jobResult) {})
		req.Report = func(s usecase.Status) { publish(func(r *jobResult) { r.Status = s }) }
		req.Journal = &journal{
			kube: kube, key: key, uid: uid,
			view: func(rec usecase.Record) []v1alpha1.RestoredCollection {
				mu.Lock()
				defer mu.Unlock()
				return collections(base, cur.Status, rec)
			},
			saved: func(rec usecase.Record) { publish(func(r *jobResult) { r.Journal = rec }) },
			stop:  stop,
		}
		t, err := connect(ctx, target)
		if err != nil {
			return cur, &usecase.Error{Reason: usecase.ReasonQdrantUnreachable, Message: "cannot connect to the target Qdrant: " + err.Error(), Err: err}
		}
		final, err := usecase.Run(ctx, t, st, req)
		return publish(func(r *jobResult) { r.Status = final }), err
	})
	// The job's place in its cluster's queue is known at once: say so in
	// the same status write as the rest of this reconcile.
	return true, e.observeJob(ctx, cr, j.State())
}

// request builds the use case's request from a Restore's parameters.
func (e *external) request(cr *v1alpha1.Restore, src source) usecase.Request {
	fp := cr.Spec.ForProvider
	req := usecase.Request{
		Root:       src.root,
		BackupUID:  src.backupUID,
		Policy:     usecase.Policy(fp.ExistingCollectionPolicy),
		Method:     usecase.Method(fp.RecoveryMethod),
		URLTTL:     e.deps.URLTTL,
		RetryDelay: e.deps.RetryDelay,
		Resume:     resumeRecord(cr.Status.AtProvider.RestoredCollections),
	}
	for _, c := range fp.Collections {
		req.Collections = append(req.Collections, string(c))
	}
	if len(fp.CollectionMappings) > 0 {
		req.Mappings = map[string]string{}
		for _, m := range fp.CollectionMappings {
			req.Mappings[string(m.From)] = string(m.To)
		}
	}
	if fp.Parallelism != nil {
		req.Parallelism = int(*fp.Parallelism)
	}
	// The schema defaults verifySamplePoints to 100; an object stored
	// without the default samples as many.
	req.SamplePoints = 100
	if fp.VerifySamplePoints != nil {
		req.SamplePoints = int(*fp.VerifySamplePoints)
	}
	return req
}

// observeJob copies a running or finished job's state into the status. A
// finished job is forgotten only once its result is persisted: if the write
// fails, the next reconcile finds the job and tries again.
func (e *external) observeJob(ctx context.Context, cr *v1alpha1.Restore, st jobs.State[jobResult]) error {
	obs := &cr.Status.AtProvider
	apply(obs, st.Progress)
	switch {
	case st.Queued:
		obs.Phase = v1alpha1.RestoreQueued
		cr.SetConditions(xpv2.Creating().WithMessage(fmt.Sprintf("Starting the restore (attempt %d of %d)", obs.Attempts, e.deps.MaxAttempts)))
		cr.SetConditions(xpv2.Creating().WithMessage(queueMessage(cr.Namespace, st.Behind, time.Since(st.QueuedSince))))
		return nil
	case !st.Done:
		obs.Phase = phaseOf(st.Progress.Status)
		cr.SetConditions(xpv2.Creating().WithMessage(truncate(progressMessage(obs, st.Progress.Status), maxMessageBytes)))
		return nil
	case st.Err == nil:
		e.completed(cr, st.Progress)
	default:
		e.failed(cr, st.Err)
	}
	if err := e.kube.Status().Update(ctx, cr); err != nil {
		if !refused(err) {
			// A conflict or an API server away: the next reconcile,
			// which finds the job still there, tries again.
			return fmt.Errorf("cannot record the restore's result: %w", err)
		}
		// The API server refuses this result whatever the retries, and
		// a job forgotten unrecorded would leave the Restore in its
		// running phase for ever. Record a minimal failure instead.
		unrecorded(cr, err)
		if err := e.kube.Status().Update(ctx, cr); err != nil {
			return fmt.Errorf("cannot record that the restore's result was refused: %w", err)
		}
	}
	e.runner.Forget(string(cr.UID))
	e.announce(cr, st.Progress)
	return nil
}

func (e *external) completed(cr *v1alpha1.Restore, res jobResult) {
	obs := &cr.Status.AtProvider
	now := metav1.NewTime(e.now().UTC())
	obs.Phase = v1alpha1.RestoreCompleted
	obs.CompletionTime = &now
	obs.Error = ""
	verified := len(res.Status.Collections) > 0
	for _, c := range res.Status.Collections {
		verified = verified && c.Verified
	}
	obs.Verification = &v1alpha1.Verification{Verified: verified, Time: &now, Message: verifiedMessage(res.Status)}
	cr.SetConditions(xpv2.Available(), warningCondition(obs.Warnings))
}

// warningCondition says whether a completed restore differs from its backup
// in ways that are not failures.
func warningCondition(ws []string) xpv2.Condition {
	c := xpv2.Condition{Type: v1alpha1.TypeWarning, Status: corev1.ConditionFalse, Reason: v1alpha1.ReasonNoWarnings, LastTransitionTime: metav1.Now()}
	if len(ws) > 0 {
		c.Status = corev1.ConditionTrue
		c.Reason = v1alpha1.ReasonCompletedWithWarnings
		c.Message = truncate("The restore completed with warnings: "+strings.Join(ws, "; "), maxMessageBytes)
	}
	return c
}

func failedCondition(reason xpv2.ConditionReason, msg string) xpv2.Condition {
	return xpv2.Condition{Type: xpv2.TypeReady, Status: corev1.ConditionFalse, Reason: reason, Message: truncate(msg, maxMessageBytes), LastTransitionTime: metav1.Now()}
}

// withAttempts is a failure's message, bounded, ending with the attempts it
// took.
func withAttempts(msg string, attempts int32) string {
	suffix := fmt.Sprintf(" (after %d attempts)", attempts)
	return truncate(msg, maxMessageBytes-len(suffix)) + suffix
}

// reasonNotRecorded is the Ready condition's reason for a restore whose
// result the API server refused to record.
const reasonNotRecorded xpv2.ConditionReason = "ResultNotRecorded"

// refused says whether the API server refuses a status write for what it
// holds, so that writing it again can never succeed: too large a request,
// or a value its schema does not allow.
func refused(err error) bool {
	return kerrors.IsRequestEntityTooLargeError(err) || kerrors.IsInvalid(err) || kerrors.IsBadRequest(err) ||
		// etcd's own limits, which the API server reports as an
		// internal error.
		kerrors.IsInternalError(err) && (strings.Contains(err.Error(), "request is too large") || strings.Contains(err.Error(), "larger than max"))
}

// unrecorded replaces a finished restore's result, which the API server
// refused, by a minimal failure that it accepts: the phase Failed, a short
// error, and none of the lists that may have made the status too large.
// The restore is over either way; its data stays in the target.
func unrecorded(cr *v1alpha1.Restore, cause error) {
	obs := &cr.Status.AtProvider
	outcome := "completed"
	if obs.Phase != v1alpha1.RestoreCompleted {
		outcome = "failed"
		if obs.Error != "" {
			outcome += " (" + truncate(obs.Error, maxCauseBytes/2) + ")"
		}
	}
	obs.Phase = v1alpha1.RestoreFailed
	obs.RestoredCollections = nil
	obs.Warnings = nil
	obs.Verification = nil
	obs.Error = truncate(fmt.Sprintf("the restore %s, but the API server refused to record its result: %s; the collections it restored are not listed here: check the target, then create a new Restore if needed",
		outcome, truncate(cause.Error(), maxCauseBytes/2)), maxMessageBytes)
	// A failed restore has no Warning condition: the warnings were dropped
	// with the rest.
	kept := cr.Status.Conditions[:0]
	for _, c := range cr.Status.Conditions {
		if c.Type != v1alpha1.TypeWarning {
			kept = append(kept, c)
		}
	}
	cr.Status.Conditions = kept
	cr.SetConditions(failedCondition(reasonNotRecorded, obs.Error))
}

func (e *external) failed(cr *v1alpha1.Restore, err error) {
	obs := &cr.Status.AtProvider
	// The use case's error text has no bound: keep its start, which says
	// what failed, and room for what follows.
	msg := truncate(err.Error(), maxCauseBytes)
	reason := reasonRestoreFailed
	var ue *usecase.Error
	if errors.As(err, &ue) && ue.Reason != "" {
		reason = xpv2.ConditionReason(ue.Reason)
	}
	switch {
	case errors.Is(err, context.Canceled):
		msg = "the restore was interrupted"
	case errors.Is(err, jobs.ErrQueueTimeout):
		msg += "; the restore will try again"
	}
	if !usecase.IsPermanent(err) && obs.Attempts < e.deps.MaxAttempts {
		// Pending: after its backoff, another attempt starts, which
		// resumes from the journal.
		obs.Phase = v1alpha1.RestorePending
		obs.Error = msg
		wait := attemptBackoff(e.deps.AttemptBackoff, obs.Attempts)
		cr.SetConditions(xpv2.Creating().WithMessage(truncate(fmt.Sprintf("Attempt %d of %d failed, retrying in %s: %s", obs.Attempts, e.deps.MaxAttempts, wait, msg), maxMessageBytes)))
		return
	}
	// apply copied the job's journal into the status, which also holds
	// it when the job ended before running.
	if lost := usecase.Lost(resumeRecord(obs.RestoredCollections)); len(lost) > 0 {
		msg += fmt.Sprintf("; collection %s was deleted to be replaced before the restore failed: its earlier data is lost, restore it from this or another backup", truncate(strings.Join(lost, ", "), maxCauseBytes/2))
	}
	if h := hint(string(reason)); h != "" {
		msg += "; " + h
	}
	obs.Phase = v1alpha1.RestoreFailed
	obs.Error = withAttempts(msg, obs.Attempts)
	cr.SetConditions(failedCondition(reason, obs.Error))
}

// announce emits the Events and metrics of a result, once it is persisted.
func (e *external) announce(cr *v1alpha1.Restore, res jobResult) {
	obs := &cr.Status.AtProvider
	labels := []string{cr.Namespace, metricCluster(cr)}
	switch obs.Phase {
	case v1alpha1.RestoreCompleted:
		var bytes int64
		if obs.Progress != nil {
			bytes = obs.Progress.BytesDone
		}
		if e.metrics != nil {
			e.metrics.Bytes.WithLabelValues(labels...).Add(float64(bytes))
			e.metrics.LastSuccess.WithLabelValues(labels...).Set(float64(obs.CompletionTime.Unix()))
			if obs.StartTime != nil {
				e.metrics.Duration.WithLabelValues(labels...).Observe(obs.CompletionTime.Sub(obs.StartTime.Time).Seconds())
			}
		}
		for i, c := range res.Status.Collections {
			if i == maxCollectionEvents {
				break
			}
			e.recorder.Event(cr, event.Normal(reasonCollectionRestored, collectionMessage(c)))
		}
		msg := fmt.Sprintf("Restored %d collections (%d shards, %s) from %s", len(res.Status.Collections), res.Status.ShardsTotal, humanBytes(bytes), obs.S3Path)
		if len(obs.Warnings) > 0 {
			msg += fmt.Sprintf(", with %d warnings", len(obs.Warnings))
		}
		e.recorder.Event(cr, event.Normal(reasonCompleted, msg))
	case v1alpha1.RestoreFailed:
		if e.metrics != nil {
			e.metrics.Failures.WithLabelValues(labels...).Inc()
		}
		e.recorder.Event(cr, event.Warning(reasonFailed, errors.New(truncate(obs.Error, maxEventBytes))))
	default:
		e.recorder.Event(cr, event.Warning(reasonRetrying, errors.New(truncate(obs.Error, maxEventBytes))))
	}
}

func collectionMessage(c usecase.CollectionStatus) string {
	msg := "Restored collection " + c.Name
	if c.Source != c.Name {
		msg += " from backup collection " + c.Source
	}
	msg += fmt.Sprintf(": %d shards", c.ShardsTotal)
	if c.Points != nil {
		msg += fmt.Sprintf(", %d points (the backup has %d)", *c.Points, c.ExpectedPoints)
	}
	if c.Verified {
		msg += ", verified"
		if c.SampledPoints > 0 {
			msg += fmt.Sprintf(" with %d sampled points", c.SampledPoints)
		}
	}
	return msg
}

// metricCluster is the cluster label of a restore's metrics: the name of its
// target QdrantCluster, or "connection" for an explicit connection. A URL's
// host, which a tenant chooses freely, never becomes a label.
func metricCluster(cr *v1alpha1.Restore) string {
	if r := cr.Spec.ForProvider.TargetClusterRef; r != nil {
		return r.Name
	}
	return "connection"
}

func (e *external) Update(context.Context, *v1alpha1.Restore) (managed.ExternalUpdate, error) {
	// A restore runs once; the schema makes its parameters immutable.
	return managed.ExternalUpdate{}, nil
}

// Delete stops the restore's job, if any. What a restore restored is the
// target's data, not the Restore's: it stays.
func (e *external) Delete(_ context.Context, cr *v1alpha1.Restore) (managed.ExternalDelete, error) {
	e.runner.Cancel(string(cr.UID))
	return managed.ExternalDelete{}, nil
}

func (e *external) Disconnect(context.Context) error { return nil }

// stoppedMessage says what a Restore deleted before it completed leaves in
// its target: the collections it created, not verified.
func stoppedMessage(obs *v1alpha1.RestoreObservation) string {
	var left []string
	for _, c := range obs.RestoredCollections {
		if c.Created && !c.Verified {
			left = append(left, c.Name)
		}
	}
	if len(left) == 0 {
		return "The Restore was deleted before it completed; it had created no collection in the target"
	}
	if len(left) > 10 {
		left = append(left[:10], fmt.Sprintf("and %d more", len(left)-10))
	}
	return "The Restore was deleted before it completed: collections " + strings.Join(left, ", ") + " that it created are left in the target, not verified; delete them or restore again under another name"
}
