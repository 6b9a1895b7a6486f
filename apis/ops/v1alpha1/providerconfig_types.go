package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
)

// ProviderConfigSpec configures how the provider reaches object storage. Its
// values are the defaults of every Backup, BackupSchedule and Restore that uses
// it; their own storage fields override them.
type ProviderConfigSpec struct {
	// S3 defaults: endpoint, region and path-style addressing.
	// +optional
	S3 S3Defaults `json:"s3,omitempty"`

	// Credentials for the object store.
	Credentials ProviderCredentials `json:"credentials"`
}

// S3Defaults are the object store settings shared by the resources of a
// ProviderConfig.
type S3Defaults struct {
	// Region of the buckets.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Region string `json:"region,omitempty"`

	// Endpoint URL of an S3-compatible server; empty means AWS S3.
	// +optional
	// +kubebuilder:validation:Pattern=`^https?://[^\s/@]+(/.*)?$`
	// +kubebuilder:validation:MaxLength=2048
	Endpoint string `json:"endpoint,omitempty"`

	// UsePathStyle addresses buckets as endpoint/bucket.
	// +optional
	UsePathStyle bool `json:"usePathStyle,omitempty"`
}

// A ProviderConfigStatus is the observed state of a ProviderConfig.
type ProviderConfigStatus struct {
	xpv2.ProviderConfigStatus `json:",inline"`
}

// ProviderCredentials says where the object store's credentials come from.
// +kubebuilder:validation:XValidation:rule="self.source != 'Secret' || has(self.secretRef)",message="secretRef is required when source is Secret"
type ProviderCredentials struct {
	// Source of the credentials: a Secret, or the AWS SDK's default chain
	// (environment, web identity, instance role) for InjectedIdentity; None for
	// object stores that need no authentication.
	// +kubebuilder:validation:Enum=None;Secret;InjectedIdentity
	Source xpv2.CredentialsSource `json:"source"`

	// SecretRef names the Secret holding the access key pair.
	// +optional
	SecretRef *CredentialsSecretRef `json:"secretRef,omitempty"`
}

// CredentialsSecretRef names a Secret holding an S3 access key pair.
type CredentialsSecretRef struct {
	S3CredentialsSecretRef `json:",inline"`

	// Namespace of the Secret. Only a ClusterProviderConfig may name one; a
	// ProviderConfig reads Secrets of its own namespace.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// +kubebuilder:object:root=true

// A ProviderConfig configures provider-qdrantops for the resources of its
// namespace.
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="SOURCE",type="string",JSONPath=".spec.credentials.source",priority=1
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,categories={crossplane,provider,qdrant}
type ProviderConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says how the provider reaches object storage for the resources of
	// this namespace. It cannot borrow the provider's own cloud identity
	// (InjectedIdentity): whoever may create a ProviderConfig in some
	// namespace would reach every bucket that identity reaches.
	// +kubebuilder:validation:XValidation:rule="self.credentials.source != 'InjectedIdentity'",message="credentials.source InjectedIdentity is only allowed in a ClusterProviderConfig: it uses the provider's own identity"
	Spec   ProviderConfigSpec   `json:"spec"`
	Status ProviderConfigStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ProviderConfigList contains a list of ProviderConfig.
type ProviderConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ProviderConfig `json:"items"`
}

// +kubebuilder:object:root=true

// A ClusterProviderConfig configures provider-qdrantops for resources of any
// namespace. It is set up by a cluster administrator.
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="SOURCE",type="string",JSONPath=".spec.credentials.source",priority=1
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories={crossplane,provider,qdrant}
type ClusterProviderConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterProviderConfigSpec `json:"spec"`
	Status ProviderConfigStatus      `json:"status,omitempty"`
}

// ClusterProviderConfigSpec is a ProviderConfigSpec that a cluster
// administrator shares with every namespace, with what those namespaces may do
// with it.
// +kubebuilder:validation:XValidation:rule="!has(self.credentials.secretRef) || (has(self.credentials.secretRef.__namespace__) && size(self.credentials.secretRef.__namespace__) > 0)",message="a ClusterProviderConfig's credentials.secretRef must name the Secret's namespace"
type ClusterProviderConfigSpec struct {
	ProviderConfigSpec `json:",inline"`

	// Tenancy pins what the resources of a namespace may do with this
	// ClusterProviderConfig. Without it they may use any bucket, key prefix
	// and endpoint with its credentials.
	// +optional
	Tenancy *Tenancy `json:"tenancy,omitempty"`
}

