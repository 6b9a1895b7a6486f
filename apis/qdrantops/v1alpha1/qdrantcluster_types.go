package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	opsv1alpha1 "github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
)

// Phase summarises a QdrantCluster's state.
// +kubebuilder:validation:Enum=Pending;Running;Upgrading;Failed
type Phase string

// QdrantCluster phases.
const (
	PhasePending   Phase = "Pending"
	PhaseRunning   Phase = "Running"
	PhaseUpgrading Phase = "Upgrading"
	PhaseFailed    Phase = "Failed"
)

// QdrantClusterSpec is the desired state of a Qdrant cluster.
// +kubebuilder:validation:XValidation:rule="self.replicas <= 1 || self.cluster.enabled",message="replicas > 1 needs cluster.enabled: true"
type QdrantClusterSpec struct {
	// Replicas is the number of Qdrant nodes.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Replicas int32 `json:"replicas"`

	// Version of Qdrant, the image tag, for example "1.19.0".
	// +kubebuilder:validation:Pattern=`^v?[0-9]+\.[0-9]+\.[0-9]+$`
	Version string `json:"version"`

	// Resources of each Qdrant pod.
	// +optional
	Resources *Resources `json:"resources,omitempty"`

	// Persistence of each node's storage.
	// +optional
	Persistence Persistence `json:"persistence,omitempty"`

	// Cluster mode: distributed deployment with peer-to-peer replication.
	// +optional
	Cluster ClusterMode `json:"cluster,omitempty"`

	// APIKey protects Qdrant's API. Without a secretRef one is generated once
	// and kept in a Secret named <cluster>-api-key.
	// +optional
	APIKey *APIKey `json:"apiKey,omitempty"`

	// Metrics exposes Qdrant's Prometheus metrics.
	// +optional
	Metrics Metrics `json:"metrics,omitempty"`

	// Backup composes an S3 bucket and a BackupSchedule for this cluster.
	// +optional
	Backup *Backup `json:"backup,omitempty"`
}

// Resources are the compute resources of each Qdrant pod.
type Resources struct {
	// Requests are the resources the scheduler reserves.
	// +optional
	Requests *ResourceList `json:"requests,omitempty"`
	// Limits are the most resources a pod may use.
	// +optional
	Limits *ResourceList `json:"limits,omitempty"`
}

// ResourceList is an amount of CPU and memory.
type ResourceList struct {
	// CPU, for example 500m or "2".
	// +optional
	CPU *resource.Quantity `json:"cpu,omitempty"`
	// Memory, for example 2Gi.
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`
}

// Persistence is each node's volume.
type Persistence struct {
	// Size of each node's volume. It can grow but never shrink.
	// +optional
	// +kubebuilder:default="10Gi"
	Size resource.Quantity `json:"size,omitempty"`
	// StorageClassName of the volumes; the cluster's default when empty.
	// +optional
	StorageClassName string `json:"storageClassName,omitempty"`
}

// ClusterMode configures Qdrant's distributed mode.
type ClusterMode struct {
	// Enabled runs Qdrant in distributed mode.
	// +optional
	Enabled bool `json:"enabled"`
}

// APIKey selects Qdrant's API key.
type APIKey struct {
	// SecretRef selects the key of a Secret in the same namespace that holds
	// the API key. The Secret is referenced, never copied.
	// +optional
	SecretRef *xpv2.LocalSecretKeySelector `json:"secretRef,omitempty"`
}

// Metrics configures Qdrant's Prometheus metrics.
type Metrics struct {
	// Enabled creates a ServiceMonitor for Qdrant. It needs the Prometheus
	// Operator's CRDs in the cluster; without them the Helm release fails and
	// the QdrantCluster reports it.
	// +optional
	Enabled bool `json:"enabled"`
}

// Backup configures scheduled backups of the cluster.
type Backup struct {
	// Schedule in cron format, for example "0 2 * * *".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Schedule string `json:"schedule"`

	// TimeZone of the schedule, an IANA name; UTC when empty.
	// +optional
	TimeZone string `json:"timeZone,omitempty"`

	// Retention of the scheduled backups.
	// +optional
	Retention *opsv1alpha1.RetentionPolicy `json:"retention,omitempty"`

	// Bucket the backups are stored in.
	Bucket Bucket `json:"bucket"`

	// ProviderConfigRef is the provider-qdrantops configuration the
	// BackupSchedule uses.
	// +optional
	ProviderConfigRef *xpv2.ProviderConfigReference `json:"providerConfigRef,omitempty"`
}

// Bucket is the S3 bucket of a cluster's backups.
// +kubebuilder:validation:XValidation:rule="self.create || has(self.name)",message="name is required unless create is true"
type Bucket struct {
	// Create composes a new bucket; otherwise Name must be an existing one.
	// +optional
	Create bool `json:"create,omitempty"`

	// Name of the bucket. A created bucket is named after the cluster when
	// empty.
	// +optional
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	Name string `json:"name,omitempty"`

	// Region of the bucket.
	// +optional
	Region string `json:"region,omitempty"`

	// Prefix of the backups' object keys.
	// +optional
	// +kubebuilder:validation:Pattern=`^[^/].*$`
	Prefix string `json:"prefix,omitempty"`
}

// QdrantClusterStatus is the observed state of a Qdrant cluster.
type QdrantClusterStatus struct {
	// Phase summarises the cluster's state.
	// +optional
	Phase Phase `json:"phase,omitempty"`
	// Replicas is the desired number of nodes.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// ReadyReplicas is the number of ready nodes.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// Version of Qdrant running.
	// +optional
	Version string `json:"version,omitempty"`
	// Endpoint is the URL of Qdrant's REST API inside the cluster.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
}

// +kubebuilder:object:root=true

// A QdrantCluster is a Qdrant vector database deployed from the official Helm
// chart, with its API key, connection Secret and optional scheduled backups.
// +kubebuilder:printcolumn:name="PHASE",type="string",JSONPath=".status.phase"
// +kubebuilder:printcolumn:name="REPLICAS",type="integer",JSONPath=".spec.replicas"
// +kubebuilder:printcolumn:name="READY-REPLICAS",type="integer",JSONPath=".status.readyReplicas"
// +kubebuilder:printcolumn:name="VERSION",type="string",JSONPath=".status.version"
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=qc,categories={crossplane,qdrant}
type QdrantCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   QdrantClusterSpec   `json:"spec"`
	Status QdrantClusterStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// QdrantClusterList contains a list of QdrantCluster.
type QdrantClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []QdrantCluster `json:"items"`
}
