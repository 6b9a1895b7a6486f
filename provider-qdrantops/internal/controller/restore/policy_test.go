package restore_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

// holedBackup is a completed Backup of reviews whose one shard object was
// deleted from the bucket afterwards: restoring it fails at that shard.
func holedBackup(t *testing.T) {
	t.Helper()
	completedBackup(t, "holed", "reviews")
	if _, err := srv.Client().DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("test/team-a/search/holed/collections/reviews/shards/0.snapshot")}); err != nil {
		t.Fatal(err)
	}
}

func replace(r *v1alpha1.Restore) {
	r.Spec.ForProvider.ExistingCollectionPolicy = v1alpha1.ExistingCollectionReplace
}

// Under the Replace policy an existing collection is deleted first and
// restored from the backup; when the restore fails after deleting it, the
// failure says that its earlier data is lost.
func TestReplacePolicy(t *testing.T) {
	fixtures(t)
	p := startProvider(t)
	defer p.stop()
	completedBackup(t, "nightly", "products", "reviews")
	holedBackup(t)
	occupied := func(name string) *qdrantemu.Cluster {
		c := newTarget(t, name, 1)
		if err := c.AddSample(qdrantemu.Sample{Name: "reviews", ShardNumber: 1, Points: 7, Dim: 4}); err != nil {
			t.Fatal(err)
		}
		return c
	}

	t.Run("Replaced", func(t *testing.T) {
		target := occupied("replace-target")
		apply(t, newRestore("replacing", fromBackup("nightly"), into("replace-target"), only("reviews"), replace))
		r := waitFor(t, "replacing", 60*time.Second, "Ready", ready)
		c := r.Status.AtProvider.RestoredCollections
		if len(c) != 1 || !c[0].Replaced || !c[0].Created || !c[0].Verified {
			t.Errorf("replaced reviews: %+v", c)
		}
		if got := count(t, target, "reviews"); got != 500 {
			t.Errorf("reviews holds %d points, want the backup's 500", got)
		}
	})

	t.Run("Lost", func(t *testing.T) {
		target := occupied("lost-target")
		apply(t, newRestore("losing", fromBackup("holed"), into("lost-target"), replace))
		r := waitFor(t, "losing", 90*time.Second, "Failed", failed)
		msg := r.GetCondition(xpv2.TypeReady).Message
		for _, want := range []string{"shard 0 of collection reviews", "collection reviews was deleted to be replaced before the restore failed: its earlier data is lost"} {
			if !strings.Contains(msg, want) {
				t.Errorf("Ready: want %q in %q", want, msg)
			}
		}
		// No collection is left looking restored.
		if got := count(t, target, "reviews"); got != -1 {
			t.Errorf("a failed restore left reviews with %d points", got)
		}
	})
}

// Deleting a Restore never touches data: a running one stops where it is,
// keeping what it restored so far, and a completed one leaves its
// collections as they are.
func TestDeletingARestoreKeepsItsData(t *testing.T) {
	fixtures(t)
	p := startProvider(t)
	defer p.stop()
	ctx := context.Background()
	completedBackup(t, "nightly", "products", "reviews")

	t.Run("Running", func(t *testing.T) {
		target, recovers := slowTarget(t, "deleted-running")
		apply(t, newRestore("stopped", fromBackup("nightly"), into("deleted-running"), only("products"), func(r *v1alpha1.Restore) {
			r.Spec.ForProvider.Parallelism = ptrTo(int32(1))
		}))
		r := waitFor(t, "stopped", 60*time.Second, "two shards journaled", func(r *v1alpha1.Restore) bool {
			c := r.Status.AtProvider.RestoredCollections
			return len(c) == 1 && len(c[0].RecoveredShards) >= 2
		})
		if err := env.Client.Delete(ctx, r); err != nil {
			t.Fatal(err)
		}
		waitGone(t, "stopped")
		stopped := recovers.Load()
		time.Sleep(2 * time.Second)
		if got := recovers.Load(); got != stopped || got >= 6 {
			t.Errorf("recoveries went on after the Restore was deleted: %d, then %d", stopped, got)
		}
		if got := count(t, target, "products"); got == -1 {
			t.Error("deleting a running Restore deleted the collection it was restoring")
		}
		// Its status, which listed the collection, is gone: an Event says
		// what was left behind.
		evs := waitForEvents(t, "stopped", "RestoreStopped")
		if e := evs["RestoreStopped"]; len(e) != 1 || !strings.Contains(e[0].Message, "collections products that it created are left in the target, not verified") {
			t.Errorf("a deleted running Restore: want one RestoreStopped event naming products, got %+v", e)
		}
	})

	t.Run("Completed", func(t *testing.T) {
		target := newTarget(t, "deleted-done", 1)
		apply(t, newRestore("finished", fromBackup("nightly"), into("deleted-done"), only("reviews")))
		r := waitFor(t, "finished", 60*time.Second, "Ready", ready)
		before := len(target.Requests())
		if err := env.Client.Delete(ctx, r); err != nil {
			t.Fatal(err)
		}
		waitGone(t, "finished")
		if got := count(t, target, "reviews"); got != 500 {
			t.Errorf("reviews after its Restore was deleted: %d points, want 500", got)
		}
		for _, q := range target.Requests()[before:] {
			if q.Method != http.MethodGet && !strings.HasSuffix(q.Path, "/points/count") {
				t.Errorf("deleting a completed Restore changed the target: %s %s", q.Method, q.Path)
			}
		}
	})
}

func waitGone(t *testing.T, name string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &v1alpha1.Restore{})
		if kerrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("restore %s not gone after its deletion: %v\nlogs:\n%s", name, err, tail(mine(name), 3000))
		}
	}
}
