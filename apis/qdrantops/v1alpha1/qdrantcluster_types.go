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
	// Size of each node's volume. It never shrinks. It grows only by hand
	// while the chart's StatefulSet exists, since Kubernetes refuses to
	// change its volume claim template: a larger size is refused with the
	// condition PersistenceResized=False until each claim is expanded and
	// the StatefulSet is deleted with --cascade=orphan (docs/volume-growth.md).
	// +optional
	// +kubebuilder:default="10Gi"
	Size resource.Quantity `json:"size,omitempty"`
	// StorageClassName of the volumes; the cluster's default when empty.
	// The chart prints it unquoted, so anything but a StorageClass name
	// (a DNS subdomain) is refused.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
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
	// Enabled creates a ServiceMonitor for Qdrant, which scrapes /metrics
	// with the API key as a bearer token: Qdrant serves metrics only with it.
	// It needs the Prometheus Operator's CRDs in the cluster; without them
	// the Helm release fails and the QdrantCluster reports it.
	// +optional
	Enabled bool `json:"enabled"`
}

// Backup configures scheduled backups of the cluster. Its fields are copied
// into the BackupSchedule the function composes, and so are held to the same
// limits as that BackupSchedule's, or tighter: what the XR accepts, the
// BackupSchedule accepts.
type Backup struct {
	// Schedule in cron format, for example "0 2 * * *", or a descriptor
	// such as @daily; the time zone is set in timeZone.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('CRON_TZ=') && !self.startsWith('TZ=')",message="set the schedule's time zone in timeZone, not in the schedule"
	// +kubebuilder:validation:XValidation:rule=`self.matches(r'^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$') || self.matches(r'^@every [0-9][0-9.a-zµ]*$') || self.matches(r'^[^@\s]\S*(\s+\S+){4}$')`,message="schedule must be five cron fields (minute hour day-of-month month day-of-week) or a descriptor such as @daily or @every 6h"
	Schedule string `json:"schedule"`

	// TimeZone of the schedule, an IANA name; UTC when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$`
	// +kubebuilder:validation:XValidation:rule="self != 'Local'",message="timeZone must name a zone (Local would depend on the provider's host)"
	TimeZone string `json:"timeZone,omitempty"`

	// Retention of the scheduled backups.
	// +optional
	Retention *opsv1alpha1.RetentionPolicy `json:"retention,omitempty"`

	// Bucket the backups are stored in.
	Bucket Bucket `json:"bucket"`

	// ProviderConfigRef is the provider-qdrantops configuration the
	// BackupSchedule uses.
	// +optional
	// +kubebuilder:validation:XValidation:rule="size(self.name) <= 63",message="providerConfigRef.name must be at most 63 characters: Crossplane labels the ProviderConfigUsage with it, and label values are at most 63"
	ProviderConfigRef *xpv2.ProviderConfigReference `json:"providerConfigRef,omitempty"`
}

// DefaultNoncurrentVersionDays is how many days a created bucket keeps the
// noncurrent versions of objects unless the XR says otherwise.
const DefaultNoncurrentVersionDays = 7

