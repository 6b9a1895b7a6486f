package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
)

const crdTemplate = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: %[1]s.%[2]s
spec:
  group: %[2]s
  names: {kind: K, listKind: KList, plural: %[1]s, singular: k}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object}}
`

func writePackage(t *testing.T, meta string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "crds"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "crossplane.yaml"), []byte(meta), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{"widgets", "b.example.org"}, {"gadgets", "a.example.org"}, {"widgetusages", "a.example.org"}} {
		crd := []byte(fmt.Sprintf(crdTemplate, c[0], c[1]))
		if err := os.WriteFile(filepath.Join(dir, "crds", c[1]+"_"+c[0]+".yaml"), crd, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestProviderRole(t *testing.T) {
	system := []string{"get", "list", "watch", "update", "patch", "create"}
	base := []rbacv1.PolicyRule{
		// Groups in the order of their first resource sorted by plural and
		// group, as the RBAC manager renders them.
		{APIGroups: []string{"a.example.org"}, Resources: []string{"gadgets", "gadgets/status", "widgetusages", "widgetusages/status"}, Verbs: system},
		{APIGroups: []string{"b.example.org"}, Resources: []string{"widgets", "widgets/status"}, Verbs: system},
		{APIGroups: []string{"a.example.org", "b.example.org"}, Resources: []string{"*/finalizers"}, Verbs: []string{"update"}},
		{APIGroups: []string{"", "coordination.k8s.io"}, Resources: []string{"secrets", "configmaps", "events", "leases"}, Verbs: []string{"*"}},
	}
	crds := rbacv1.PolicyRule{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: []string{"get", "list", "watch"}}
	type want struct {
		name  string
		rules []rbacv1.PolicyRule
		err   bool
	}
	cases := map[string]struct {
		reason string
		meta   string
		want   want
	}{
		"Plain": {
			reason: "A package gets its kinds and Crossplane's extras.",
			meta:   "apiVersion: meta.pkg.crossplane.io/v1\nkind: Provider\nmetadata: {name: provider-x}\n",
			want:   want{name: "crossplane:provider:provider-x:system", rules: base},
		},
		"SafeStart": {
			reason: "A safe-start package may read CRDs; the capability matches fuzzily, as Crossplane's does.",
			meta:   "apiVersion: meta.pkg.crossplane.io/v1\nkind: Provider\nmetadata: {name: provider-x}\nspec: {capabilities: [SafeStart]}\n",
			want:   want{name: "crossplane:provider:provider-x:system", rules: append(append([]rbacv1.PolicyRule{}, base...), crds)},
		},
		"PermissionRequests": {
			reason: "Crossplane v2 has no permissionRequests: a package that asks for more gets nothing, so it is an error here.",
			meta:   "apiVersion: meta.pkg.crossplane.io/v1\nkind: Provider\nmetadata: {name: provider-x}\nspec:\n  controller:\n    permissionRequests:\n    - {apiGroups: [qdrantops.io], resources: [qdrantclusters], verbs: [get]}\n",
			want:   want{err: true},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			role, err := ProviderRole(writePackage(t, tc.meta))
			got := want{err: err != nil}
			if role != nil {
				got.name, got.rules = role.Name, role.Rules
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("%s\nProviderRole(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
