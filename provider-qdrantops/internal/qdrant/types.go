package qdrant

import (
	"encoding/json"
	"fmt"
	"io"
)

// VersionInfo is the body of GET /, which has no envelope.
type VersionInfo struct {
	Title   string `json:"title"`
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
}

// Cluster status values of ClusterInfo.Status.
const (
	ClusterStatusDisabled = "disabled"
	ClusterStatusEnabled  = "enabled"
)

// ClusterInfo is the result of GET /cluster. In standalone mode only Status
// is set.
type ClusterInfo struct {
	Status string `json:"status"`
	PeerID uint64 `json:"peer_id,omitempty"`
	// Peers is keyed by peer id; Qdrant sends the ids as JSON object keys,
	// i.e. strings, which encoding/json converts.
	Peers                 map[uint64]PeerInfo    `json:"peers,omitempty"`
	RaftInfo              *RaftInfo              `json:"raft_info,omitempty"`
	ConsensusThreadStatus *ConsensusThreadStatus `json:"consensus_thread_status,omitempty"`
}

// PeerInfo holds a peer's internal p2p (gRPC) URI, not its REST address.
type PeerInfo struct {
	URI string `json:"uri"`
}

// RaftInfo summarises the consensus state seen by the answering peer.
type RaftInfo struct {
	Term              uint64  `json:"term"`
	Commit            uint64  `json:"commit"`
	PendingOperations uint64  `json:"pending_operations"`
	Leader            *uint64 `json:"leader"`
	Role              *string `json:"role"`
	IsVoter           bool    `json:"is_voter"`
}

// ConsensusThreadStatus is "working", "stopped" or "stopped_with_err".
type ConsensusThreadStatus struct {
	Status string `json:"consensus_thread_status"`
	Err    string `json:"err,omitempty"`
}

// ReplicaState is the state of one shard replica.
type ReplicaState string

// Replica states known up to Qdrant 1.19. Only Active and
// ReshardingScaleDown replicas are a source of truth.
const (
	ReplicaStateActive              ReplicaState = "Active"
	ReplicaStateDead                ReplicaState = "Dead"
	ReplicaStatePartial             ReplicaState = "Partial"
	ReplicaStateInitializing        ReplicaState = "Initializing"
	ReplicaStateListener            ReplicaState = "Listener"
	ReplicaStatePartialSnapshot     ReplicaState = "PartialSnapshot"
	ReplicaStateRecovery            ReplicaState = "Recovery"
	ReplicaStateResharding          ReplicaState = "Resharding"
	ReplicaStateReshardingScaleDown ReplicaState = "ReshardingScaleDown"
	ReplicaStateActiveRead          ReplicaState = "ActiveRead"
	ReplicaStateManualRecovery      ReplicaState = "ManualRecovery"
)

// CollectionClusterInfo is the result of GET /collections/{c}/cluster as
// seen by the answering peer.
type CollectionClusterInfo struct {
	PeerID               uint64              `json:"peer_id"`
	ShardCount           uint32              `json:"shard_count"`
	LocalShards          []LocalShardInfo    `json:"local_shards"`
	RemoteShards         []RemoteShardInfo   `json:"remote_shards"`
	ShardTransfers       []ShardTransferInfo `json:"shard_transfers"`
	ReshardingOperations []ReshardingInfo    `json:"resharding_operations,omitempty"`
}

// LocalShardInfo is a replica held by the answering peer. PointsCount is an
// estimate.
type LocalShardInfo struct {
	ShardID     uint32       `json:"shard_id"`
	PointsCount uint64       `json:"points_count"`
	State       ReplicaState `json:"state"`
	ShardKey    *ShardKey    `json:"shard_key,omitempty"`
}

// RemoteShardInfo is a replica held by another peer.
type RemoteShardInfo struct {
	ShardID  uint32       `json:"shard_id"`
	PeerID   uint64       `json:"peer_id"`
	State    ReplicaState `json:"state"`
	ShardKey *ShardKey    `json:"shard_key,omitempty"`
}

// ShardTransferInfo is a running shard transfer.
type ShardTransferInfo struct {
	ShardID   uint32  `json:"shard_id"`
	ToShardID *uint32 `json:"to_shard_id,omitempty"`
	From      uint64  `json:"from"`
	To        uint64  `json:"to"`
	Sync      bool    `json:"sync"`
	Method    string  `json:"method,omitempty"`
	Comment   string  `json:"comment,omitempty"`
}

