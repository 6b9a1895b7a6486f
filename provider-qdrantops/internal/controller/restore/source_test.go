package restore_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

// Under the Fail policy an existing collection is left untouched and the
// restore fails for good, naming it and saying what to do.
func TestFailPolicyLeavesExistingCollection(t *testing.T) {
	fixtures(t)
	p := startProvider(t)
	defer p.stop()
	completedBackup(t, "nightly", "products", "reviews")
	target := newTarget(t, "occupied", 1)
	if err := target.AddSample(qdrantemu.Sample{Name: "reviews", ShardNumber: 1, Points: 7, Dim: 4}); err != nil {
		t.Fatal(err)
	}

	apply(t, newRestore("clash", fromBackup("nightly"), into("occupied")))
	r := waitFor(t, "clash", 60*time.Second, "Failed", failed)
	if got := argoHealth(t, r); got != "Degraded" {
		t.Errorf("Argo CD health of the failed Restore: %s, want Degraded", got)
	}
	c := r.GetCondition(xpv2.TypeReady)
	if c.Status != corev1.ConditionFalse || c.Reason != "CollectionExists" ||
		!strings.Contains(c.Message, "collection reviews already exists in the target and was left untouched") ||
		!strings.Contains(c.Message, "existingCollectionPolicy: Replace") {
		t.Errorf("Ready: %+v", c)
	}
	if r.Status.AtProvider.Attempts != 1 {
		t.Errorf("a permanent failure was tried %d times", r.Status.AtProvider.Attempts)
	}
	// Nothing was created, deleted or written in the target.
	for _, q := range target.Requests() {
		if q.Method != http.MethodGet {
			t.Errorf("the failed restore changed the target: %s %s", q.Method, q.Path)
		}
	}
	if got := count(t, target, "reviews"); got != 7 {
		t.Errorf("the existing reviews holds %d points, want its 7", got)
	}
	if got := count(t, target, "products"); got != -1 {
		t.Errorf("products was restored (%d points) though the restore failed before anything", got)
	}
	waitForEvents(t, "clash", "RestoreFailed")
	// It stays Failed: nothing starts it again.
	time.Sleep(3 * time.Second)
	if r := getRestore(t, "clash"); !failed(r) || r.Status.AtProvider.Attempts != 1 {
		t.Errorf("a failed restore came back: phase %s, attempts %d", r.Status.AtProvider.Phase, r.Status.AtProvider.Attempts)
	}
}

// A backup folder that no Backup object describes is restored from its raw
// S3 path, under a new name.
func TestRestoreFromRawS3Path(t *testing.T) {
	fixtures(t)
	p := startProvider(t)
	defer p.stop()
	ctx := context.Background()
	// A Backup whose objects outlive it, as after a disaster or a move to
	// another Kubernetes cluster.
	apply(t, newBackup("gone", []string{"reviews"}, func(b *v1alpha1.Backup) {
		b.Spec.ManagementPolicies = xpv2.ManagementPolicies{xpv2.ManagementActionObserve, xpv2.ManagementActionCreate, xpv2.ManagementActionUpdate, xpv2.ManagementActionLateInitialize}
	}))
	b := waitForBackup(t, "gone", 60*time.Second, "Ready", func(b *v1alpha1.Backup) bool {
		return b.GetCondition(xpv2.TypeReady).Status == corev1.ConditionTrue
	})
	if err := env.Client.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "gone"}, &v1alpha1.Backup{}); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the orphaned Backup is not gone")
		}
	}
	target := newTarget(t, "elsewhere", 1)

	apply(t, newRestore("raw", into("elsewhere"), func(r *v1alpha1.Restore) {
		r.Spec.ForProvider.Source = &v1alpha1.RestoreSource{S3: v1alpha1.S3BackupPath{Bucket: bucket, Path: "test/team-a/search/gone"}}
		r.Spec.ForProvider.CollectionMappings = []v1alpha1.CollectionMapping{{From: "reviews", To: "reviews-restored"}}
	}))
	r := waitFor(t, "raw", 60*time.Second, "Ready", ready)
	cols := r.Status.AtProvider.RestoredCollections
	if len(cols) != 1 || cols[0].Name != "reviews-restored" || cols[0].SourceName != "reviews" || !cols[0].Verified || cols[0].Points == nil || *cols[0].Points != 500 {
		t.Errorf("restored collections: %+v", cols)
	}
	if cols[0].SampledPoints == 0 {
		t.Errorf("no sampled point was compared: %+v", cols[0])
	}
	// A restore that matches its backup in every way warns of nothing.
	if w := r.GetCondition(v1alpha1.TypeWarning); w.Status != corev1.ConditionFalse || len(r.Status.AtProvider.Warnings) > 0 {
		t.Errorf("Warning condition %+v, warnings %q", w, r.Status.AtProvider.Warnings)
	}
	if got := count(t, target, "reviews-restored"); got != 500 {
		t.Errorf("reviews-restored: %d points, want 500", got)
	}
	if r.Status.AtProvider.S3Path != "s3://"+bucket+"/test/team-a/search/gone/" {
		t.Errorf("path %q", r.Status.AtProvider.S3Path)
	}
}

