package v1alpha1

import (
	"reflect"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// Package type metadata.
const (
	Group   = "qdrantops.io"
	Version = "v1alpha1"
)

var (
	// SchemeGroupVersion is group version used to register these objects.
	SchemeGroupVersion = schema.GroupVersion{Group: Group, Version: Version}

	// SchemeBuilder is used to add go types to the GroupVersionKind scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: SchemeGroupVersion}

	// AddToScheme adds the types of this group to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// QdrantCluster type metadata.
var (
	QdrantClusterKind             = reflect.TypeOf(QdrantCluster{}).Name()
	QdrantClusterGroupVersionKind = SchemeGroupVersion.WithKind(QdrantClusterKind)
)

func init() {
	SchemeBuilder.Register(&QdrantCluster{}, &QdrantClusterList{})
}
