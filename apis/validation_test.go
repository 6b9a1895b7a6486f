package apis_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/qdrantops/qdrantops/cluster/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

const ns = "validation"

func obj(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatalf("bad fixture: %v", err)
	}
	if u.GetNamespace() == "" && u.GetKind() != "ClusterProviderConfig" {
		u.SetNamespace(ns)
	}
	return u
}

func ensureNamespace(t *testing.T) {
	t.Helper()
	n := obj(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+ns+"}")
	n.SetNamespace("")
	if err := env.Client.Create(context.Background(), n); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
}

const backupOK = `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Backup
metadata: {name: %s}
spec:
  forProvider:
    clusterRef: {name: search}
    storage: {s3: {bucket: qdrant-backups}}
`

func TestCreateIsRejected(t *testing.T) {
	ensureNamespace(t)
	cases := map[string]struct {
		reason string
		doc    string
		want   string
	}{
		"RestoreBackupRefAndSource": {
			reason: "A Restore reads either a Backup or a raw S3 path, never both.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Restore
metadata: {name: both}
spec:
  forProvider:
    backupRef: {name: b}
    source: {s3: {bucket: qdrant-backups, path: a/b}}
    targetClusterRef: {name: search}`,
			want: "exactly one of backupRef or source must be set",
		},
		"RestoreNoSource": {
			reason: "A Restore needs something to restore.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Restore
metadata: {name: neither}
spec:
  forProvider:
    targetClusterRef: {name: search}`,
			want: "exactly one of backupRef or source must be set",
		},
		"RestoreNoTarget": {
			reason: "A Restore needs a target cluster.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Restore
metadata: {name: notarget}
spec:
  forProvider:
    backupRef: {name: b}`,
			want: "exactly one of targetClusterRef or targetConnection must be set",
		},
		"ScheduleNegativeRetention": {
			reason: "Retention counts cannot be negative.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: BackupSchedule
metadata: {name: negative}
spec:
  forProvider:
    schedule: "0 2 * * *"
    retentionPolicy: {keepLast: -1}
    template:
      clusterRef: {name: search}
      storage: {s3: {bucket: qdrant-backups}}`,
			want: "spec.forProvider.retentionPolicy.keepLast: Invalid value: -1: spec.forProvider.retentionPolicy.keepLast in body should be greater than or equal to 0",
		},
		"ScheduleBadConcurrencyPolicy": {
			reason: "Concurrency policy is an enum.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: BackupSchedule
metadata: {name: concurrency}
spec:
  forProvider:
    schedule: "0 2 * * *"
    concurrencyPolicy: Replace
    template:
      clusterRef: {name: search}
      storage: {s3: {bucket: qdrant-backups}}`,
			want: `spec.forProvider.concurrencyPolicy: Unsupported value: "Replace"`,
		},
		"BackupEmptyBucket": {
			reason: "A backup needs a bucket.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Backup
metadata: {name: nobucket}
spec:
  forProvider:
    clusterRef: {name: search}
    storage: {s3: {bucket: ""}}`,
			want: "spec.forProvider.storage.s3.bucket in body should be at least 3 chars long",
		},
		"BackupInvalidBucketName": {
			reason: "Bucket names follow S3's rules.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Backup
metadata: {name: badbucket}
spec:
  forProvider:
    clusterRef: {name: search}
    storage: {s3: {bucket: My_Bucket}}`,
			want: "spec.forProvider.storage.s3.bucket in body should match",
		},
		"BackupClusterRefAndConnection": {
			reason: "A backup reads one cluster.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Backup
metadata: {name: twotargets}
spec:
  forProvider:
    clusterRef: {name: search}
    connection: {url: "http://qdrant:6333"}
    storage: {s3: {bucket: qdrant-backups}}`,
			want: "exactly one of clusterRef or connection must be set",
		},
		"BackupBadParallelism": {
			reason: "Parallelism is bounded.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Backup
metadata: {name: parallel}
spec:
  forProvider:
    clusterRef: {name: search}
    parallelism: 0
    storage: {s3: {bucket: qdrant-backups}}`,
			want: "spec.forProvider.parallelism in body should be greater than or equal to 1",
		},
		"BackupConnectionNotAURL": {
			reason: "Connections are http(s) URLs.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: Backup
metadata: {name: noturl}
spec:
  forProvider:
    connection: {url: "qdrant:6333"}
    storage: {s3: {bucket: qdrant-backups}}`,
			want: "spec.forProvider.connection.url in body should match",
		},
		"ProviderConfigSecretWithoutRef": {
			reason: "Secret credentials need a Secret.",
			doc: `
apiVersion: ops.qdrantops.io/v1alpha1
kind: ProviderConfig
metadata: {name: nosecret}
spec:
  credentials: {source: Secret}`,
			want: "secretRef is required when source is Secret",
		},
		"QdrantClusterReplicasWithoutClusterMode": {
			reason: "More than one node needs Qdrant's distributed mode.",
			doc: `
apiVersion: qdrantops.io/v1alpha1
kind: QdrantCluster
metadata: {name: nocluster}
spec: {replicas: 3, version: "1.19.0"}`,
			want: "replicas > 1 needs cluster.enabled: true",
		},
		"QdrantClusterBadVersion": {
			reason: "Versions are image tags like 1.19.0.",
			doc: `
apiVersion: qdrantops.io/v1alpha1
kind: QdrantCluster
metadata: {name: badversion}
spec: {version: latest}`,
			want: "spec.version in body should match",
		},
		"QdrantClusterExistingBucketWithoutName": {
			reason: "An existing bucket must be named.",
			doc: `
apiVersion: qdrantops.io/v1alpha1
kind: QdrantCluster
metadata: {name: nobucketname}
spec:
  version: "1.19.0"
  backup: {schedule: "@daily", bucket: {create: false}}`,
			want: "name is required unless create is true",
		},
		"QdrantClusterNegativeRetention": {
			reason: "Retention counts cannot be negative in the XR either.",
			doc: `
apiVersion: qdrantops.io/v1alpha1
kind: QdrantCluster
metadata: {name: negative}
spec:
  version: "1.19.0"
  backup: {schedule: "@daily", retention: {keepDaily: -3}, bucket: {create: true}}`,
			want: "spec.backup.retention.keepDaily in body should be greater than or equal to 0",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := env.Client.Create(context.Background(), obj(t, tc.doc))
			if err == nil {
				t.Fatalf("%s\nCreate(...): want error containing %q, got none", tc.reason, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s\nCreate(...): want error containing %q, got %q", tc.reason, tc.want, err.Error())
			}
		})
	}
}

