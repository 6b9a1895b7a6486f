package qdrantcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backupplan"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrant"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/restore"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/sample"
)

var _ restore.Target = (*Target)(nil)

// Settling defaults: how long a change (a new collection, a shard key, a
// deletion) may take to reach every peer through consensus, and how often
// the peers are asked.
const (
	DefaultSettleTimeout = time.Minute
	settlePoll           = 100 * time.Millisecond
)

// A Target is a Cluster that a backup is restored into. Cluster-wide calls go
// to a node that answers; a shard is recovered on the one peer named, by its
// own REST URL. A change made through one node is waited for on every peer
// with a known URL, since the next call may go to any of them.
type Target struct {
	c *Cluster
	// SettleTimeout bounds the wait for a change to reach every peer;
	// DefaultSettleTimeout when zero.
	SettleTimeout time.Duration
}

// NewTarget returns c as a restore's target.
func NewTarget(c *Cluster) *Target { return &Target{c: c} }

// Version is the Qdrant version of a node that answers.
func (t *Target) Version(ctx context.Context) (string, error) { return t.c.Version(ctx) }

// Peers lists the peer ids of GET /cluster, sorted. A standalone node has
// one peer, whose id Qdrant only tells through a collection's placement: it
// is read from any collection there is, and is 0 when there is none (a
// restore then only counts it; Placement names it once a collection exists).
func (t *Target) Peers(ctx context.Context) ([]uint64, error) {
	if t.c.standalone {
		return t.standalonePeer(ctx)
	}
	var info qdrant.ClusterInfo
	if err := t.c.any(ctx, func(cl *qdrant.Client) error {
		var err error
		info, err = cl.Cluster(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	if info.Status != qdrant.ClusterStatusEnabled || len(info.Peers) == 0 {
		return nil, fmt.Errorf("the cluster's status is %q with %d peers, where it had peers when connected", info.Status, len(info.Peers))
	}
	ids := make([]uint64, 0, len(info.Peers))
	for id := range info.Peers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

func (t *Target) standalonePeer(ctx context.Context) ([]uint64, error) {
	if ids := t.c.knownPeers(); len(ids) > 0 {
		return ids, nil
	}
	names, err := t.c.Collections(ctx)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if _, err := t.c.Placement(ctx, name); err == nil {
			return t.c.knownPeers(), nil
		}
	}
	return []uint64{0}, nil
}

// knownPeers are the peers with a client, sorted.
func (c *Cluster) knownPeers() []uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.sortedPeers()
}

// Exists says whether a collection, not an alias, has this name. Qdrant's
// GET /collections/{c}/exists resolves aliases in the versions that look the
// name up as any other call does (it answers true for an alias there), so an
// alias is told apart by the alias list.
func (t *Target) Exists(ctx context.Context, collection string) (bool, error) {
	var exists bool
	if err := t.c.any(ctx, func(cl *qdrant.Client) error {
		var err error
		exists, err = cl.CollectionExists(ctx, collection)
		return err
	}); err != nil {
		return false, err
	}
	if !exists {
		return false, nil
	}
	aliases, err := t.Aliases(ctx)
	if err != nil {
		return false, err
	}
	_, isAlias := aliases[collection]
	return !isAlias, nil
}

// Aliases maps every alias of the cluster to its collection.
func (t *Target) Aliases(ctx context.Context) (map[string]string, error) {
	var as []qdrant.Alias
	if err := t.c.any(ctx, func(cl *qdrant.Client) error {
		var err error
		as, err = cl.Aliases(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(as))
	for _, a := range as {
		out[a.AliasName] = a.CollectionName
	}
	return out, nil
}

// Create creates a collection from a creation body and waits until every
// peer lists it.
func (t *Target) Create(ctx context.Context, collection string, body json.RawMessage) error {
	if err := t.write(ctx, func(cl *qdrant.Client) error { return cl.CreateCollectionRaw(ctx, collection, body) }); err != nil {
		return err
	}
	return t.settle(ctx, fmt.Sprintf("collection %q", collection), func(cl *qdrant.Client) (bool, error) {
		names, err := cl.ListCollections(ctx)
		return slices.Contains(names, collection), err
	})
}

// Delete deletes a collection, not an alias of that name, and waits until no
// peer lists it; one that does not exist is not an error.
func (t *Target) Delete(ctx context.Context, collection string) error {
	err := t.write(ctx, func(cl *qdrant.Client) error {
		_, err := cl.DeleteCollection(ctx, collection)
		return err
	})
	if err != nil && !qdrant.IsNotFound(err) {
		return err
	}
	return t.settle(ctx, fmt.Sprintf("the deletion of collection %q", collection), func(cl *qdrant.Client) (bool, error) {
		names, err := cl.ListCollections(ctx)
		return err == nil && !slices.Contains(names, collection), err
	})
}

// CreateShardKey creates a shard key of a custom-sharded collection and
// waits until every peer places its shards. shards and replicationFactor 0
// take the collection's defaults.
func (t *Target) CreateShardKey(ctx context.Context, collection string, key json.RawMessage, shards, replicationFactor uint32) error {
	var k qdrant.ShardKey
	if err := json.Unmarshal(key, &k); err != nil {
		return fmt.Errorf("cannot create shard key %s of collection %q: %w", key, collection, err)
	}
	var sp, rp *uint32
	if shards > 0 {
		sp = &shards
	}
	if replicationFactor > 0 {
		rp = &replicationFactor
	}
	if err := t.write(ctx, func(cl *qdrant.Client) error { return cl.CreateShardKey(ctx, collection, k, sp, rp) }); err != nil {
		return err
	}
	return t.settle(ctx, fmt.Sprintf("shard key %s of collection %q", k, collection), func(cl *qdrant.Client) (bool, error) {
		info, err := cl.CollectionCluster(ctx, collection)
		if err != nil {
			return false, err
		}
		for _, s := range info.LocalShards {
			if s.ShardKey != nil && s.ShardKey.Equal(k) {
				return true, nil
			}
		}
		for _, s := range info.RemoteShards {
			if s.ShardKey != nil && s.ShardKey.Equal(k) {
				return true, nil
			}
		}
		return false, nil
	})
}

// Placement reads where every replica of every shard is, and its state.
func (t *Target) Placement(ctx context.Context, collection string) ([]backupplan.Shard, error) {
	return t.c.Placement(ctx, collection)
}

// RecoverError is a shard recovery that failed on one peer. It keeps the
// qdrant client's typed error and says whether Qdrant could not fetch the
// URL it was given, in which case an upload of the same object may succeed.
// It never holds the URL's query: a presigned URL is a credential.
type RecoverError struct {
	Peer       uint64
	Collection string
	Shard      uint32
	msg        string
	err        error
	fetch      bool
}

func (e *RecoverError) Error() string { return e.msg }
func (e *RecoverError) Unwrap() error { return e.err }

// CannotFetch says whether Qdrant failed to download the URL: the store
// could not be reached or answered with an error status, or the node does
// not recover from URLs at all.
func (e *RecoverError) CannotFetch() bool { return e.fetch }

// RecoverFromURL makes one peer recover a shard from url with
// priority=snapshot and the sha256 as checksum, and waits for it. The error
// is a *RecoverError.
func (t *Target) RecoverFromURL(ctx context.Context, peer uint64, collection string, shard uint32, url, sha256 string) error {
	cl, err := t.peer(peer)
	if err != nil {
		return err
	}
	rec := qdrant.ShardSnapshotRecover{Location: url, Priority: qdrant.PrioritySnapshot, Checksum: sha256}
	err = cl.RecoverShardSnapshot(ctx, collection, shard, rec, true)
	if err == nil {
		return nil
	}
	// The client scrubs what Qdrant echoes; this is a second guard, on the
	// exact URL, for any text that escaped it.
	msg := redact(fmt.Sprintf("peer %d: %v", peer, err), url)
	return &RecoverError{Peer: peer, Collection: collection, Shard: shard, msg: msg, err: err, fetch: qdrant.IsFetchFailure(err)}
}

// redact removes url, and its query alone, from msg.
func redact(msg, url string) string {
	if url == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, url, "<presigned URL>")
	if i := strings.IndexByte(url, '?'); i >= 0 && i+1 < len(url) {
		msg = strings.ReplaceAll(msg, url[i+1:], "REDACTED")
	}
	return msg
}

// Upload streams a shard snapshot to one peer's upload endpoint with
// priority=snapshot and the sha256 as checksum, and waits for the recovery.
// body is read once, never buffered whole, and not closed.
func (t *Target) Upload(ctx context.Context, peer uint64, collection string, shard uint32, body io.Reader, sha256 string) error {
	cl, err := t.peer(peer)
	if err != nil {
		return err
	}
	opts := qdrant.UploadOptions{Priority: qdrant.PrioritySnapshot, Checksum: sha256, Wait: true}
	if err := cl.UploadShardSnapshot(ctx, collection, shard, body, fmt.Sprintf("shard-%d.snapshot", shard), opts); err != nil {
		return fmt.Errorf("peer %d: %w", peer, err)
	}
	return nil
}

// Count counts a collection's points exactly.
func (t *Target) Count(ctx context.Context, collection string) (uint64, error) {
	return t.c.Count(ctx, collection)
}

// Retrieve reads points with their vectors and payloads; ids that do not
// exist are left out.
func (t *Target) Retrieve(ctx context.Context, collection string, ids []json.RawMessage) ([]sample.Record, error) {
	return t.c.Retrieve(ctx, collection, ids)
}

// CreatePayloadIndex creates a payload index and waits for it.
func (t *Target) CreatePayloadIndex(ctx context.Context, collection, field string, schema json.RawMessage) error {
	return t.write(ctx, func(cl *qdrant.Client) error { return cl.CreatePayloadIndex(ctx, collection, field, schema, true) })
}

// CreateAlias points a new alias at a collection.
func (t *Target) CreateAlias(ctx context.Context, alias, collection string) error {
	return t.write(ctx, func(cl *qdrant.Client) error {
		return cl.UpdateAliases(ctx, []qdrant.AliasAction{qdrant.CreateAliasAction(alias, collection)})
	})
}

// peer returns the client of one peer; a standalone node is its only peer.
func (t *Target) peer(id uint64) (*qdrant.Client, error) {
	if cl, ok := t.c.Peer(id); ok {
		return cl, nil
	}
	if t.c.standalone {
		return t.c.entry, nil
	}
	return nil, fmt.Errorf("no REST URL is known for peer %d; list every node in the connection's peerURLs", id)
}

// write runs a change on the first node that takes the request. It goes on
// to the next node only when a node could not be reached at all: a change
// that may have reached a node is never sent to another, where it would run
// twice.
func (t *Target) write(ctx context.Context, f func(*qdrant.Client) error) error {
	var errs []error
	for _, cl := range t.c.clients() {
		err := f(cl)
		if err == nil || !unreached(err) {
			return err
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// unreached says whether a call failed before its request reached the node.
func unreached(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, qdrant.ErrRefusedAddress) {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// settle waits until done is true on every peer with a known URL: consensus
// applies a change on each node in turn, and the next call may go to any of
// them. A peer that cannot be reached now is not waited for.
func (t *Target) settle(ctx context.Context, what string, done func(*qdrant.Client) (bool, error)) error {
	limit := t.SettleTimeout
	if limit <= 0 {
		limit = DefaultSettleTimeout
	}
	deadline := time.Now().Add(limit)
	clients := map[uint64]*qdrant.Client{}
	t.c.mu.RLock()
	for id, cl := range t.c.peers {
		clients[id] = cl
	}
	t.c.mu.RUnlock()
	if len(clients) == 0 {
		clients[0] = t.c.entry
	}
	ids := make([]uint64, 0, len(clients))
	for id := range clients {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		for {
			ok, err := done(clients[id])
			if ok {
				break
			}
			if err != nil && unreached(err) {
				break
			}
			if err != nil && !qdrant.IsRetryable(err) {
				return fmt.Errorf("cannot see %s on peer %d: %w", what, id, err)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("peer %d does not see %s after %s", id, what, limit)
			}
			select {
			case <-time.After(settlePoll):
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s on peer %d: %w", what, id, ctx.Err())
			}
		}
	}
	return nil
}
