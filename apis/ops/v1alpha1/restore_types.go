package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
)

// RestorePhase is where a Restore is in its life.
// +kubebuilder:validation:Enum=Pending;Queued;InProgress;Verifying;Completed;Failed
type RestorePhase string

// Restore phases.
const (
	RestorePending    RestorePhase = "Pending"
	RestoreQueued     RestorePhase = "Queued"
	RestoreInProgress RestorePhase = "InProgress"
	RestoreVerifying  RestorePhase = "Verifying"
	RestoreCompleted  RestorePhase = "Completed"
	RestoreFailed     RestorePhase = "Failed"
)

// RecoveryMethod is how shard snapshots reach Qdrant.
// +kubebuilder:validation:Enum=Auto;URL;Upload
type RecoveryMethod string

// Recovery methods.
const (
	// RecoveryAuto tries presigned URLs and falls back to uploads when Qdrant
	// cannot reach the object store.
	RecoveryAuto RecoveryMethod = "Auto"
	// RecoveryURL lets Qdrant pull each shard from a short-lived presigned URL.
	RecoveryURL RecoveryMethod = "URL"
	// RecoveryUpload streams each shard from the object store to Qdrant.
	RecoveryUpload RecoveryMethod = "Upload"
)

// ExistingCollectionPolicy says what to do with a target collection that exists.
// +kubebuilder:validation:Enum=Fail;Replace
type ExistingCollectionPolicy string

// Existing collection policies.
const (
	ExistingCollectionFail    ExistingCollectionPolicy = "Fail"
	ExistingCollectionReplace ExistingCollectionPolicy = "Replace"
)

// RestoreSource is a backup stored in S3 that no Backup resource describes.
type RestoreSource struct {
	// S3 location of the backup.
	S3 S3BackupPath `json:"s3"`
}

// S3BackupPath is the location of a backup's manifest folder.
type S3BackupPath struct {
	// Bucket name, following S3's naming rules as S3Location's bucket does.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	// +kubebuilder:validation:XValidation:rule="!self.contains('..')",message="bucket name must not contain two adjacent dots"
	// +kubebuilder:validation:XValidation:rule="!self.contains('.-') && !self.contains('-.')",message="bucket name must not have a dot next to a hyphen"
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$')`,message="bucket name must not be formatted as an IP address"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('xn--') && !self.startsWith('sthree-') && !self.startsWith('amzn-s3-demo-')",message="bucket name must not start with a prefix S3 reserves (xn--, sthree-, amzn-s3-demo-)"
	// +kubebuilder:validation:XValidation:rule="!self.endsWith('-s3alias') && !self.endsWith('--ol-s3') && !self.endsWith('.mrap') && !self.endsWith('--x-s3') && !self.endsWith('--table-s3')",message="bucket name must not end with a suffix S3 reserves (-s3alias, --ol-s3, .mrap, --x-s3, --table-s3)"
	Bucket string `json:"bucket"`

	// Path of the backup inside the bucket: the folder holding manifest.json.
	// It is part of object keys, so it has no empty, "." or ".." segments, no
	// control characters and at most 1024 bytes.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^[^/].*$`
	// +kubebuilder:validation:XValidation:rule="size(bytes(self)) <= 1024",message="path must be at most 1024 bytes (UTF-8), S3's limit on object keys"
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'(^|/)\.\.?(/|$)')`,message="path must not have '.' or '..' segments"
	// +kubebuilder:validation:XValidation:rule="!self.contains('//')",message="path must not have empty segments ('//')"
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'\p{Cc}')`,message="path must not contain control characters"
	Path string `json:"path"`

	S3Endpoint `json:",inline"`
}

// CollectionMapping restores a collection under another name.
type CollectionMapping struct {
	// From is the collection's name in the backup.
	From CollectionName `json:"from"`
	// To is the collection's name in the target cluster.
	To CollectionName `json:"to"`
}