// ReshardingInfo is a running resharding operation.
type ReshardingInfo struct {
	Direction string    `json:"direction"`
	ShardID   uint32    `json:"shard_id"`
	PeerID    uint64    `json:"peer_id"`
	ShardKey  *ShardKey `json:"shard_key,omitempty"`
}

// CollectionInfo is the result of GET /collections/{c}.
type CollectionInfo struct {
	Status              string                      `json:"status"`
	OptimizerStatus     json.RawMessage             `json:"optimizer_status,omitempty"`
	PointsCount         *uint64                     `json:"points_count"`
	IndexedVectorsCount *uint64                     `json:"indexed_vectors_count,omitempty"`
	SegmentsCount       uint64                      `json:"segments_count"`
	PayloadSchema       map[string]PayloadIndexInfo `json:"payload_schema"`
	// RawConfig is the "config" object exactly as Qdrant sent it; a backup
	// stores it verbatim so that fields this client does not know survive.
	RawConfig json.RawMessage `json:"config"`
	// Config is RawConfig decoded into the fields a restore needs.
	Config CollectionConfig `json:"-"`
}

// UnmarshalJSON fills Config from RawConfig.
func (ci *CollectionInfo) UnmarshalJSON(b []byte) error {
	type plain CollectionInfo // drops this method, avoiding recursion
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*ci = CollectionInfo(p)
	if len(ci.RawConfig) == 0 || string(ci.RawConfig) == "null" {
		return nil
	}
	if err := json.Unmarshal(ci.RawConfig, &ci.Config); err != nil {
		return fmt.Errorf("cannot decode collection config: %w", err)
	}
	return nil
}

// CollectionConfig is the typed view of a collection's configuration.
type CollectionConfig struct {
	Params             CollectionParams `json:"params"`
	HNSWConfig         json.RawMessage  `json:"hnsw_config,omitempty"`
	OptimizerConfig    json.RawMessage  `json:"optimizer_config,omitempty"`
	WALConfig          json.RawMessage  `json:"wal_config,omitempty"`
	QuantizationConfig json.RawMessage  `json:"quantization_config,omitempty"`
	StrictModeConfig   json.RawMessage  `json:"strict_mode_config,omitempty"`
	Metadata           json.RawMessage  `json:"metadata,omitempty"`
}

// CollectionParams are the parameters fixed at creation that a restore must
// reproduce: shard recovery does no compatibility check of its own.
type CollectionParams struct {
	Vectors                json.RawMessage `json:"vectors,omitempty"`
	ShardNumber            uint32          `json:"shard_number"`
	ReplicationFactor      uint32          `json:"replication_factor"`
	WriteConsistencyFactor uint32          `json:"write_consistency_factor"`
	ShardingMethod         string          `json:"sharding_method,omitempty"`
	SparseVectors          json.RawMessage `json:"sparse_vectors,omitempty"`
	OnDiskPayload          *bool           `json:"on_disk_payload,omitempty"`
}

// PayloadIndexInfo describes one payload index of a collection.
type PayloadIndexInfo struct {
	DataType string          `json:"data_type"`
	Params   json.RawMessage `json:"params,omitempty"`
	Points   uint64          `json:"points"`
}

// Sharding methods of CollectionParams.ShardingMethod.
const (
	ShardingMethodAuto   = "auto"
	ShardingMethodCustom = "custom"
)

// CreateCollection is the body of PUT /collections/{c}. Nil and empty
// fields are omitted so Qdrant applies its defaults.
type CreateCollection struct {
	Vectors                json.RawMessage `json:"vectors,omitempty"`
	ShardNumber            *uint32         `json:"shard_number,omitempty"`
	ReplicationFactor      *uint32         `json:"replication_factor,omitempty"`
	WriteConsistencyFactor *uint32         `json:"write_consistency_factor,omitempty"`
	ShardingMethod         string          `json:"sharding_method,omitempty"`
	OnDiskPayload          *bool           `json:"on_disk_payload,omitempty"`
	SparseVectors          json.RawMessage `json:"sparse_vectors,omitempty"`
	HNSWConfig             json.RawMessage `json:"hnsw_config,omitempty"`
	WALConfig              json.RawMessage `json:"wal_config,omitempty"`
	OptimizersConfig       json.RawMessage `json:"optimizers_config,omitempty"`
	QuantizationConfig     json.RawMessage `json:"quantization_config,omitempty"`
}

// Alias maps an alias to a collection.
type Alias struct {
	AliasName      string `json:"alias_name"`
	CollectionName string `json:"collection_name"`
}

