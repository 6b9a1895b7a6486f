// Package qdrantcluster addresses a Qdrant cluster node by node. Cluster-wide
// reads go to any node that answers; shard snapshots go to the one peer asked
// for, by its own REST URL, never through a load-balanced endpoint that would
// reach a random node.
package qdrantcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backup"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backupplan"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrant"
)

// Options say how to reach a cluster.
type Options struct {
	// URL of any node, or of a Service in front of them: used for
	// cluster-wide reads and discovery only.
	URL string
	// PeerURLs are the nodes' own REST URLs. When empty, they are derived
	// from the peers' p2p URIs: same host, URL's port.
	PeerURLs []string
	APIKey   string
	CAPEM    []byte
	// HealthTimeout bounds the check of each peer; 2 s when zero.
	HealthTimeout time.Duration
	// ResponseHeaderTimeout and IdleReadTimeout bound every call to a node
	// that stops answering; zero takes the qdrant package's defaults (see
	// qdrant.Config).
	ResponseHeaderTimeout time.Duration
	IdleReadTimeout       time.Duration
}

// config is a node client's configuration.
func (o Options) config(url string) qdrant.Config {
	return qdrant.Config{URL: url, APIKey: o.APIKey, CAPEM: o.CAPEM,
		ResponseHeaderTimeout: o.ResponseHeaderTimeout, IdleReadTimeout: o.IdleReadTimeout}
}

// A Cluster is a connected Qdrant cluster.
type Cluster struct {
	entry *qdrant.Client
	// mu guards peers: a standalone node learns its peer id from the first
	// placement read, while shard streams may already look peers up.
	mu         sync.RWMutex
	peers      map[uint64]*qdrant.Client
	known      []uint64 // every peer of the cluster, mapped to a URL or not
	standalone bool
	timeout    time.Duration
}

var _ backup.Cluster = &Cluster{}

// Connect discovers the cluster's peers and which REST URL serves each.
// maxPeers bounds the peers a cluster may report.
const maxPeers = 1000

func Connect(ctx context.Context, o Options) (*Cluster, error) {
	entry, err := qdrant.New(o.config(o.URL))
	if err != nil {
		return nil, err
	}
	c := &Cluster{entry: entry, peers: map[uint64]*qdrant.Client{}, timeout: o.HealthTimeout}
	if c.timeout == 0 {
		c.timeout = 2 * time.Second
	}
	info, err := entry.Cluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot read cluster status: %w", err)
	}
	if info.Status != qdrant.ClusterStatusEnabled {
		// Standalone: the one node is its own peer; CollectionCluster names it.
		c.standalone = true
		return c, nil
	}
	// A Qdrant cluster has a handful of peers; a server that reports
	// thousands is not one, and each peer costs a client.
	if len(info.Peers) > maxPeers {
		return nil, fmt.Errorf("the cluster reports %d peers, more than the %d a Qdrant cluster can have here", len(info.Peers), maxPeers)
	}
	for id := range info.Peers {
		c.known = append(c.known, id)
	}
	sort.Slice(c.known, func(i, j int) bool { return c.known[i] < c.known[j] })
	urls := o.PeerURLs
	if len(urls) == 0 {
		urls = derive(o.URL, info.Peers)
	}
	for _, u := range urls {
		cl, err := qdrant.New(o.config(u))
		if err != nil {
			return nil, err
		}
		// Each node names itself: that maps a URL to a peer id without
		// relying on naming conventions.
		hctx, cancel := context.WithTimeout(ctx, c.timeout)
		self, err := cl.Cluster(hctx)
		cancel()
		if err != nil {
			continue // A node that is down now is reported by Down.
		}
		c.peers[self.PeerID] = cl
	}
	// A one-node cluster is its own entry point. With more nodes the entry
	// URL may be a Service that reaches any of them, so it never stands in
	// for a peer.
	if _, ok := c.peers[info.PeerID]; !ok && len(info.Peers) == 1 {
		c.peers[info.PeerID] = entry
	}
	return c, nil
}

// derive maps peers' p2p URIs (http://host:6335/) to REST URLs on the entry
// URL's scheme and port, the convention of Qdrant's Helm chart.
func derive(entry string, peers map[uint64]qdrant.PeerInfo) []string {
	e, err := url.Parse(entry)
	if err != nil {
		return nil
	}
	port := e.Port()
	if port == "" {
		port = "6333"
	}
	var out []string
	for _, p := range peers {
		u, err := url.Parse(p.URI)
		if err != nil || u.Hostname() == "" {
			continue
		}
		out = append(out, fmt.Sprintf("%s://%s", e.Scheme, net.JoinHostPort(u.Hostname(), port)))
	}
	sort.Strings(out)
	return out
}

// clients returns the entry client first, then every peer's.
func (c *Cluster) clients() []*qdrant.Client {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := []*qdrant.Client{c.entry}
	for _, id := range c.sortedPeers() {
		out = append(out, c.peers[id])
	}
	return out
}