// RestoreParameters are the configurable fields of a Restore. A restore runs
// once: its parameters cannot change after creation.
// +kubebuilder:validation:XValidation:rule="has(self.backupRef) != has(self.source)",message="exactly one of backupRef or source must be set"
// +kubebuilder:validation:XValidation:rule="has(self.targetClusterRef) != has(self.targetConnection)",message="exactly one of targetClusterRef or targetConnection must be set"
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a Restore's parameters are immutable; create a new Restore"
// +kubebuilder:validation:XValidation:rule="!has(self.targetClusterRef) || size(self.targetClusterRef.name) <= 63",message="targetClusterRef.name must be at most 63 characters: a QdrantCluster's name is a DNS label"
type RestoreParameters struct {
	// BackupRef names a Backup in the same namespace to restore from.
	// +optional
	BackupRef *LocalReference `json:"backupRef,omitempty"`

	// Source is a backup in S3 that no Backup resource describes.
	// +optional
	Source *RestoreSource `json:"source,omitempty"`

	// TargetClusterRef names the QdrantCluster in the same namespace to
	// restore into.
	// +optional
	TargetClusterRef *LocalReference `json:"targetClusterRef,omitempty"`

	// TargetConnection addresses a Qdrant cluster not managed by qdrantops to
	// restore into.
	// +optional
	TargetConnection *QdrantConnection `json:"targetConnection,omitempty"`

	// Collections of the backup to restore; empty means all of them.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1000
	Collections []CollectionName `json:"collections,omitempty"`

	// CollectionMappings restore collections under new names.
	// +optional
	// +listType=map
	// +listMapKey=from
	// +kubebuilder:validation:MaxItems=1000
	CollectionMappings []CollectionMapping `json:"collectionMappings,omitempty"`

	// ExistingCollectionPolicy says what to do when a target collection exists:
	// Fail (the default) leaves it alone, Replace deletes it first.
	// +optional
	// +kubebuilder:default=Fail
	ExistingCollectionPolicy ExistingCollectionPolicy `json:"existingCollectionPolicy,omitempty"`

	// RecoveryMethod is how shard snapshots reach Qdrant.
	// +optional
	// +kubebuilder:default=Auto
	RecoveryMethod RecoveryMethod `json:"recoveryMethod,omitempty"`

	// Parallelism is the number of shards recovered at once.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=32
	Parallelism *int32 `json:"parallelism,omitempty"`

	// VerifySamplePoints is the number of points per collection whose payload
	// and vectors are compared with the backup after the restore; 0 compares
	// point counts only.
	// +optional
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	VerifySamplePoints *int32 `json:"verifySamplePoints,omitempty"`
}

// RestoredCollection is the result of restoring one collection.
type RestoredCollection struct {
	// Name of the collection in the target cluster.
	Name string `json:"name"`
	// SourceName is the collection's name in the backup.
	SourceName string `json:"sourceName"`
	// ShardsRestored counts the shards recovered.
	ShardsRestored int32 `json:"shardsRestored"`
	// ShardsTotal is the collection's number of shards.
	ShardsTotal int32 `json:"shardsTotal"`
	// Points counted in the target after the restore.
	// +optional
	Points *int64 `json:"points,omitempty"`
	// ExpectedPoints recorded in the manifest.
	// +optional
	ExpectedPoints *int64 `json:"expectedPoints,omitempty"`
	// Verified is true when counts and sampled points match the backup.
	// +optional
	Verified bool `json:"verified,omitempty"`
	// SampledPoints counts the recorded sample points compared with the
	// target, vectors and payload included.
	// +optional
	SampledPoints int32 `json:"sampledPoints,omitempty"`
	// UploadedShards counts the shards streamed through the provider rather
	// than fetched by Qdrant from a presigned URL.
	// +optional
	UploadedShards int32 `json:"uploadedShards,omitempty"`

	// The fields below are the restore's journal, written through the API
	// server as the restore goes, so that a restarted provider resumes it.

	// Created is true when this Restore created, or was about to create, the
	// collection: a collection of this name in the target is its own, not
	// someone else's.
	// +optional
	Created bool `json:"created,omitempty"`
	// Replaced is true when this Restore deleted an existing collection of
	// this name first (existingCollectionPolicy Replace).
	// +optional
	Replaced bool `json:"replaced,omitempty"`
	// RecoveredShards lists the shard ids recovered so far; a resumed
	// restore skips them.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=65536
	RecoveredShards []uint32 `json:"recoveredShards,omitempty"`
}

