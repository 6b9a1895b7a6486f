package restore_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
)

// A Backup made by the Backup controller, restored into a fresh one-node
// cluster: every collection is created, every shard recovered, counts and
// sampled points verified, and the replication factor the single node cannot
// hold is capped with a warning.
func TestBackupThenRestoreIntoFreshCluster(t *testing.T) {
	fixtures(t)
	p := startProvider(t)
	defer p.stop()
	completedBackup(t, "nightly", "products", "reviews")
	target := newTarget(t, "fresh", 1)

	apply(t, newRestore("from-nightly", fromBackup("nightly"), into("fresh")))
	r := waitFor(t, "from-nightly", 90*time.Second, "Ready", ready)
	if got := argoHealth(t, r); got != "Healthy" {
		t.Errorf("Argo CD health of the completed Restore: %s, want Healthy", got)
	}
	obs := r.Status.AtProvider
	if obs.Phase != v1alpha1.RestoreCompleted || obs.CompletionTime == nil || obs.StartTime == nil || obs.Attempts != 1 {
		t.Errorf("phase %s, completion %v, start %v, attempts %d", obs.Phase, obs.CompletionTime, obs.StartTime, obs.Attempts)
	}
	if obs.Progress == nil || obs.Progress.ShardsDone != 7 || obs.Progress.ShardsTotal != 7 || obs.Progress.BytesDone == 0 {
		t.Errorf("progress %+v, want 7 of 7 shards and their bytes", obs.Progress)
	}
	if obs.S3Path != "s3://"+bucket+"/test/team-a/search/nightly/" || obs.SourceQdrantVersion != "1.19.0" || obs.TargetQdrantVersion != "1.19.0" {
		t.Errorf("path %q, versions %q -> %q", obs.S3Path, obs.SourceQdrantVersion, obs.TargetQdrantVersion)
	}
	if obs.Verification == nil || !obs.Verification.Verified {
		t.Errorf("verification %+v", obs.Verification)
	}
	want := map[string]int{"products": 2000, "reviews": 500}
	for _, c := range obs.RestoredCollections {
		n, ok := want[c.Name]
		if !ok {
			t.Errorf("restored an unexpected collection %s", c.Name)
			continue
		}
		delete(want, c.Name)
		if c.Points == nil || c.ExpectedPoints == nil || *c.Points != int64(n) || *c.ExpectedPoints != int64(n) {
			t.Errorf("%s: points %v of %v, want %d", c.Name, c.Points, c.ExpectedPoints, n)
		}
		if !c.Verified || c.SourceName != c.Name || c.ShardsRestored != c.ShardsTotal || !c.Created || len(c.RecoveredShards) != int(c.ShardsTotal) {
			t.Errorf("%s: %+v", c.Name, c)
		}
		if got := count(t, target, c.Name); got != n {
			t.Errorf("%s: the target counts %d points, want %d", c.Name, got, n)
		}
	}
	if len(want) > 0 {
		t.Errorf("collections not restored: %v", want)
	}
	// products has a replication factor of 2; the target has one node.
	w := r.GetCondition(v1alpha1.TypeWarning)
	if w.Status != corev1.ConditionTrue || w.Reason != v1alpha1.ReasonCompletedWithWarnings || !strings.Contains(w.Message, "replication factor 2 capped at 1") {
		t.Errorf("Warning condition: %+v; warnings %q", w, obs.Warnings)
	}
	evs := waitForEvents(t, "from-nightly", "RestoreStarted", "CollectionRestored", "RestoreCompleted")
	if n := len(evs["CollectionRestored"]); n != 2 {
		t.Errorf("%d CollectionRestored events, want 2", n)
	}
	if got := p.metric(t, "qdrantops_restore_bytes_total", "fresh"); got != float64(obs.Progress.BytesDone) {
		t.Errorf("restore_bytes_total: %v, want %d", got, obs.Progress.BytesDone)
	}
	if got := p.metric(t, "qdrantops_restore_last_success_timestamp_seconds", "fresh"); got != float64(obs.CompletionTime.Unix()) {
		t.Errorf("restore_last_success_timestamp_seconds: %v, want %d", got, obs.CompletionTime.Unix())
	}
}

