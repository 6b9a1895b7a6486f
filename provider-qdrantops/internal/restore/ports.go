// Package restore is the RunRestore use case: it reads a backup's manifest,
// recreates each selected collection in a target Qdrant cluster with its
// recorded configuration, recovers every shard on a peer that holds a replica
// of it in the new placement, either by handing Qdrant a short-lived
// presigned URL or by streaming the object through, then recreates payload
// indexes and aliases and verifies counts and sampled points. It knows
// nothing of Kubernetes; its ports are the interfaces below.
package restore

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backupplan"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/sample"
)

// Target is what a restore needs from the Qdrant cluster it restores into.
// Shards are recovered on one named peer, never through a load-balanced
// endpoint.
type Target interface {
	// Version is the Qdrant version of the cluster, e.g. "1.19.0".
	Version(ctx context.Context) (string, error)
	// Peers lists the cluster's peer ids.
	Peers(ctx context.Context) ([]uint64, error)
	// Exists says whether a collection, not an alias, has this name.
	Exists(ctx context.Context, collection string) (bool, error)
	// Aliases maps every alias of the cluster to its collection.
	Aliases(ctx context.Context) (map[string]string, error)
	// Create creates a collection from a creation body (PUT /collections/{c}).
	Create(ctx context.Context, collection string, body json.RawMessage) error
	// Delete deletes a collection; deleting one that does not exist is not
	// an error.
	Delete(ctx context.Context, collection string) error
	// CreateShardKey creates a shard key of a custom-sharded collection.
	CreateShardKey(ctx context.Context, collection string, key json.RawMessage, shards, replicationFactor uint32) error
	// Placement reads where every replica of every shard is, and its state.
	Placement(ctx context.Context, collection string) ([]backupplan.Shard, error)
	// RecoverFromURL makes one peer recover a shard from url with
	// priority=snapshot, checking sha256, and waits for it.
	RecoverFromURL(ctx context.Context, peer uint64, collection string, shard uint32, url, sha256 string) error
	// Upload streams a shard snapshot to one peer with priority=snapshot,
	// checking sha256, and waits for the recovery. body is read once.
	Upload(ctx context.Context, peer uint64, collection string, shard uint32, body io.Reader, sha256 string) error
	// Count counts a collection's points exactly.
	Count(ctx context.Context, collection string) (uint64, error)
	// Retrieve reads points with their vectors and payloads; ids that do
	// not exist are left out.
	Retrieve(ctx context.Context, collection string, ids []json.RawMessage) ([]sample.Record, error)
	// CreatePayloadIndex creates a payload index and waits for it.
	CreatePayloadIndex(ctx context.Context, collection, field string, schema json.RawMessage) error
	// CreateAlias points a new alias at a collection.
	CreateAlias(ctx context.Context, alias, collection string) error
}

// Store is the object store holding the backup.
type Store interface {
	// Get opens a small object (a manifest, a sample file).
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	// Head returns an object's size.
	Head(ctx context.Context, key string) (int64, error)
	// Open opens a shard object for streaming; it holds part of the
	// process's transfer memory until closed.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Presign returns a GET URL valid for ttl. The URL is a credential.
	Presign(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// Journal persists what a restore has done, so that a restarted provider
// resumes it: which collections it created (so that they are not taken for
// someone else's) and which shards it recovered. Save is called before each
// collection is created and after each shard is recovered; the restore stops
// if it fails.
type Journal interface {
	Save(ctx context.Context, j Record) error
}

// Record is a restore's journal.
type Record struct {
	// Created lists the target collections this restore created, or is
	// about to create.
	Created []string
	// Replaced lists the target collections this restore deleted first.
	Replaced []string
	// Recovered lists, per target collection, the shards recovered.
	Recovered map[string][]uint32
}

// isNotFound says whether a Store error means the object does not exist.
func isNotFound(err error) bool {
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}
