package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Group and version of the input.
const (
	Group   = "compose.qdrantops.io"
	Version = "v1alpha1"
	Kind    = "Input"
)

// Input is the compose-qdrant function's optional input in a Composition
// step: where the qdrant chart comes from, for platforms that mirror it, and
// which provider-helm config installs it.
//
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:resource:categories=crossplane
type Input struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Chart overrides where the qdrant chart comes from; each field left out
	// keeps the official chart's value.
	// +optional
	Chart Chart `json:"chart,omitempty"`

	// Release configures the provider-helm Release that installs the chart.
	// +optional
	Release Release `json:"release,omitempty"`
}

// Release configures the provider-helm Release the function composes.
type Release struct {
	// ProviderConfigRef names the provider-helm ProviderConfig whose
	// identity installs the chart. Default: the namespaced ProviderConfig
	// named default in the QdrantCluster's namespace, which the platform
	// admin creates per tenant namespace with credentials limited to that
	// namespace. Helm keeps its release records as Secrets in the tenant's
	// namespace, where the tenant can forge them; provider-helm acts on a
	// forged record with the identity named here, so that identity must
	// have no rights outside the namespace. A ClusterProviderConfig suits a
	// single-tenant cluster only.
	// +optional
	ProviderConfigRef *ProviderConfigRef `json:"providerConfigRef,omitempty"`
}

// ProviderConfigRef names a provider-helm ProviderConfig.
type ProviderConfigRef struct {
	// Kind of the provider-helm config: ProviderConfig (namespaced, in the
	// QdrantCluster's namespace) or ClusterProviderConfig.
	// +kubebuilder:validation:Enum=ProviderConfig;ClusterProviderConfig
	// +kubebuilder:default=ProviderConfig
	// +optional
	Kind string `json:"kind,omitempty"`

	// Name of the config.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// Chart says which qdrant chart to install.
type Chart struct {
	// Name of the chart in the repository (default qdrant).
	// +optional
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name,omitempty"`

	// Repository is the chart repository's URL, an HTTP(S) index or an
	// oci:// registry (default the official qdrant-helm repository).
	// +optional
	// +kubebuilder:validation:Pattern=`^(https?|oci)://`
	Repository string `json:"repository,omitempty"`

	// Version of the chart (default the version this function was tested
	// with).
	// +optional
	// +kubebuilder:validation:MinLength=1
	Version string `json:"version,omitempty"`
}