// A Restore of a Backup that is not there yet waits, saying so, without
// failing and without a hot loop, and starts once the Backup completes.
func TestRestoreWaitsForItsBackup(t *testing.T) {
	fixtures(t)
	p := startProvider(t)
	defer p.stop()
	target := newTarget(t, "patient", 1)

	apply(t, newRestore("early", fromBackup("late"), into("patient")))
	waitFor(t, "early", 30*time.Second, "waiting", func(r *v1alpha1.Restore) bool {
		return strings.Contains(r.GetCondition(xpv2.TypeReady).Message, "Waiting for Backup late: it does not exist")
	})
	// Several looks later it still waits, and nothing failed.
	time.Sleep(3 * time.Second)
	r := getRestore(t, "early")
	if r.Status.AtProvider.Phase != v1alpha1.RestorePending || r.Status.AtProvider.Attempts != 0 || r.GetCondition(xpv2.TypeSynced).Status != corev1.ConditionTrue {
		t.Errorf("waiting restore: phase %s, attempts %d, Synced %+v", r.Status.AtProvider.Phase, r.Status.AtProvider.Attempts, r.GetCondition(xpv2.TypeSynced))
	}
	for _, e := range events(t, "early") {
		if e.Type == corev1.EventTypeWarning {
			t.Errorf("a waiting restore emitted a warning: %s %s", e.Reason, e.Message)
		}
	}
	if got := count(t, target, "reviews"); got != -1 {
		t.Errorf("the target has a reviews collection before the backup exists")
	}

	apply(t, newBackup("late", []string{"reviews"}))
	r = waitFor(t, "early", 90*time.Second, "Ready", ready)
	if got := count(t, target, "reviews"); got != 500 {
		t.Errorf("restored reviews: %d points, want 500", got)
	}
	if r.Status.AtProvider.Attempts != 1 {
		t.Errorf("attempts: %d, want 1: waiting is not an attempt", r.Status.AtProvider.Attempts)
	}
}

// A restore and a backup of the same Qdrant cluster never run at once: the
// restore queues behind the backup, and says so.
func TestRestoreQueuesBehindBackupOfItsCluster(t *testing.T) {
	fixtures(t)
	p := startProvider(t)
	defer p.stop()
	completedBackup(t, "nightly", "products", "reviews")
	// The backup takes about eight seconds, so that the restore is seen
	// waiting even on a loaded machine (at three seconds, a loaded CI run
	// once saw the backup finish before the restore was first reconciled).
	emu.SetSnapshotPadding("reviews", 16<<20)
	emu.SlowStreams(2 << 20)
	defer emu.SetSnapshotPadding("reviews", 0)
	defer emu.SlowStreams(0)

	apply(t, newBackup("slow", []string{"reviews"}))
	waitForBackup(t, "slow", 60*time.Second, "InProgress", func(b *v1alpha1.Backup) bool {
		return b.Status.AtProvider.Phase == v1alpha1.BackupInProgress
	})
	// Into the backed-up cluster itself, under another name.
	apply(t, newRestore("behind", fromBackup("nightly"), into(source), only("reviews"), func(r *v1alpha1.Restore) {
		r.Spec.ForProvider.CollectionMappings = []v1alpha1.CollectionMapping{{From: "reviews", To: "reviews-copy"}}
	}))
	r := waitFor(t, "behind", 60*time.Second, "Queued", func(r *v1alpha1.Restore) bool {
		return r.Status.AtProvider.Phase == v1alpha1.RestoreQueued
	})
	if msg := r.GetCondition(xpv2.TypeReady).Message; !strings.Contains(msg, "Waiting for slow to finish") {
		t.Errorf("queued restore: want a condition naming the backup ahead, got %q", msg)
	}
	r = waitFor(t, "behind", 90*time.Second, "Ready", ready)
	b := waitForBackup(t, "slow", 60*time.Second, "Ready", func(b *v1alpha1.Backup) bool {
		return b.GetCondition(xpv2.TypeReady).Status == corev1.ConditionTrue
	})
	// Times are stored to the second.
	if r.Status.AtProvider.StartTime.Before(b.Status.AtProvider.CompletionTime) {
		t.Errorf("the restore started at %v, before the backup completed at %v", r.Status.AtProvider.StartTime, b.Status.AtProvider.CompletionTime)
	}
	if got := count(t, emu, "reviews-copy"); got != 500 {
		t.Errorf("reviews-copy: %d points, want 500", got)
	}
}
