package restore_test

import (
	"testing"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/docs/argocd"
)

// argoHealth is what Argo CD's health check for Restores (docs/argocd) says
// of r, a Restore these tests produced.
func argoHealth(t *testing.T, r *v1alpha1.Restore) string {
	t.Helper()
	h, err := argocd.CheckObject(r, v1alpha1.RestoreGroupVersionKind)
	if err != nil {
		t.Fatal(err)
	}
	return h.Status
}