// Condition types of a Restore besides Crossplane's Ready and Synced.
const (
	// TypeWarning is True when a completed restore differs from its backup
	// in ways that are not failures: a replication factor capped at the
	// target's peers, an alias left pointing elsewhere, counts that differ
	// because the source was written to during the backup.
	TypeWarning xpv2.ConditionType = "Warning"
)

// Reasons of the Warning condition.
const (
	ReasonCompletedWithWarnings xpv2.ConditionReason = "CompletedWithWarnings"
	ReasonNoWarnings            xpv2.ConditionReason = "NoWarnings"
)

// RestoreObservation is the observed state of a Restore.
type RestoreObservation struct {
	// Phase of the restore.
	// +optional
	Phase RestorePhase `json:"phase,omitempty"`

	// StartTime is when the restore started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// CompletionTime is when the restore finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`

	// S3Path is the location of the backup restored from.
	// +optional
	S3Path string `json:"s3Path,omitempty"`

	// SourceQdrantVersion is the Qdrant version the backup was taken from.
	// +optional
	SourceQdrantVersion string `json:"sourceQdrantVersion,omitempty"`

	// TargetQdrantVersion is the Qdrant version of the target cluster.
	// +optional
	TargetQdrantVersion string `json:"targetQdrantVersion,omitempty"`

	// Progress of the restore.
	// +optional
	Progress *Progress `json:"progress,omitempty"`

	// RestoredCollections lists the collections restored so far.
	// +optional
	// +listType=map
	// +listMapKey=name
	RestoredCollections []RestoredCollection `json:"restoredCollections,omitempty"`

	// Verification of the restored data against the backup.
	// +optional
	Verification *Verification `json:"verification,omitempty"`

	// Warnings say what was restored differently from the backup.
	// +optional
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=1024
	Warnings []string `json:"warnings,omitempty"`

	// Attempts counts the runs of the restore started so far. It is persisted
	// before every start or resume, so that a restore that keeps failing, or
	// crashes the provider, cannot retry for ever.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`

	// Error explains why the restore failed.
	// +optional
	Error string `json:"error,omitempty"`
}

// A RestoreSpec defines the desired state of a Restore. Its ProviderConfig
// says where the backup is read from, so it cannot change under a running
// restore once set; it may still be added when an older object has none.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.providerConfigRef) || (has(self.providerConfigRef) && self.providerConfigRef == oldSelf.providerConfigRef)",message="providerConfigRef is immutable: the restore reads from the store it configures"
// +kubebuilder:validation:XValidation:rule="!has(self.providerConfigRef) || size(self.providerConfigRef.name) <= 63",message="providerConfigRef.name must be at most 63 characters: Crossplane labels the ProviderConfigUsage with it, and label values are at most 63"
type RestoreSpec struct {
	xpv2.ManagedResourceSpec `json:",inline"`
	ForProvider              RestoreParameters `json:"forProvider"`
}

// A RestoreStatus represents the observed state of a Restore.
type RestoreStatus struct {
	xpv2.ManagedResourceStatus `json:",inline"`
	AtProvider                 RestoreObservation `json:"atProvider,omitempty"`
}

// +kubebuilder:object:root=true

// A Restore recovers the collections of a backup into a Qdrant cluster.
// +kubebuilder:printcolumn:name="READY",type="string",JSONPath=".status.conditions[?(@.type=='Ready')].status"
// +kubebuilder:printcolumn:name="SYNCED",type="string",JSONPath=".status.conditions[?(@.type=='Synced')].status"
// +kubebuilder:printcolumn:name="PHASE",type="string",JSONPath=".status.atProvider.phase"
// +kubebuilder:printcolumn:name="BACKUP",type="string",JSONPath=".spec.forProvider.backupRef.name"
// +kubebuilder:printcolumn:name="TARGET",type="string",JSONPath=".spec.forProvider.targetClusterRef.name"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=qrs,categories={crossplane,managed,qdrant}
type Restore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RestoreSpec   `json:"spec"`
	Status RestoreStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// RestoreList contains a list of Restore.
type RestoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Restore `json:"items"`
}
