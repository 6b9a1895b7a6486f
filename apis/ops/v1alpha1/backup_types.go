package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
)

// BackupPhase is where a Backup is in its life.
// +kubebuilder:validation:Enum=Pending;Queued;InProgress;Completed;Failed;Expired;Deleting
type BackupPhase string

// Backup phases.
const (
	BackupPending    BackupPhase = "Pending"
	BackupQueued     BackupPhase = "Queued"
	BackupInProgress BackupPhase = "InProgress"
	BackupCompleted  BackupPhase = "Completed"
	BackupFailed     BackupPhase = "Failed"
	BackupDeleting   BackupPhase = "Deleting"
	// BackupExpired is a backup past its retentionDays: its objects are
	// deleted (unless its management policies keep them) and the Backup
	// stays, saying so, until its owner deletes it. A provider is not
	// granted the deletion of its own managed resources.
	BackupExpired BackupPhase = "Expired"
)

// BackupSource is what a backup captures and where it is stored. Backups and
// BackupSchedules share it.
//
// Every part of an object key is bounded at admission so that the longest key
// a backup writes, a shard's checksum sidecar, fits in S3's 1024 bytes:
//
//	<enforced prefix>/<prefix>/<namespace>/<cluster>/<backup>/collections/<collection>/shards/<id>.snapshot.sha256.json
//
//	prefix a ClusterProviderConfig enforces     128 + 1 separator
//	storage.s3.prefix                           256 + 1 separator (bytes, checked as bytes)
//	namespace, a DNS label                       63 + 1
//	cluster: clusterRef.name <= 63, or the
//	  connection URL's host <= 253               253 + 1
//	backup: a Backup's name                      63 + 1
//	"collections/"                               12
//	collection (bytes, UTF-8)                   200 + 1
//	"shards/"                                     7
//	shard id, a uint32 in decimal                10
//	".snapshot.sha256.json"                      21
//	                                           ----
//	                                           1019 <= 1024
//
// Qdrant allows collection names of 255 characters, up to 1020 bytes, so names
// listed here are held to 200 bytes; when collections is empty the names come
// from Qdrant at run time and only the provider can check them.
// +kubebuilder:validation:XValidation:rule="!has(self.collections) || self.collections.all(c, size(bytes(c)) <= 200)",message="collection names must be at most 200 bytes (UTF-8) to be backed up: longer ones would make object keys exceed S3's 1024 bytes"
type BackupSource struct {
	QdrantTarget `json:",inline"`

	// Storage is where the backup's objects are written.
	Storage Storage `json:"storage"`

	// Collections to back up; empty means every collection of the cluster.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1000
	Collections []CollectionName `json:"collections,omitempty"`

	// Parallelism is the number of shards transferred at once.
	// +optional
	// +kubebuilder:default=4
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=32
	Parallelism *int32 `json:"parallelism,omitempty"`
}

// BackupParameters are the configurable fields of a Backup. What a backup
// captures cannot change once it exists: change it and the stored objects would
// no longer match the resource that describes them.
// +kubebuilder:validation:XValidation:rule="has(self.clusterRef) == has(oldSelf.clusterRef) && (!has(self.clusterRef) || self.clusterRef == oldSelf.clusterRef)",message="clusterRef is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.connection) == has(oldSelf.connection) && (!has(self.connection) || self.connection == oldSelf.connection)",message="connection is immutable"
// +kubebuilder:validation:XValidation:rule="self.storage == oldSelf.storage",message="storage is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.collections) == has(oldSelf.collections) && (!has(self.collections) || self.collections == oldSelf.collections)",message="collections is immutable"
type BackupParameters struct {
	BackupSource `json:",inline"`

	// RetentionDays deletes the backup's objects, unless its management
	// policies keep them, this many days after it completed; the Backup then
	// says Expired until it is deleted. At most 36500 (a hundred years);
	// leave it unset to keep the backup.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=36500
	RetentionDays *int32 `json:"retentionDays,omitempty"`

	// Verify says how a written backup is checked before it is Ready. Basic
	// reads the manifest back and checks that every shard object has its
	// recorded size and the checksum S3 verified on upload; Full also reads
	// every object back and compares its sha256 with the manifest's.
	// +optional
	// +kubebuilder:default=Basic
	Verify VerifyMode `json:"verify,omitempty"`
}

// VerifyMode is how thoroughly a backup is verified.
// +kubebuilder:validation:Enum=Basic;Full
type VerifyMode string

// Verification modes.
const (
	VerifyBasic VerifyMode = "Basic"
	VerifyFull  VerifyMode = "Full"
)

