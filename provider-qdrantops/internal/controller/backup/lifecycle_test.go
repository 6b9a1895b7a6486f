package backup_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
)

func objects(t *testing.T, prefix string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	res, err := srv.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Contents {
		out[aws.ToString(o.Key)] = aws.ToInt64(o.Size)
	}
	return out
}

func TestBackupLifecycle(t *testing.T) {
	fixtures(t)
	stop := startProvider(t)
	defer stop()
	ctx := context.Background()

	apply(t, newBackup("nightly"))
	b := waitFor(t, "nightly", 60*time.Second, "Ready", func(b *v1alpha1.Backup) bool {
		return condition(b, xpv2.TypeReady).Status == corev1.ConditionTrue
	})
	obs := b.Status.AtProvider
	if obs.Phase != v1alpha1.BackupCompleted || obs.Progress == nil || obs.Progress.ShardsDone != 7 || obs.Progress.ShardsTotal != 7 {
		t.Errorf("completed backup: phase %s, progress %+v", obs.Phase, obs.Progress)
	}
	if obs.Verification == nil || !obs.Verification.Verified || obs.ManifestKey != "test/team-a/search/nightly/manifest.json" || obs.S3Path != "s3://qdrant-backups/test/team-a/search/nightly/" {
		t.Errorf("completed backup: verification %+v, manifest %q, path %q", obs.Verification, obs.ManifestKey, obs.S3Path)
	}
	shards := 0
	for _, c := range obs.Collections {
		shards += int(c.ShardsDone)
		if c.ShardsDone != c.ShardNumber || c.SizeBytes == 0 {
			t.Errorf("%s: incomplete summary %+v", c.Name, c)
		}
	}
	if shards != 7 || obs.Size == "" || obs.StartTime == nil || obs.CompletionTime == nil {
		t.Errorf("status counts %d shards, size %q, times %v %v", shards, obs.Size, obs.StartTime, obs.CompletionTime)
	}
	// The manifest in the bucket agrees with the status.
	res, err := srv.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(obs.ManifestKey)})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	m, err := manifest.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Collections {
		var st v1alpha1.CollectionBackup
		for _, sc := range obs.Collections {
			if sc.Name == c.Name {
				st = sc
			}
		}
		var size int64
		for _, s := range c.Shards {
			size += s.SizeBytes
			if len(s.SHA256) != 64 || s.SizeBytes == 0 || s.SourcePeer == 0 {
				t.Errorf("%s shard %d: incomplete manifest entry %+v", c.Name, s.ID, s)
			}
		}
		if int(st.ShardsDone) != len(c.Shards) || st.SizeBytes != size {
			t.Errorf("%s: status %+v, manifest %d shards of %d bytes", c.Name, st, len(c.Shards), size)
		}
	}
	// Events are sent after the status they tell of is persisted, and
	// reach the apiserver a moment later.
	reasons := map[string]bool{}
	for deadline := time.Now().Add(10 * time.Second); (!reasons["BackupStarted"] || !reasons["BackupCompleted"]) && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, e := range events(t, "nightly") {
			reasons[e.Reason] = true
		}
	}
	for _, r := range []string{"BackupStarted", "BackupCompleted"} {
		if !reasons[r] {
			t.Errorf("no %s event; got %v", r, reasons)
		}
	}

	// Deleting the Backup deletes its objects.
	if len(objects(t, "test/team-a/search/nightly/")) == 0 {
		t.Fatal("no objects to delete")
	}
	if err := env.Client.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "nightly"}, &v1alpha1.Backup{})
		if kerrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			st, _ := json.MarshalIndent(get(t, "nightly"), "", " ")
			t.Fatalf("Backup not gone after delete: %v\n%s\nobjects: %v\nlogs:\n%s", err, st, objects(t, "test/team-a/search/nightly/"), tail(logs.String(), 6000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if left := objects(t, "test/team-a/search/nightly/"); len(left) != 0 {
		t.Errorf("objects left after deleting the Backup: %v", left)
	}
}

func TestOrphanedBackupKeepsObjects(t *testing.T) {
	fixtures(t)
	stop := startProvider(t)
	defer stop()
	ctx := context.Background()
	apply(t, newBackup("orphan", func(b *v1alpha1.Backup) {
		b.Spec.ManagementPolicies = xpv2.ManagementPolicies{xpv2.ManagementActionObserve, xpv2.ManagementActionCreate, xpv2.ManagementActionUpdate, xpv2.ManagementActionLateInitialize}
		b.Spec.ForProvider.Collections = []v1alpha1.CollectionName{"reviews"}
	}))
	b := waitFor(t, "orphan", 60*time.Second, "Ready", func(b *v1alpha1.Backup) bool {
		return condition(b, xpv2.TypeReady).Status == corev1.ConditionTrue
	})
	before := objects(t, "test/team-a/search/orphan/")
	if err := env.Client.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "orphan", 30*time.Second, "orphaned Backup not gone")
	after := objects(t, "test/team-a/search/orphan/")
	if len(after) == 0 || len(after) != len(before) {
		t.Errorf("orphaned backup: objects before %d, after %d; want them kept", len(before), len(after))
	}
	for k := range after {
		if strings.Contains(k, "/products/") {
			t.Errorf("backup of reviews stored %s", k)
		}
	}
}