// Bucket is the S3 bucket of a cluster's backups: an existing bucket, named,
// or one created for the cluster.
// +kubebuilder:validation:XValidation:rule="self.create || has(self.name)",message="name is required unless create is true"
// +kubebuilder:validation:XValidation:rule="!has(self.create) || !self.create || (has(self.region) && size(self.region) > 0)",message="region is required with create: true: the bucket is created in it"
// +kubebuilder:validation:XValidation:rule="!has(self.create) || !self.create || !has(self.name)",message="name cannot be set with create: true: a created bucket is named after the cluster (a bucket it already has keeps its name), so that it can never take over a bucket the cluster does not own; remove name, or set create: false to use an existing bucket"
type Bucket struct {
	// Create composes a new private, versioned, encrypted bucket for this
	// cluster. Its name is generated: <namespace>-<name>-backups, cut to fit
	// S3's 63 characters, followed by "-" and the first 8 hex digits of the
	// sha256 of "<namespace>/<name>/<uid>": no two clusters share one, and
	// nobody can know the name, and create the bucket first elsewhere, before
	// the cluster exists. A bucket the cluster already composes keeps the
	// name it was created with. The BackupSchedule is composed once the
	// bucket is Ready (condition BackupConfigured says so until then).
	// Without create, Name must be an existing bucket, which is only
	// referenced: its settings are never changed.
	// +optional
	Create bool `json:"create,omitempty"`

	// Name of an existing bucket; only with create: false. A created bucket
	// cannot be given a name: provider-upjet-aws takes over any existing
	// bucket of the name it is given, so a chosen name could rewrite the
	// lifecycle and encryption of a bucket the cluster does not own, and
	// deleting the cluster would delete it.
	// +optional
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	// +kubebuilder:validation:XValidation:rule="!self.contains('..')",message="bucket name must not contain two adjacent dots"
	// +kubebuilder:validation:XValidation:rule="!self.contains('.-') && !self.contains('-.')",message="bucket name must not have a dot next to a hyphen"
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$')`,message="bucket name must not be formatted as an IP address"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('xn--') && !self.startsWith('sthree-') && !self.startsWith('amzn-s3-demo-')",message="bucket name must not start with a prefix S3 reserves (xn--, sthree-, amzn-s3-demo-)"
	// +kubebuilder:validation:XValidation:rule="!self.endsWith('-s3alias') && !self.endsWith('--ol-s3') && !self.endsWith('.mrap') && !self.endsWith('--x-s3') && !self.endsWith('--table-s3')",message="bucket name must not end with a suffix S3 reserves (-s3alias, --ol-s3, .mrap, --x-s3, --table-s3)"
	Name string `json:"name,omitempty"`

	// Region of the bucket; required with create: true, since the bucket is
	// created in it. An existing bucket's region defaults to the
	// ProviderConfig's.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Region string `json:"region,omitempty"`

	// Prefix of the backups' object keys, for example "prod/": at most 256
	// bytes, never starting with a slash, without empty, "." or ".." segments
	// or control characters.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[^/].*$`
	// +kubebuilder:validation:XValidation:rule="size(bytes(self)) <= 256",message="prefix must be at most 256 bytes (UTF-8) so that every object key fits in S3's 1024"
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'(^|/)\.\.?(/|$)')`,message="prefix must not have '.' or '..' segments"
	// +kubebuilder:validation:XValidation:rule="!self.contains('//')",message="prefix must not have empty segments ('//')"
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'\p{Cc}')`,message="prefix must not contain control characters"
	Prefix string `json:"prefix,omitempty"`

	// NoncurrentVersionDays is how many days a created bucket keeps noncurrent
	// object versions. Deleting a backup (by retention, or by deleting its
	// Backup) deletes the current version of its objects; the bucket is
	// versioned, so their data stays as noncurrent versions for this many
	// days, and then S3 deletes it for good. Until then it can be recovered,
	// and it is billed. Not used with create: false: an existing bucket's
	// lifecycle is its owner's.
	// +optional
	// +kubebuilder:default=7
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=36500
	NoncurrentVersionDays *int32 `json:"noncurrentVersionDays,omitempty"`
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
	// Backup is the state of the cluster's scheduled backups, as its
	// BackupSchedule reports it; only with spec.backup, once the schedule's
	// controller has reported on it.
	// +optional
	Backup *BackupStatus `json:"backup,omitempty"`
}

// BackupStatus is the state of a cluster's scheduled backups, copied from
// its BackupSchedule.
type BackupStatus struct {
	// LastSuccessfulTime is when the newest successful backup completed.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`
	// NextTime is when the next backup is due; empty while the schedule is
	// suspended.
	// +optional
	NextTime *metav1.Time `json:"nextTime,omitempty"`
	// Overdue is true when no backup succeeded within two periods of the
	// schedule: the cluster's recovery point objective is missed. The
	// BackupOverdue condition says the same. Always written, false
	// included, once the schedule reports.
	// +optional
	Overdue bool `json:"overdue"`
	// Message says how long the cluster has gone without a successful
	// backup; only when overdue.
	// +optional
	Message string `json:"message,omitempty"`
}

// +kubebuilder:object:root=true

// A QdrantCluster is a Qdrant vector database deployed from the official Helm
// chart, with its API key, connection Secret and optional scheduled backups.
// +kubebuilder:printcolumn:name="PHASE",type="string",JSONPath=".status.phase"
// +kubebuilder:printcolumn:name="REPLICAS",type="integer",JSONPath=".spec.replicas"
// +kubebuilder:printcolumn:name="READY-REPLICAS",type="integer",JSONPath=".status.readyReplicas"
// +kubebuilder:printcolumn:name="VERSION",type="string",JSONPath=".status.version"
// +kubebuilder:printcolumn:name="LAST-BACKUP",type="date",JSONPath=".status.backup.lastSuccessfulTime"
// +kubebuilder:printcolumn:name="BACKUP-OVERDUE",type="boolean",JSONPath=".status.backup.overdue",priority=1
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=qc,categories={crossplane,qdrant}
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 52",message="a QdrantCluster's name must be at most 52 characters: it names the composed BackupSchedule (at most 52), the Helm release (at most 53) and the StatefulSet, whose revision labels add 11"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="a QdrantCluster's name must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter): it names the chart's Services"
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
