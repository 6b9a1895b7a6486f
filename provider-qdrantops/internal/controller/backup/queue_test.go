package backup_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
)

func TestOneBackupPerClusterAtATime(t *testing.T) {
	fixtures(t)
	stop := startProvider(t)
	defer stop()
	// The first backup takes about eight seconds: several polls see the
	// second one waiting for it.
	emu.SetSnapshotPadding("reviews", 64<<20)
	emu.SlowStreams(8 << 20)
	defer emu.SetSnapshotPadding("reviews", 0)
	defer emu.SlowStreams(0)

	only := func(b *v1alpha1.Backup) { b.Spec.ForProvider.Collections = []v1alpha1.CollectionName{"reviews"} }
	apply(t, newBackup("first", only))
	waitFor(t, "first", 60*time.Second, "InProgress", func(b *v1alpha1.Backup) bool {
		return b.Status.AtProvider.Phase == v1alpha1.BackupInProgress
	})
	apply(t, newBackup("second", only))
	second := waitFor(t, "second", 60*time.Second, "Queued", func(b *v1alpha1.Backup) bool {
		return b.Status.AtProvider.Phase == v1alpha1.BackupQueued
	})
	if msg := condition(second, xpv2.TypeReady).Message; !strings.Contains(msg, "Waiting for first to finish") {
		t.Errorf("queued backup: want a condition naming the running one, got %q", msg)
	}
	for _, n := range []string{"first", "second"} {
		waitFor(t, n, 60*time.Second, "Ready", func(b *v1alpha1.Backup) bool {
			return condition(b, xpv2.TypeReady).Status == corev1.ConditionTrue
		})
	}
	first, second := get(t, "first"), get(t, "second")
	// Times are stored to the second.
	if second.Status.AtProvider.StartTime.Before(first.Status.AtProvider.CompletionTime) {
		t.Errorf("the second backup started at %v, before the first completed at %v", second.Status.AtProvider.StartTime, first.Status.AtProvider.CompletionTime)
	}
}

// A Backup past its retention loses its objects and says Expired. The
// Backup itself stays for its owner to delete: the provider's role, as
// Crossplane grants it, has no delete on its own kinds.
func TestExpiredBackupDeletesItsObjects(t *testing.T) {
	fixtures(t)
	stop := startProvider(t)
	defer stop()
	ctx := context.Background()
	apply(t, newBackup("expiring", func(b *v1alpha1.Backup) {
		b.Spec.ForProvider.Collections = []v1alpha1.CollectionName{"reviews"}
		b.Spec.ForProvider.RetentionDays = ptrTo(int32(7))
	}))
	b := waitFor(t, "expiring", 60*time.Second, "Ready", func(b *v1alpha1.Backup) bool {
		return condition(b, xpv2.TypeReady).Status == corev1.ConditionTrue
	})
	if len(objects(t, "test/team-a/search/expiring/")) == 0 {
		t.Fatal("no objects stored")
	}
	// Eight days pass.
	old := metav1.NewTime(time.Now().Add(-8 * 24 * time.Hour))
	b.Status.AtProvider.CompletionTime = &old
	if err := env.Client.Status().Update(ctx, b); err != nil {
		t.Fatal(err)
	}
	b = waitFor(t, "expiring", 30*time.Second, "Expired", func(b *v1alpha1.Backup) bool {
		return b.Status.AtProvider.Phase == v1alpha1.BackupExpired
	})
	if left := objects(t, "test/team-a/search/expiring/"); len(left) != 0 {
		t.Errorf("objects of the expired backup left: %d", len(left))
	}
	if c := condition(b, xpv2.TypeReady); c.Status != corev1.ConditionFalse || !strings.Contains(c.Message, "expired after its retention of 7 days") {
		t.Errorf("Ready of an expired backup: %+v", c)
	}
	// It stays Expired: nothing starts it again.
	time.Sleep(3 * time.Second)
	if b := get(t, "expiring"); b.Status.AtProvider.Phase != v1alpha1.BackupExpired || len(objects(t, "test/team-a/search/expiring/")) != 0 {
		t.Errorf("an expired backup came back: phase %s", b.Status.AtProvider.Phase)
	}
	// Its owner deletes it.
	if err := env.Client.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "expiring", 30*time.Second, "an expired Backup could not be deleted")
}
