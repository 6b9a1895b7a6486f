package argocd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/qdrantops/qdrantops/cluster/testenv"
)

// TestArgoCDConfigMapShipsTheScripts holds the argocd-cm snippet users copy
// to the scripts the tests run.
func TestArgoCDConfigMapShipsTheScripts(t *testing.T) {
	b, err := os.ReadFile("argocd-cm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{}
	if err := yaml.UnmarshalStrict(b, cm); err != nil {
		t.Fatal(err)
	}
	for key, file := range map[string]string{
		"resource.customizations.health.ops.qdrantops.io_Backup":         "backup.lua",
		"resource.customizations.health.ops.qdrantops.io_Restore":        "restore.lua",
		"resource.customizations.health.ops.qdrantops.io_BackupSchedule": "backupschedule.lua",
		"resource.customizations.health.qdrantops.io_QdrantCluster":      "qdrantcluster.lua",
	} {
		want, err := scripts.ReadFile("health/" + file)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), cm.Data[key]); diff != "" {
			t.Errorf("argocd-cm.yaml %s is not health/%s (-file +configmap):\n%s", key, file, diff)
		}
	}
	if len(cm.Data) != 4 {
		t.Errorf("argocd-cm.yaml has %d keys, want the 4 checks", len(cm.Data))
	}
}

// TestQdrantClusterHealthOfRenderedXRs runs the QdrantCluster check on the
// XRs the composition function produced in its golden renders.
func TestQdrantClusterHealthOfRenderedXRs(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		reason string
		file   string
		want   string
	}{
		"EverythingReady": {reason: "Every composed resource ready: Running and Ready, Healthy.", file: "observed-everything-ready.yaml", want: "Healthy"},
		"NotReady":        {reason: "Nodes not ready yet: Progressing.", file: "observed-not-ready.yaml", want: "Progressing"},
		"FirstReconcile":  {reason: "Nothing observed yet: Progressing.", file: "first-reconcile.yaml", want: "Progressing"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs, err := testenv.ReadObjects(filepath.Join(root, "functions", "compose-qdrant", "testdata", "golden", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var xr *unstructured.Unstructured
			for _, o := range objs {
				if o.GetKind() == "QdrantCluster" {
					xr = o
				}
			}
			if xr == nil {
				t.Fatalf("no QdrantCluster in %s", tc.file)
			}
			h, err := Check(xr)
			if err != nil {
				t.Fatal(err)
			}
			if h.Status != tc.want {
				t.Errorf("%s\nCheck(%s): status %q (%s), want %q", tc.reason, tc.file, h.Status, h.Message, tc.want)
			}
		})
	}
}

// TestUnknownKind: a kind without a check is an error, not a guess.
func TestUnknownKind(t *testing.T) {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("Pod")
	if _, err := Check(u); err == nil || !strings.Contains(err.Error(), "no health check") {
		t.Errorf("Check(Pod): %v", err)
	}
}