// Tenancy is what the resources of a namespace may do with a
// ClusterProviderConfig. A resource asking for anything else is refused
// with a ConfigError condition that says why.
type Tenancy struct {
	// AllowedBuckets the resources may use; empty allows any.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=3
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	// +kubebuilder:validation:items:XValidation:rule="!self.contains('..') && !self.contains('.-') && !self.contains('-.')",message="a bucket name has no two adjacent dots and no dot next to a hyphen"
	// +kubebuilder:validation:items:XValidation:rule=`!self.matches(r'^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$')`,message="a bucket name is not formatted as an IP address"
	AllowedBuckets []string `json:"allowedBuckets,omitempty"`

	// KeyPrefix is put before the key prefix of every resource, so that each
	// namespace stays under a prefix of its own. "{{namespace}}" stands for
	// the resource's namespace: "tenants/{{namespace}}/" keeps namespace a
	// under tenants/a/. It ends with a slash, so that no namespace's prefix
	// is the beginning of another's.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^([A-Za-z0-9_.-]|\{\{namespace\}\})+(/([A-Za-z0-9_.-]|\{\{namespace\}\})+)*/$`
	// +kubebuilder:validation:XValidation:rule="!self.split('/').exists(s, s == '.' || s == '..')",message="keyPrefix segments cannot be . or .."
	// +kubebuilder:validation:XValidation:rule=`size(self) + 50 * ((size(self) - size(self.replace('{{namespace}}', ""))) / 13) <= 128`,message="keyPrefix must stay within 128 bytes once each {{namespace}} is replaced by a namespace of up to 63 characters, so that every object key fits in S3's 1024"
	KeyPrefix string `json:"keyPrefix,omitempty"`

	// AllowedEndpoints a resource may name in storage.s3.endpoint while it
	// uses this ClusterProviderConfig's credentials; its own endpoint is
	// always allowed. A resource with credentials of its own
	// (credentialsSecretRef) may name any endpoint: it signs with its own
	// keys.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:items:Pattern=`^https?://[^\s/@]+(/.*)?$`
	AllowedEndpoints []string `json:"allowedEndpoints,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterProviderConfigList contains a list of ClusterProviderConfig.
type ClusterProviderConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterProviderConfig `json:"items"`
}

// +kubebuilder:object:root=true

// A ProviderConfigUsage records that a managed resource uses a ProviderConfig.
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="CONFIG-NAME",type="string",JSONPath=".providerConfigRef.name"
// +kubebuilder:printcolumn:name="RESOURCE-KIND",type="string",JSONPath=".resourceRef.kind"
// +kubebuilder:printcolumn:name="RESOURCE-NAME",type="string",JSONPath=".resourceRef.name"
// +kubebuilder:resource:scope=Namespaced,categories={crossplane,provider,qdrant}
type ProviderConfigUsage struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	xpv2.TypedProviderConfigUsage `json:",inline"`
}

// +kubebuilder:object:root=true

// ProviderConfigUsageList contains a list of ProviderConfigUsage.
type ProviderConfigUsageList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ProviderConfigUsage `json:"items"`
}

// +kubebuilder:object:root=true

// A ClusterProviderConfigUsage records that a managed resource uses a
// ClusterProviderConfig.
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="CONFIG-NAME",type="string",JSONPath=".providerConfigRef.name"
// +kubebuilder:printcolumn:name="RESOURCE-KIND",type="string",JSONPath=".resourceRef.kind"
// +kubebuilder:printcolumn:name="RESOURCE-NAME",type="string",JSONPath=".resourceRef.name"
// +kubebuilder:resource:scope=Cluster,categories={crossplane,provider,qdrant}
type ClusterProviderConfigUsage struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	xpv2.TypedProviderConfigUsage `json:",inline"`
}

// +kubebuilder:object:root=true

// ClusterProviderConfigUsageList contains a list of ClusterProviderConfigUsage.
type ClusterProviderConfigUsageList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterProviderConfigUsage `json:"items"`
}
