// Package apis contains the qdrantops API groups and the code generation that
// turns their Go types into CRDs, the XRD and method sets.
package apis

import (
	"k8s.io/apimachinery/pkg/runtime"

	opsv1alpha1 "github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	qdrantopsv1alpha1 "github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
)

// AddToScheme adds every qdrantops API group to a scheme.
func AddToScheme(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{opsv1alpha1.AddToScheme, qdrantopsv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return err
		}
	}
	return nil
}
