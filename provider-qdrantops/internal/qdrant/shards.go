package qdrant

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

func shardScope(collection string, shardID uint32) scope {
	s := collectionScope(collection)
	s.path += fmt.Sprintf("/shards/%d", shardID)
	s.desc = fmt.Sprintf("shard %d of collection %q", shardID, collection)
	return s
}

// CreateShardSnapshot snapshots one shard, which must be local to this node.
// A 202 (wait=false) gives a nil description. Not retried.
func (c *Client) CreateShardSnapshot(ctx context.Context, collection string, shardID uint32, wait bool) (*SnapshotDescription, error) {
	return c.createSnapshot(ctx, shardScope(collection, shardID), wait)
}

// ListShardSnapshots lists this node's snapshots of one shard, sorted by name.
func (c *Client) ListShardSnapshots(ctx context.Context, collection string, shardID uint32) ([]SnapshotDescription, error) {
	return c.listSnapshots(ctx, shardScope(collection, shardID))
}

// DownloadShardSnapshot opens a stored shard snapshot; Filename falls back to
// name. The caller must Close Body.
func (c *Client) DownloadShardSnapshot(ctx context.Context, collection string, shardID uint32, name string) (*Download, error) {
	return c.downloadSnapshot(ctx, shardScope(collection, shardID), name)
}

// DeleteShardSnapshot deletes a stored shard snapshot.
func (c *Client) DeleteShardSnapshot(ctx context.Context, collection string, shardID uint32, name string, wait bool) error {
	return c.deleteSnapshot(ctx, shardScope(collection, shardID), name, wait)
}

// RecoverShardSnapshot restores one shard from rec.Location, an http(s) URL
// or the bare name of a snapshot of this shard on the node. The collection
// must exist with a matching configuration: Qdrant does not check it. Not
// retried.
func (c *Client) RecoverShardSnapshot(ctx context.Context, collection string, shardID uint32, rec ShardSnapshotRecover, wait bool) error {
	return c.recoverSnapshot(ctx, shardScope(collection, shardID), rec, wait)
}

// UploadShardSnapshot streams a shard snapshot to Qdrant and restores it.
// body is read once and never buffered; it is not closed.
func (c *Client) UploadShardSnapshot(ctx context.Context, collection string, shardID uint32, body io.Reader, filename string, opts UploadOptions) error {
	return c.uploadSnapshot(ctx, shardScope(collection, shardID), body, filename, opts)
}

// StreamShardSnapshot streams a fresh snapshot of a local shard without
// storing it on the node (GET …/shards/{id}/snapshot). The body is chunked,
// so Size is -1; Qdrant aborts it if the reader stalls for 5 minutes. It
// needs a read-write key. The caller must Close Body.
func (c *Client) StreamShardSnapshot(ctx context.Context, collection string, shardID uint32) (*Download, error) {
	s := shardScope(collection, shardID)
	err := s.err
	var d *Download
	if err == nil {
		d, err = c.download(ctx, &request{method: http.MethodGet, path: s.path + "/snapshot", idempotent: true, stream: true}, "")
	}
	if err != nil {
		return nil, fmt.Errorf("cannot stream snapshot of %s: %w", s.desc, err)
	}
	return d, nil
}