// An orphaned Backup deleted while it runs stops running: crossplane-runtime
// does not call Observe or Delete for it, so without a watch on its deletion
// the job would go on writing for a resource that no longer exists.
func TestOrphanDeletedMidBackupStopsItsJob(t *testing.T) {
	fixtures(t)
	stop := startProvider(t)
	defer stop()
	ctx := context.Background()
	emu.SetSnapshotPadding("products", 8<<20)
	emu.SlowStreams(8 << 20)
	defer emu.SetSnapshotPadding("products", 0)
	defer emu.SlowStreams(0)
	apply(t, newBackup("orphan-running", func(b *v1alpha1.Backup) {
		b.Spec.ManagementPolicies = xpv2.ManagementPolicies{xpv2.ManagementActionObserve, xpv2.ManagementActionCreate, xpv2.ManagementActionUpdate, xpv2.ManagementActionLateInitialize}
		b.Spec.ForProvider.Collections = []v1alpha1.CollectionName{"products"}
		b.Spec.ForProvider.Parallelism = ptr.To[int32](1)
	}))
	b := waitFor(t, "orphan-running", 60*time.Second, "one shard done", func(b *v1alpha1.Backup) bool {
		p := b.Status.AtProvider.Progress
		return p != nil && p.ShardsDone >= 1
	})
	if err := env.Client.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "orphan-running", 30*time.Second, "orphaned Backup not gone")
	// Six shards of 8 MiB at 8 MiB/s, one at a time: a job left running
	// would write its manifest well within this wait.
	settled := objects(t, "test/team-a/search/orphan-running/")
	time.Sleep(10 * time.Second)
	after := objects(t, "test/team-a/search/orphan-running/")
	if _, ok := after["test/team-a/search/orphan-running/manifest.json"]; ok {
		t.Error("the job of a deleted Backup went on and wrote its manifest")
	}
	if len(after) > len(settled)+2 { // a claim or a sidecar in flight at the deletion
		t.Errorf("the job of a deleted Backup went on writing: %d objects at the deletion, %d later", len(settled), len(after))
	}
}

