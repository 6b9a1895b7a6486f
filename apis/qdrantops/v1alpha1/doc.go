// Package v1alpha1 contains the QdrantCluster composite resource: the Go types
// are the one source of its XRD's schema and of the composition function's
// decoding.
// +kubebuilder:object:generate=true
// +groupName=qdrantops.io
// +versionName=v1alpha1
package v1alpha1
