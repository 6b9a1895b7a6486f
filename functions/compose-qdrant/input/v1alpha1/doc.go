// Package v1alpha1 contains the input of the compose-qdrant function, the
// object a Composition step may pass it. The function package ships its CRD
// (package/function/input/), generated from these types, so that tools such
// as `crossplane resource validate` check a Composition's input.
//
// It earns its place for one reason: where the chart comes from. Air-gapped
// platforms mirror the qdrant chart, and tests serve a small chart of their
// own.
//
//	input:
//	  apiVersion: compose.qdrantops.io/v1alpha1
//	  kind: Input
//	  chart: {repository: https://charts.example.org, version: 1.19.0}
//
// +kubebuilder:object:generate=false
// +groupName=compose.qdrantops.io
// +versionName=v1alpha1
package v1alpha1
