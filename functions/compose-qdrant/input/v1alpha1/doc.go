// Package v1alpha1 contains the input of the compose-qdrant function, the
// object a Composition step may pass it. The function package ships its CRD
// (package/function/input/), generated from these types, so that tools such
// as `crossplane resource validate` check a Composition's input.
//
// It earns its place for two reasons: where the chart comes from (air-gapped
// platforms mirror the qdrant chart, and tests serve a small chart of their
// own), and which provider-helm config installs it (by default the
// namespaced ProviderConfig "default" of the QdrantCluster's namespace; a
// single-tenant cluster may name a ClusterProviderConfig).
//
//	input:
//	  apiVersion: compose.qdrantops.io/v1alpha1
//	  kind: Input
//	  chart: {repository: https://charts.example.org, version: 1.19.0}
//	  release:
//	    providerConfigRef: {kind: ClusterProviderConfig, name: default}
//
// +kubebuilder:object:generate=false
// +groupName=compose.qdrantops.io
// +versionName=v1alpha1
package v1alpha1