// CollectionBackup summarises what a backup holds of one collection. The
// detail of every shard (its object, size, checksum and source peer) lives in
// the manifest, so that status stays small however many shards there are.
type CollectionBackup struct {
	// Name of the collection.
	Name string `json:"name"`
	// ShardNumber is the collection's number of shards.
	ShardNumber uint32 `json:"shardNumber"`
	// ShardsDone is the number of its shards stored so far.
	ShardsDone uint32 `json:"shardsDone"`
	// SizeBytes of every stored shard snapshot of the collection together.
	SizeBytes int64 `json:"sizeBytes"`
}

// BackupObservation is the observed state of a Backup.
type BackupObservation struct {
	// Phase of the backup.
	// +optional
	Phase BackupPhase `json:"phase,omitempty"`

	// StartTime is when the transfer started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// CompletionTime is when the manifest was written.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// S3Path is the location of the backup, s3://bucket/prefix/namespace/cluster/backup/.
	// +optional
	S3Path string `json:"s3Path,omitempty"`

	// ManifestKey is the object key of the manifest, written last.
	// +optional
	ManifestKey string `json:"manifestKey,omitempty"`

	// ManifestSHA256 is the checksum of the manifest object.
	// +optional
	ManifestSHA256 string `json:"manifestSHA256,omitempty"`

	// QdrantVersion is the version of Qdrant the backup was taken from.
	// +optional
	QdrantVersion string `json:"qdrantVersion,omitempty"`

	// Size of the backup, human readable.
	// +optional
	Size string `json:"size,omitempty"`

	// Progress of the transfer.
	// +optional
	Progress *Progress `json:"progress,omitempty"`

	// Collections backed up, one summary each; per-shard detail is in the
	// manifest.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=1000
	Collections []CollectionBackup `json:"collections,omitempty"`

	// Verification of the written backup against its manifest.
	// +optional
	Verification *Verification `json:"verification,omitempty"`

	// Attempts counts the runs of the backup started so far. It is persisted
	// before every start or resume, so that a provider that crashes mid-run
	// cannot retry for ever.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`

	// ShardsReused counts the shards kept from an earlier, interrupted run
	// of this same Backup.
	// +optional
	ShardsReused int32 `json:"shardsReused,omitempty"`

	// Error explains why the backup failed.
	// +optional
	Error string `json:"error,omitempty"`
}

// A BackupSpec defines the desired state of a Backup. Its ProviderConfig says
// where storage lives (endpoint, credentials, default bucket and prefix), so it
// is as immutable as storage itself once set. It may still be added when an
// older object has none.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.providerConfigRef) || (has(self.providerConfigRef) && self.providerConfigRef == oldSelf.providerConfigRef)",message="providerConfigRef is immutable: the backup's objects live in the store it configures"
// +kubebuilder:validation:XValidation:rule="!has(self.providerConfigRef) || size(self.providerConfigRef.name) <= 63",message="providerConfigRef.name must be at most 63 characters: Crossplane labels the ProviderConfigUsage with it, and label values are at most 63"
type BackupSpec struct {
	xpv2.ManagedResourceSpec `json:",inline"`
	ForProvider              BackupParameters `json:"forProvider"`
}

// A BackupStatus represents the observed state of a Backup.
type BackupStatus struct {
	xpv2.ManagedResourceStatus `json:",inline"`
	AtProvider                 BackupObservation `json:"atProvider,omitempty"`
}

// +kubebuilder:object:root=true

// A Backup captures every shard of the selected collections of a Qdrant
// cluster into S3, with a manifest written last.
// +kubebuilder:printcolumn:name="READY",type="string",JSONPath=".status.conditions[?(@.type=='Ready')].status"
// +kubebuilder:printcolumn:name="SYNCED",type="string",JSONPath=".status.conditions[?(@.type=='Synced')].status"
// +kubebuilder:printcolumn:name="PHASE",type="string",JSONPath=".status.atProvider.phase"
// +kubebuilder:printcolumn:name="CLUSTER",type="string",JSONPath=".spec.forProvider.clusterRef.name"
// +kubebuilder:printcolumn:name="SIZE",type="string",JSONPath=".status.atProvider.size"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=qbk,categories={crossplane,managed,qdrant}
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="a Backup's name must be at most 63 characters: it is a segment of every object key of the backup"
type Backup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BackupSpec   `json:"spec"`
	Status BackupStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BackupList contains a list of Backup.
type BackupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Backup `json:"items"`
}