// With a ClusterProviderConfig that enforces a key prefix per namespace, a
// raw S3 path is read below the tenant's prefix: another tenant's backup, or
// one outside every prefix, cannot be reached, whatever the path says.
func TestRawS3PathStaysInTenantPrefix(t *testing.T) {
	fixtures(t)
	p := startProvider(t)
	defer p.stop()
	ctx := context.Background()
	// Outside every tenant's prefix: the ProviderConfig of team-a wrote it.
	completedBackup(t, "nightly", "products", "reviews")
	apply(t,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-admin", Namespace: providerAccount.Namespace}, StringData: map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}},
		&v1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "tenants"}, Spec: v1alpha1.ClusterProviderConfigSpec{
			ProviderConfigSpec: v1alpha1.ProviderConfigSpec{
				S3: v1alpha1.S3Defaults{Endpoint: srv.Endpoint, Region: srv.Region, UsePathStyle: true},
				Credentials: v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceSecret, SecretRef: &v1alpha1.CredentialsSecretRef{
					S3CredentialsSecretRef: v1alpha1.S3CredentialsSecretRef{Name: "s3-admin"}, Namespace: providerAccount.Namespace,
				}},
			},
			Tenancy: &v1alpha1.Tenancy{AllowedBuckets: []string{bucket}, KeyPrefix: "tenants/{{namespace}}/"},
		}},
	)
	tenant := func(r *v1alpha1.Restore) {
		r.Spec.ProviderConfigReference = &xpv2.ProviderConfigReference{Kind: v1alpha1.ClusterProviderConfigKind, Name: "tenants"}
	}
	target := newTarget(t, "tenant-target", 1)

	// The schema refuses a path that climbs.
	climb := newRestore("climb", tenant, into("tenant-target"), func(r *v1alpha1.Restore) {
		r.Spec.ForProvider.Source = &v1alpha1.RestoreSource{S3: v1alpha1.S3BackupPath{Bucket: bucket, Path: "../../test/team-a/search/nightly"}}
	})
	if err := env.Client.Create(ctx, climb); err == nil || !strings.Contains(err.Error(), "path must not have '.' or '..' segments") {
		t.Errorf("a climbing path: want refused, got %v", err)
	}

	// The backup's own path, as a tenant would copy it from the bucket.
	apply(t, newRestore("escape", tenant, into("tenant-target"), func(r *v1alpha1.Restore) {
		r.Spec.ForProvider.Source = &v1alpha1.RestoreSource{S3: v1alpha1.S3BackupPath{Bucket: bucket, Path: "test/team-a/search/nightly"}}
	}))
	r := waitFor(t, "escape", 60*time.Second, "Failed", failed)
	c := r.GetCondition(xpv2.TypeReady)
	if c.Reason != "ManifestNotFound" || !strings.Contains(c.Message, "tenants/team-a/test/team-a/search/nightly/manifest.json holds no manifest") {
		t.Errorf("a path outside the tenant's prefix: Ready %+v", c)
	}
	if r.Status.AtProvider.S3Path != "s3://"+bucket+"/tenants/team-a/test/team-a/search/nightly/" {
		t.Errorf("path %q", r.Status.AtProvider.S3Path)
	}
	for _, q := range target.Requests() {
		if q.Method != http.MethodGet {
			t.Errorf("a restore that found no backup changed the target: %s %s", q.Method, q.Path)
		}
	}

	// A bucket the administrator did not allow is refused before anything.
	apply(t, newRestore("other-bucket", tenant, into("tenant-target"), func(r *v1alpha1.Restore) {
		r.Spec.ForProvider.Source = &v1alpha1.RestoreSource{S3: v1alpha1.S3BackupPath{Bucket: "someone-elses", Path: "x/y"}}
	}))
	waitFor(t, "other-bucket", 30*time.Second, "Synced False", func(r *v1alpha1.Restore) bool {
		c := r.GetCondition(xpv2.TypeSynced)
		return c.Status == corev1.ConditionFalse && strings.Contains(c.Message, `bucket "someone-elses" is not allowed by ClusterProviderConfig tenants`)
	})
}
