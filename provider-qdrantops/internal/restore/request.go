package restore

import (
	"time"
)

// Method is how shard snapshots reach Qdrant.
type Method string

// Methods.
const (
	// MethodAuto tries a presigned URL and falls back to an upload for a
	// shard whose URL Qdrant cannot fetch.
	MethodAuto Method = "Auto"
	// MethodURL lets Qdrant pull each shard from a presigned URL: no
	// snapshot byte passes through the provider.
	MethodURL Method = "URL"
	// MethodUpload streams each shard from the store to Qdrant.
	MethodUpload Method = "Upload"
)

// Policy says what to do with a target collection that exists.
type Policy string

// Policies.
const (
	PolicyFail    Policy = "Fail"
	PolicyReplace Policy = "Replace"
)

// A Request is one restore to run.
type Request struct {
	// Root is the backup's folder in the store, ending in "/".
	Root string
	// BackupUID, when set, is the uid the manifest must name: the restore
	// reads the backup of that Backup resource and no other.
	BackupUID string
	// Collections of the backup to restore; empty means all.
	Collections []string
	// Mappings renames collections: backup name to target name.
	Mappings map[string]string
	Policy   Policy
	Method   Method
	// Parallelism bounds the shards recovered at once.
	Parallelism int
	// SamplePoints is the number of recorded sample points compared per
	// collection; 0 compares counts only.
	SamplePoints int
	// URLTTL is the lifetime of each presigned URL; a URL is made just
	// before its shard is recovered.
	URLTTL time.Duration
	// Attempts bounds the tries of each shard.
	Attempts int
	// RetryDelay is the first wait between tries; it doubles up to a minute.
	RetryDelay time.Duration
	// ShardGrace and MinRate bound each shard's recovery: it may take
	// ShardGrace plus one second per MinRate bytes of its snapshot, so
	// that a node that hangs cannot hold the restore for ever.
	ShardGrace time.Duration
	MinRate    int64
	// OpTimeout bounds each call that changes the target but a shard's
	// recovery: creations, shard keys, payload indexes, aliases, which
	// Qdrant answers only once done.
	OpTimeout time.Duration
	// ActiveTimeout bounds the wait for every replica to become Active.
	ActiveTimeout time.Duration
	// PollInterval is the wait between two looks at replica states.
	PollInterval time.Duration
	// Resume is the journal of an earlier run of the same restore.
	Resume Record
	// Journal persists progress; nil keeps none.
	Journal Journal
	Now     func() time.Time
	// Report receives the progress after every change, one call at a time;
	// it must not block.
	Report func(Status)
}

// Status is a restore's progress.
type Status struct {
	Phase         Phase
	SourceVersion string
	TargetVersion string
	// Collections in the order they are restored.
	Collections []CollectionStatus
	ShardsTotal int
	ShardsDone  int
	// ShardsSkipped counts shards recovered by an earlier run.
	ShardsSkipped int
	// BytesUploaded counts the snapshot bytes streamed through the provider.
	BytesUploaded int64
	// BytesByURL counts the snapshot bytes Qdrant fetched itself.
	BytesByURL int64
	// Warnings say what was restored differently from the backup, sorted.
	Warnings []string
	// Retrying explains the latest failed try that will be retried.
	Retrying string
}

// Phase is where a restore is.
type Phase string

// Phases reported while running.
const (
	PhaseInProgress Phase = "InProgress"
	PhaseVerifying  Phase = "Verifying"
	PhaseCompleted  Phase = "Completed"
)

// CollectionStatus is the progress of one collection.
type CollectionStatus struct {
	// Name in the target.
	Name string
	// Source is the name in the backup.
	Source         string
	ShardsTotal    int
	ShardsRestored int
	ExpectedPoints uint64
	// Points counted after the restore; nil until counted.
	Points *uint64
	// SampledPoints is the number of sample points compared.
	SampledPoints int
	Verified      bool
	// Created is true when this restore created the collection.
	Created bool
	// UploadedShards counts shards streamed through the provider, by
	// choice or because Qdrant could not fetch their URL.
	UploadedShards int
}

// Error is a failure with a message fit for a condition: what failed and
// what to do. Permanent errors are not worth retrying the restore for.
type Error struct {
	Reason    string
	Message   string
	Permanent bool
	Err       error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Reasons of Error, CamelCase as condition reasons are.
const (
	ReasonInvalidSource       = "InvalidSource"
	ReasonManifestNotFound    = "ManifestNotFound"
	ReasonInvalidManifest     = "InvalidManifest"
	ReasonStorageFailed       = "StorageFailed"
	ReasonQdrantUnreachable   = "QdrantUnreachable"
	ReasonVersionTooOld       = "TargetVersionTooOld"
	ReasonUnknownCollection   = "UnknownCollection"
	ReasonCollectionExists    = "CollectionExists"
	ReasonCreateFailed        = "CreateCollectionFailed"
	ReasonShardFailed         = "ShardFailed"
	ReasonReplicasNotActive   = "ReplicasNotActive"
	ReasonVerificationFailed  = "VerificationFailed"
	ReasonJournalFailed       = "JournalFailed"
	ReasonShardLayoutMismatch = "ShardLayoutMismatch"
)