func TestUpdateIsRejected(t *testing.T) {
	ensureNamespace(t)
	cases := map[string]struct {
		reason string
		mutate func(u *unstructured.Unstructured)
		status bool
		want   string
	}{
		"BackupStorageIsImmutable": {
			reason: "A backup's objects cannot move once it exists.",
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "other-bucket", "spec", "forProvider", "storage", "s3", "bucket")
			},
			want: "storage is immutable",
		},
		"BackupClusterIsImmutable": {
			reason: "A backup's source cannot change once it exists.",
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "other", "spec", "forProvider", "clusterRef", "name")
			},
			want: "clusterRef is immutable",
		},
		"BackupCollectionsAreImmutable": {
			reason: "Adding a collection selection changes what the backup holds.",
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedStringSlice(u.Object, []string{"a"}, "spec", "forProvider", "collections")
			},
			want: "collections is immutable",
		},
		"InvalidPhaseInStatus": {
			reason: "Status phases are an enum; nothing can write another value.",
			status: true,
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "Exploded", "status", "atProvider", "phase")
			},
			want: `status.atProvider.phase: Unsupported value: "Exploded"`,
		},
		"InvalidShardChecksumInStatus": {
			reason: "Checksums in status are sha256 hex.",
			status: true,
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{
					"name": "c", "shardNumber": int64(1), "sizeBytes": int64(1),
					"shards": []any{map[string]any{"id": int64(0), "sizeBytes": int64(1), "sha256": "not-a-checksum"}},
				}}, "status", "atProvider", "collections")
			},
			want: "should match '^[0-9a-f]{64}$'",
		},
	}
	ctx := context.Background()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			u := obj(t, strings.Replace(backupOK, "%s", strings.ToLower(name), 1))
			if err := env.Client.Create(ctx, u); err != nil {
				t.Fatalf("cannot create valid backup: %v", err)
			}
			tc.mutate(u)
			var err error
			if tc.status {
				err = env.Client.Status().Update(ctx, u)
			} else {
				err = env.Client.Update(ctx, u)
			}
			if err == nil {
				t.Fatalf("%s\nUpdate(...): want error containing %q, got none", tc.reason, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s\nUpdate(...): want error containing %q, got %q", tc.reason, tc.want, err.Error())
			}
		})
	}
}

func TestUnknownFieldsArePruned(t *testing.T) {
	ensureNamespace(t)
	ctx := context.Background()
	u := obj(t, strings.Replace(backupOK, "%s", "pruned", 1))
	_ = unstructured.SetNestedField(u.Object, "surprise", "spec", "forProvider", "notAField")
	_ = unstructured.SetNestedField(u.Object, "surprise", "spec", "forProvider", "storage", "s3", "notAField")
	// A non-strict client, as most GitOps tools are: the apiserver prunes.
	if err := env.Client.Create(ctx, u, &client.CreateOptions{Raw: nil}); err != nil {
		t.Fatal(err)
	}
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(u.GroupVersionKind())
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(u), got); err != nil {
		t.Fatal(err)
	}
	fp, _, _ := unstructured.NestedMap(got.Object, "spec", "forProvider")
	want := map[string]any{
		"clusterRef":  map[string]any{"name": "search"},
		"parallelism": int64(4),
		"storage":     map[string]any{"s3": map[string]any{"bucket": "qdrant-backups"}},
	}
	if diff := cmp.Diff(want, fp); diff != "" {
		t.Errorf("stored forProvider: -want, +got:\n%s", diff)
	}
}
