package qdrant

import (
	"context"
	"fmt"
	"net/http"
)

// Cluster returns the consensus view of the answering node (GET /cluster).
// Peer URIs are p2p addresses, not REST ones.
func (c *Client) Cluster(ctx context.Context) (ClusterInfo, error) {
	var info ClusterInfo
	r := &request{method: http.MethodGet, path: "/cluster", idempotent: true}
	if _, err := c.doJSON(ctx, r, &info); err != nil {
		return ClusterInfo{}, fmt.Errorf("cannot get cluster info: %w", err)
	}
	return info, nil
}

// CollectionCluster returns the shard placement of a collection as seen by
// the answering node (GET /collections/{c}/cluster): its local replicas with
// point estimates, the remote replicas and running transfers.
func (c *Client) CollectionCluster(ctx context.Context, collection string) (CollectionClusterInfo, error) {
	var info CollectionClusterInfo
	p, err := collectionPath(collection)
	if err == nil {
		r := &request{method: http.MethodGet, path: p + "/cluster", idempotent: true}
		_, err = c.doJSON(ctx, r, &info)
	}
	if err != nil {
		return CollectionClusterInfo{}, fmt.Errorf("cannot get cluster info of collection %q: %w", collection, err)
	}
	return info, nil
}
