// Package backup is the RunBackup use case: it captures every shard of the
// selected collections of a Qdrant cluster, once each, from a peer that holds
// an Active replica, streams each snapshot into the object store while hashing
// it, and writes the manifest last. It knows nothing of Kubernetes; its ports
// are the interfaces below.
package backup

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backupplan"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/sample"
)

// Cluster is what a backup needs from a Qdrant cluster. Shard snapshots are
// read from one named peer, never through a load-balanced endpoint.
type Cluster interface {
	Version(ctx context.Context) (string, error)
	Collections(ctx context.Context) ([]string, error)
	Describe(ctx context.Context, collection string) (Collection, error)
	Placement(ctx context.Context, collection string) ([]backupplan.Shard, error)
	// Aliases maps each collection to its aliases.
	Aliases(ctx context.Context) (map[string][]string, error)
	Count(ctx context.Context, collection string) (uint64, error)
	// Down lists the peers that do not answer now.
	Down(ctx context.Context) map[uint64]bool
	// StreamShard streams a fresh snapshot of one shard from one peer.
	StreamShard(ctx context.Context, peer uint64, collection string, shard uint32) (io.ReadCloser, error)
	// ScrollIDs reads the id of every point of a collection, without
	// vectors or payloads, and hands them to page a page at a time.
	ScrollIDs(ctx context.Context, collection string, page func(ids []json.RawMessage) error) error
	// Retrieve reads points by id with their vectors and payloads; ids that
	// do not exist are left out.
	Retrieve(ctx context.Context, collection string, ids []json.RawMessage) ([]sample.Record, error)
}

// Collection is what recreating a collection needs.
type Collection struct {
	Config            json.RawMessage
	ShardNumber       uint32
	ReplicationFactor uint32
	ShardingMethod    string
	ShardKeys         []json.RawMessage
	PayloadIndexes    map[string]PayloadIndex
}

// A PayloadIndex is an index on a payload field.
type PayloadIndex struct {
	DataType string
	Params   json.RawMessage
}

// Store is the object store.
type Store interface {
	// PutStream stores what open returns, hashing it with sha256. It opens
	// the source only once it holds the memory to move it, and stores
	// nothing unless the source ends with a clean io.EOF.
	PutStream(ctx context.Context, key string, open func(context.Context) (io.ReadCloser, error)) (size int64, sha256Hex string, err error)
	PutBytes(ctx context.Context, key string, b []byte, contentType string) error
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	Head(ctx context.Context, key string) (int64, error)
	// AbortUploads aborts the incomplete multipart uploads under prefix
	// whose keys match.
	AbortUploads(ctx context.Context, prefix string, match func(key string) bool) (int, error)
}

// isNotFound says whether a Store error means the object does not exist: the
// Store's errors say so by behaviour, so the use case needs no adapter type.
func isNotFound(err error) bool {
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}