func TestBadInput(t *testing.T) {
	fixtures(t)
	stop := startProvider(t)
	defer stop()
	cases := map[string]struct {
		reason string
		mods   []mod
		want   string
		// failed: the problem is found by the running backup, which ends
		// Failed; otherwise the reconcile itself fails (Synced False).
		failed bool
	}{
		"UnknownCluster": {
			reason: "A clusterRef to a missing QdrantCluster names it.",
			mods:   []mod{func(b *v1alpha1.Backup) { b.Spec.ForProvider.ClusterRef.Name = "nope" }},
			want:   "QdrantCluster team-a/nope not found",
		},
		"MissingSecret": {
			reason: "A credentials Secret that does not exist is named.",
			mods: []mod{func(b *v1alpha1.Backup) {
				b.Spec.ForProvider.Storage.S3.CredentialsSecretRef = &v1alpha1.S3CredentialsSecretRef{Name: "missing-creds"}
			}},
			want: "Secret team-a/missing-creds not found",
		},
		"MissingKey": {
			reason: "A Secret without the expected key names the key.",
			mods: []mod{func(b *v1alpha1.Backup) {
				b.Spec.ForProvider.Storage.S3.CredentialsSecretRef = &v1alpha1.S3CredentialsSecretRef{Name: "half-credentials"}
			}},
			want: `Secret team-a/half-credentials has no key "AWS_SECRET_ACCESS_KEY"`,
		},
		"MissingAPIKeySecret": {
			reason: "An explicit connection's API key Secret must exist.",
			mods: []mod{func(b *v1alpha1.Backup) {
				b.Spec.ForProvider.ClusterRef = nil
				b.Spec.ForProvider.Connection = &v1alpha1.QdrantConnection{URL: emu.URLs()[0], APIKeySecretRef: &xpv2.LocalSecretKeySelector{LocalSecretReference: xpv2.LocalSecretReference{Name: "qdrant-key"}, Key: "nope"}}
			}},
			want: `Secret team-a/qdrant-key has no key "nope"`,
		},
		"WrongS3Credentials": {
			reason: "Wrong S3 credentials say so, without echoing them.",
			mods: []mod{func(b *v1alpha1.Backup) {
				b.Spec.ForProvider.Storage.S3.CredentialsSecretRef = &v1alpha1.S3CredentialsSecretRef{Name: "wrong-credentials"}
			}},
			want: `access to bucket "qdrant-backups" denied: check the S3 credentials`,
		},
		"MissingBucket": {
			reason: "A bucket that does not exist is named.",
			mods:   []mod{func(b *v1alpha1.Backup) { b.Spec.ForProvider.Storage.S3.Bucket = "no-such-bucket" }},
			want:   `bucket "no-such-bucket" not found`,
		},
		"UnknownCollection": {
			reason: "Unknown collections are listed and the backup fails for good.",
			mods: []mod{func(b *v1alpha1.Backup) {
				b.Spec.ForProvider.Collections = []v1alpha1.CollectionName{"reviews", "nope"}
			}},
			want:   "collections not found in the cluster: nope",
			failed: true,
		},
		"QdrantUnreachable": {
			reason: "An unreachable Qdrant fails after bounded attempts.",
			mods: []mod{func(b *v1alpha1.Backup) {
				b.Spec.ForProvider.ClusterRef = nil
				b.Spec.ForProvider.Connection = &v1alpha1.QdrantConnection{URL: "http://127.0.0.1:1"}
			}},
			want:   "cannot connect to Qdrant",
			failed: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			n := "bad-" + strings.ToLower(name)
			apply(t, newBackup(n, tc.mods...))
			var b *v1alpha1.Backup
			if tc.failed {
				b = waitFor(t, n, 60*time.Second, "Failed", func(b *v1alpha1.Backup) bool { return b.Status.AtProvider.Phase == v1alpha1.BackupFailed })
				if c := condition(b, xpv2.TypeReady); c.Status != corev1.ConditionFalse || !strings.Contains(c.Message, tc.want) {
					t.Errorf("%s\nReady: want False with %q, got %s %q", tc.reason, tc.want, c.Status, c.Message)
				}
				if !strings.Contains(b.Status.AtProvider.Error, tc.want) {
					t.Errorf("%s\nstatus error: want %q, got %q", tc.reason, tc.want, b.Status.AtProvider.Error)
				}
			} else {
				b = waitFor(t, n, 30*time.Second, "Synced False", func(b *v1alpha1.Backup) bool {
					c := condition(b, xpv2.TypeSynced)
					return c.Status == corev1.ConditionFalse && strings.Contains(c.Message, tc.want)
				})
			}
			// No hot loop: a failing resource is retried with backoff.
			time.Sleep(3 * time.Second)
			var count int32
			for _, e := range events(t, n) {
				if e.Type == corev1.EventTypeWarning {
					count += max(e.Count, 1)
				}
			}
			if count == 0 || count > 12 {
				t.Errorf("%s\nwant a few warning events in ~3 s of backoff, got %d", tc.reason, count)
			}
			_ = b
		})
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	// Runs after the others in this file's package: scan what they produced.
	fixtures(t)
	l := &v1alpha1.BackupList{}
	if err := env.Client.List(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	evs := &corev1.EventList{}
	if err := env.Client.List(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	status, _ := json.Marshal(l)
	evJSON, _ := json.Marshal(evs)
	// Backups presign nothing; presigned URLs (restores) get their own scan
	// where they are made.
	for _, secret := range []string{srv.SecretKey, apiKey, "definitely-wrong-secret"} {
		for what, text := range map[string]string{"status": string(status), "events": string(evJSON), "logs": logs.String()} {
			if strings.Contains(text, secret) {
				t.Errorf("%s contain a secret (%.6s...)", what, secret)
			}
		}
	}
	if len(logs.String()) == 0 {
		t.Error("no logs captured to scan")
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