// sortedPeers is called with mu held.
func (c *Cluster) sortedPeers() []uint64 {
	ids := make([]uint64, 0, len(c.peers))
	for id := range c.peers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// any runs a cluster-wide read on the first node that answers. Errors other
// than an unreachable node (a 404, say) are answers, not reasons to go on.
func (c *Cluster) any(ctx context.Context, f func(*qdrant.Client) error) error {
	var errs []error
	for _, cl := range c.clients() {
		err := f(cl)
		if err == nil {
			return nil
		}
		if !qdrant.IsRetryable(err) {
			return err
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// Version is the Qdrant version of the node that answers.
func (c *Cluster) Version(ctx context.Context) (string, error) {
	var v string
	err := c.any(ctx, func(cl *qdrant.Client) error {
		info, err := cl.Version(ctx)
		v = info.Version
		return err
	})
	return v, err
}

// Collections lists the collections.
func (c *Cluster) Collections(ctx context.Context) ([]string, error) {
	var out []string
	err := c.any(ctx, func(cl *qdrant.Client) error {
		var err error
		out, err = cl.ListCollections(ctx)
		return err
	})
	return out, err
}

// Describe reads what recreating a collection needs.
func (c *Cluster) Describe(ctx context.Context, collection string) (backup.Collection, error) {
	var info qdrant.CollectionInfo
	if err := c.any(ctx, func(cl *qdrant.Client) error {
		var err error
		info, err = cl.Collection(ctx, collection)
		return err
	}); err != nil {
		return backup.Collection{}, err
	}
	p := info.Config.Params
	out := backup.Collection{
		Config: info.RawConfig, ShardNumber: p.ShardNumber, ReplicationFactor: p.ReplicationFactor,
		ShardingMethod: p.ShardingMethod, PayloadIndexes: map[string]backup.PayloadIndex{},
	}
	for f, idx := range info.PayloadSchema {
		out.PayloadIndexes[f] = backup.PayloadIndex{DataType: idx.DataType, Params: idx.Params}
	}
	if p.ShardingMethod == "custom" {
		shards, err := c.Placement(ctx, collection)
		if err != nil {
			return backup.Collection{}, err
		}
		seen := map[string]bool{}
		for _, s := range shards {
			if len(s.Key) > 0 && !seen[string(s.Key)] {
				seen[string(s.Key)] = true
				out.ShardKeys = append(out.ShardKeys, s.Key)
			}
		}
	}
	return out, nil
}

// Placement reads where every replica of every shard is, and its state.
func (c *Cluster) Placement(ctx context.Context, collection string) ([]backupplan.Shard, error) {
	var info qdrant.CollectionClusterInfo
	if err := c.any(ctx, func(cl *qdrant.Client) error {
		var err error
		info, err = cl.CollectionCluster(ctx, collection)
		return err
	}); err != nil {
		return nil, err
	}
	byID := map[uint32]*backupplan.Shard{}
	var order []uint32
	add := func(id uint32, key *qdrant.ShardKey, peer uint64, state qdrant.ReplicaState) {
		s, ok := byID[id]
		if !ok {
			s = &backupplan.Shard{ID: id}
			if key != nil {
				s.Key, _ = json.Marshal(key)
			}
			byID[id] = s
			order = append(order, id)
		}
		s.Replicas = append(s.Replicas, backupplan.Replica{Peer: peer, State: backupplan.ReplicaState(state)})
	}
	for _, l := range info.LocalShards {
		add(l.ShardID, l.ShardKey, info.PeerID, l.State)
	}
	for _, r := range info.RemoteShards {
		add(r.ShardID, r.ShardKey, r.PeerID, r.State)
	}
	if c.standalone {
		c.mu.Lock()
		c.peers[info.PeerID] = c.entry
		c.mu.Unlock()
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	out := make([]backupplan.Shard, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	return out, nil
}

// Aliases maps collections to their aliases.
func (c *Cluster) Aliases(ctx context.Context) (map[string][]string, error) {
	var as []qdrant.Alias
	if err := c.any(ctx, func(cl *qdrant.Client) error {
		var err error
		as, err = cl.Aliases(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, a := range as {
		out[a.CollectionName] = append(out[a.CollectionName], a.AliasName)
	}
	return out, nil
}

// Count counts a collection's points exactly.
func (c *Cluster) Count(ctx context.Context, collection string) (uint64, error) {
	var n uint64
	err := c.any(ctx, func(cl *qdrant.Client) error {
		var err error
		n, err = cl.Count(ctx, collection, true)
		return err
	})
	return n, err
}

// Down lists the peers that have no known REST URL or do not answer now.
func (c *Cluster) Down(ctx context.Context) map[uint64]bool {
	down := map[uint64]bool{}
	for _, id := range c.known {
		cl, ok := c.Peer(id)
		if !ok {
			down[id] = true
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, c.timeout)
		if err := cl.Healthz(hctx); err != nil {
			down[id] = true
		}
		cancel()
	}
	return down
}

// StreamShard streams a fresh snapshot of a shard from one peer.
func (c *Cluster) StreamShard(ctx context.Context, peer uint64, collection string, shard uint32) (io.ReadCloser, error) {
	cl, ok := c.Peer(peer)
	if !ok {
		return nil, fmt.Errorf("no REST URL is known for peer %d; list every node in the connection's peerURLs", peer)
	}
	dl, err := cl.StreamShardSnapshot(ctx, collection, shard)
	if err != nil {
		return nil, err
	}
	return dl.Body, nil
}

// Peer returns the client of one peer, for restores.
func (c *Cluster) Peer(id uint64) (*qdrant.Client, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cl, ok := c.peers[id]
	return cl, ok
}
