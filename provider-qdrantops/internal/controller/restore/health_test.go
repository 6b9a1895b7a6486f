package restore_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/docs/argocd"
)

// argoHealth is what Argo CD's health check for Restores (docs/argocd) says
// of r, a Restore these tests produced.
func argoHealth(t *testing.T, r *v1alpha1.Restore) string {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(r)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(v1alpha1.RestoreGroupVersionKind)
	h, err := argocd.Check(u)
	if err != nil {
		t.Fatal(err)
	}
	return h.Status
}
