package testenv

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
)

// startForTest starts a control plane for one test, as Main does for a
// package: skipped under -short, and without the binaries skipped, saying
// why, except in CI, where that fails. This package's other tests need no
// control plane, so it has no TestMain.
func startForTest(t *testing.T) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped under -short")
	}
	if why := Available(); why != "" {
		if os.Getenv("CI") != "" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	e, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("cannot stop control plane: %v", err)
		}
	})
	return e
}

// gcBackup is a Backup as valid as the schedule controller's, owned by owners.
func gcBackup(ns, name string, owners ...metav1.OwnerReference) *v1alpha1.Backup {
	return &v1alpha1.Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, OwnerReferences: owners},
		Spec: v1alpha1.BackupSpec{
			ManagedResourceSpec: xpv2.ManagedResourceSpec{ProviderConfigReference: &xpv2.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKind, Name: "default"}},
			ForProvider: v1alpha1.BackupParameters{BackupSource: v1alpha1.BackupSource{
				QdrantTarget: v1alpha1.QdrantTarget{ClusterRef: &v1alpha1.LocalReference{Name: "search"}},
				Storage:      v1alpha1.Storage{S3: v1alpha1.S3Location{Bucket: "qdrant-backups"}},
			}},
		},
	}
}

// TestGarbageCollector checks that StartGarbageCollector gives the tests what a
// real cluster does for a pruned Backup: one whose only owner is gone is
// deleted, and one that still has an existing owner is kept, losing only
// the reference to the owner that is gone.
func TestGarbageCollector(t *testing.T) {
	e := startForTest(t)
	ctx := t.Context()
	stop, err := e.StartGarbageCollector(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)

	const ns = "gc-test"
	if err := e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "owner"}}
	if err := e.Client.Create(ctx, owner); err != nil {
		t.Fatal(err)
	}
	existing := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID}
	// What the schedule controller writes when it prunes: a ConfigMap that
	// does not exist, with a UID no object has.
	gone := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "pruned", UID: types.UID("7d0c6e1b-0000-4000-8000-000000000000")}

	orphan := gcBackup(ns, "orphan", gone)
	owned := gcBackup(ns, "owned", existing)
	both := gcBackup(ns, "both", existing, gone)
	for _, b := range []*v1alpha1.Backup{orphan, owned, both} {
		if err := e.Client.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}

	// The Backup whose only owner is gone is deleted, and the one with an
	// owner left loses the reference to the other: then the collector has
	// handled every reference to the absent owner.
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := e.Client.Get(ctx, client.ObjectKeyFromObject(orphan), &v1alpha1.Backup{})
		orphanGone := kerrors.IsNotFound(err)
		if err != nil && !orphanGone {
			t.Fatal(err)
		}
		cur := &v1alpha1.Backup{}
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(both), cur); err != nil {
			t.Fatalf("the Backup that still has an existing owner is gone: %v", err)
		}
		if orphanGone && len(cur.OwnerReferences) == 1 {
			if diff := cmp.Diff([]metav1.OwnerReference{existing}, cur.OwnerReferences); diff != "" {
				t.Errorf("the Backup with an owner left: -want, +got owner references:\n%s", diff)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: Backup whose only owner is gone deleted: %t; owner references of the Backup with an owner left: %v", orphanGone, cur.OwnerReferences)
		}
		time.Sleep(200 * time.Millisecond)
	}

	cur := &v1alpha1.Backup{}
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(owned), cur); err != nil {
		t.Fatalf("the Backup whose owner exists is gone: %v", err)
	}
	if diff := cmp.Diff([]metav1.OwnerReference{existing}, cur.OwnerReferences); diff != "" {
		t.Errorf("the Backup whose owner exists: -want, +got owner references:\n%s", diff)
	}
}

func TestControllerManagerBinary(t *testing.T) {
	// exe writes an executable file at path.
	exe := func(t *testing.T, path string) {
		t.Helper()
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o700); err != nil { //nolint:gosec // An executable is what the test needs.
			t.Fatal(err)
		}
	}
	type want struct {
		path string
		err  bool
	}
	cases := map[string]struct {
		reason string
		// setup lays out the assets folder in dir and returns it, and
		// where the binary should be found.
		setup func(t *testing.T, dir string) (assets string, found string)
		ok    bool
	}{
		"InAssets": {
			reason: "A kube-controller-manager in KUBEBUILDER_ASSETS is used.",
			setup: func(t *testing.T, dir string) (string, string) {
				t.Helper()
				exe(t, filepath.Join(dir, "kube-controller-manager"))
				return dir, filepath.Join(dir, "kube-controller-manager")
			},
			ok: true,
		},
		"BesideLinkedAPIServer": {
			reason: "cluster/testbed.sh assets links only kube-apiserver, etcd and kubectl; the controller manager is beside the kube-apiserver the link points at.",
			setup: func(t *testing.T, dir string) (string, string) {
				t.Helper()
				kube, assets := filepath.Join(dir, "kubernetes"), filepath.Join(dir, "assets")
				for _, d := range []string{kube, assets} {
					if err := os.Mkdir(d, 0o750); err != nil {
						t.Fatal(err)
					}
				}
				exe(t, filepath.Join(kube, "kube-apiserver"))
				exe(t, filepath.Join(kube, "kube-controller-manager"))
				if err := os.Symlink(filepath.Join(kube, "kube-apiserver"), filepath.Join(assets, "kube-apiserver")); err != nil {
					t.Fatal(err)
				}
				return assets, filepath.Join(kube, "kube-controller-manager")
			},
			ok: true,
		},
		"Missing": {
			reason: "Without the binary the garbage collector cannot start, and says so rather than skip.",
			setup: func(t *testing.T, dir string) (string, string) {
				t.Helper()
				exe(t, filepath.Join(dir, "kube-apiserver"))
				return dir, ""
			},
		},
		"NotExecutable": {
			reason: "A file that cannot run is not the binary.",
			setup: func(t *testing.T, dir string) (string, string) {
				t.Helper()
				if err := os.WriteFile(filepath.Join(dir, "kube-controller-manager"), nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return dir, ""
			},
		},
		"AssetsUnset": {
			reason: "Without KUBEBUILDER_ASSETS there is nowhere to look.",
			setup:  func(*testing.T, string) (string, string) { return "", "" },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assets, found := tc.setup(t, t.TempDir())
			t.Setenv("KUBEBUILDER_ASSETS", assets)
			got, err := ControllerManagerBinary()
			if diff := cmp.Diff(want{path: found, err: !tc.ok}, want{path: got, err: err != nil}, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("%s\nControllerManagerBinary(): -want, +got:\n%s\nerror: %v", tc.reason, diff, err)
			}
		})
	}
}
