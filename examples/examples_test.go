// Package examples_test checks that every example, applied as it is, is
// accepted by a real kube-apiserver serving the generated CRDs and XRD.
package examples_test

import (
	"context"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/qdrantops/qdrantops/cluster/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func TestExamplesAreAccepted(t *testing.T) {
	objs, err := testenv.ReadObjects(filepath.Join(env.Root, "examples"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) < 8 {
		t.Fatalf("want at least 8 example objects, got %d", len(objs))
	}
	// Namespaces first, as kubectl apply -f examples/ would need them to be.
	sort.SliceStable(objs, func(i, j int) bool {
		return objs[i].GetKind() == "Namespace" && objs[j].GetKind() != "Namespace"
	})
	ctx := context.Background()
	seen := map[string]bool{}
	for _, o := range objs {
		want := o.DeepCopy()
		if err := env.Client.Create(ctx, o); err != nil {
			t.Errorf("%s %s/%s rejected: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
			continue
		}
		seen[o.GetKind()] = true
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), got); err != nil {
			t.Errorf("cannot read back %s %s: %v", o.GetKind(), o.GetName(), err)
			continue
		}
		// Nothing the user wrote may be pruned: every field of the example
		// must survive the schema (defaults may add more).
		if want.Object["spec"] == nil {
			continue // Namespaces and Secrets have nothing of the user's in spec.
		}
		if diff := cmp.Diff(want.Object["spec"], got.Object["spec"], subsetOf()); diff != "" {
			t.Errorf("%s %s: the apiserver dropped fields of the example (-example +stored):\n%s", o.GetKind(), o.GetName(), diff)
		}
	}
	for _, k := range []string{"QdrantCluster", "Backup", "BackupSchedule", "Restore", "ProviderConfig"} {
		if !seen[k] {
			t.Errorf("examples/ has no accepted %s", k)
		}
	}
}

func TestConfigurationPackageIsAccepted(t *testing.T) {
	// The generated XRD and the Composition are checked by Crossplane's own
	// CRDs, as they would be when the Configuration package is installed.
	objs, err := testenv.ReadObjects(filepath.Join(env.Root, "package", "configuration"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Errorf("%s %s rejected: %v", o.GetKind(), o.GetName(), err)
		}
		kinds[o.GetKind()] = true
	}
	if !kinds["CompositeResourceDefinition"] || !kinds["Composition"] {
		t.Errorf("want an XRD and a Composition, got %v", kinds)
	}
}

// subsetOf compares maps only on the keys of the first one, so fields that
// the apiserver defaults do not count as differences.
func subsetOf() cmp.Option {
	return cmp.FilterPath(func(p cmp.Path) bool {
		mi, ok := p.Last().(cmp.MapIndex)
		if !ok {
			return false
		}
		vx, _ := mi.Values()
		return !vx.IsValid()
	}, cmp.Ignore())
}