// AliasAction is one step of an atomic alias change. Exactly one field must
// be set; use CreateAliasAction, DeleteAliasAction or RenameAliasAction.
type AliasAction struct {
	CreateAlias *Alias       `json:"create_alias,omitempty"`
	DeleteAlias *DeleteAlias `json:"delete_alias,omitempty"`
	RenameAlias *RenameAlias `json:"rename_alias,omitempty"`
}

// DeleteAlias names the alias to delete.
type DeleteAlias struct {
	AliasName string `json:"alias_name"`
}

// RenameAlias renames an alias.
type RenameAlias struct {
	OldAliasName string `json:"old_alias_name"`
	NewAliasName string `json:"new_alias_name"`
}

// CreateAliasAction points alias at collection.
func CreateAliasAction(alias, collection string) AliasAction {
	return AliasAction{CreateAlias: &Alias{AliasName: alias, CollectionName: collection}}
}

// DeleteAliasAction removes alias if it exists.
func DeleteAliasAction(alias string) AliasAction {
	return AliasAction{DeleteAlias: &DeleteAlias{AliasName: alias}}
}

// RenameAliasAction renames alias from to to.
func RenameAliasAction(from, to string) AliasAction {
	return AliasAction{RenameAlias: &RenameAlias{OldAliasName: from, NewAliasName: to}}
}

// Point is one point to upsert. Vector is any Qdrant vector form: a dense
// array, a multi-vector, or an object of named vectors.
type Point struct {
	ID      PointID         `json:"id"`
	Vector  json.RawMessage `json:"vector"`
	Payload map[string]any  `json:"payload,omitempty"`
}

// Record is a stored point as read back.
type Record struct {
	ID       PointID         `json:"id"`
	Payload  map[string]any  `json:"payload,omitempty"`
	Vector   json.RawMessage `json:"vector,omitempty"`
	ShardKey *ShardKey       `json:"shard_key,omitempty"`
}

// ScrollRequest selects a page of points. A nil Limit lets Qdrant use its
// default (10); a nil Offset starts at the beginning.
type ScrollRequest struct {
	Limit       *uint32  `json:"limit,omitempty"`
	Offset      *PointID `json:"offset,omitempty"`
	WithPayload bool     `json:"with_payload"`
	WithVector  bool     `json:"with_vector"`
}

// ScrollResult is a page of points; NextPageOffset is nil on the last page.
type ScrollResult struct {
	Points         []Record `json:"points"`
	NextPageOffset *PointID `json:"next_page_offset"`
}

// Priority chooses the source of truth when recovering a snapshot. Always
// pass one: Qdrant's default changed from replica to snapshot in 1.10.
type Priority string

// Snapshot recovery priorities.
const (
	PrioritySnapshot Priority = "snapshot"
	PriorityReplica  Priority = "replica"
	PriorityNoSync   Priority = "no_sync"
)

// SnapshotDescription describes a snapshot file on a node.
type SnapshotDescription struct {
	Name string `json:"name"`
	// CreationTime is a naive timestamp such as "2026-08-04T10:49:10" (no
	// zone, UTC in practice); nil when the filesystem cannot tell.
	CreationTime *string `json:"creation_time"`
	Size         int64   `json:"size"`
	// Checksum is the lower-case hex SHA-256; empty when unknown (S3 mode).
	Checksum string `json:"checksum,omitempty"`
}

// SnapshotRecover is the body of PUT …/snapshots/recover. Location is a
// credential when presigned: it never appears in errors.
type SnapshotRecover struct {
	Location string   `json:"location"`
	Priority Priority `json:"priority,omitempty"`
	Checksum string   `json:"checksum,omitempty"`
	// APIKey is sent by Qdrant as the api-key header when fetching Location.
	APIKey string `json:"api_key,omitempty"`
}

// ShardSnapshotRecover is the body of PUT …/shards/{id}/snapshots/recover.
// Location is an http(s) URL or the bare name of a snapshot in the shard's
// snapshot directory (which Qdrant fetches from S3 in S3 mode).
type ShardSnapshotRecover = SnapshotRecover

// UploadOptions are the query parameters of a snapshot upload.
type UploadOptions struct {
	Priority Priority
	Checksum string
	Wait     bool
}

// Download is a snapshot stream. The caller must Close Body; the stream is
// bound to the context of the call that opened it.
type Download struct {
	Body io.ReadCloser
	// Size is the Content-Length, or -1 when Qdrant streams without one
	// (streamed shard snapshots, S3 mode).
	Size int64
	// Filename comes from Content-Disposition; see each method for fallbacks.
	Filename string
}
