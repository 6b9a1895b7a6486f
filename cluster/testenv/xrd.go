package testenv

import (
	"fmt"

	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// XRDToCRD derives the CRD of a Crossplane v2 XRD's composite resource, the way
// Crossplane's XRD controller does: the XRD's own spec and status schema, plus
// the fields Crossplane reserves (spec.crossplane, status.conditions and
// status.crossplane), left open here because Crossplane, not this project,
// defines them. It lets tests validate XRs against the real apiserver without
// running Crossplane core.
func XRDToCRD(xrd *unstructured.Unstructured) (*extv1.CustomResourceDefinition, error) {
	var x struct {
		Spec struct {
			Group    string                              `json:"group"`
			Names    extv1.CustomResourceDefinitionNames `json:"names"`
			Scope    extv1.ResourceScope                 `json:"scope"`
			Versions []struct {
				Name                     string                                 `json:"name"`
				Served                   bool                                   `json:"served"`
				Referenceable            bool                                   `json:"referenceable"`
				AdditionalPrinterColumns []extv1.CustomResourceColumnDefinition `json:"additionalPrinterColumns"`
				Schema                   struct {
					OpenAPIV3Schema extv1.JSONSchemaProps `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(xrd.Object, &x); err != nil {
		return nil, fmt.Errorf("cannot decode XRD %s: %w", xrd.GetName(), err)
	}
	open := extv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: ptr(true)}
	crd := &extv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: xrd.GetName()},
		Spec: extv1.CustomResourceDefinitionSpec{
			Group: x.Spec.Group,
			Names: x.Spec.Names,
			Scope: x.Spec.Scope,
		},
	}
	for _, v := range x.Spec.Versions {
		s := v.Schema.OpenAPIV3Schema.DeepCopy()
		spec := s.Properties["spec"]
		if spec.Properties == nil {
			spec.Properties = map[string]extv1.JSONSchemaProps{}
		}
		spec.Properties["crossplane"] = open
		status := s.Properties["status"]
		if status.Properties == nil {
			status.Properties = map[string]extv1.JSONSchemaProps{}
		}
		status.Type = "object"
		status.Properties["crossplane"] = open
		status.Properties["conditions"] = extv1.JSONSchemaProps{
			Type:  "array",
			Items: &extv1.JSONSchemaPropsOrArray{Schema: &open},
		}
		s.Properties["spec"], s.Properties["status"] = spec, status
		s.Properties["apiVersion"] = extv1.JSONSchemaProps{Type: "string"}
		s.Properties["kind"] = extv1.JSONSchemaProps{Type: "string"}
		s.Properties["metadata"] = extv1.JSONSchemaProps{Type: "object"}
		crd.Spec.Versions = append(crd.Spec.Versions, extv1.CustomResourceDefinitionVersion{
			Name:                     v.Name,
			Served:                   v.Served,
			Storage:                  v.Referenceable,
			Schema:                   &extv1.CustomResourceValidation{OpenAPIV3Schema: s},
			Subresources:             &extv1.CustomResourceSubresources{Status: &extv1.CustomResourceSubresourceStatus{}},
			AdditionalPrinterColumns: v.AdditionalPrinterColumns,
		})
	}
	return crd, nil
}

func ptr[T any](v T) *T { return &v }
