package qdrantemu

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ReplicaState is the state of one replica of a shard, as Qdrant names it.
type ReplicaState string

// Replica states (API.md 4.3).
const (
	Active              ReplicaState = "Active"
	Dead                ReplicaState = "Dead"
	Partial             ReplicaState = "Partial"
	Initializing        ReplicaState = "Initializing"
	Listener            ReplicaState = "Listener"
	ManualRecovery      ReplicaState = "ManualRecovery"
	ReshardingScaleDown ReplicaState = "ReshardingScaleDown"
)

// params are a collection's configuration as it is stored in snapshots.
type params struct {
	Vectors                json.RawMessage `json:"vectors"`
	ShardNumber            uint32          `json:"shard_number"`
	ReplicationFactor      uint32          `json:"replication_factor"`
	WriteConsistencyFactor uint32          `json:"write_consistency_factor"`
	ShardingMethod         string          `json:"sharding_method,omitempty"`
	SparseVectors          json.RawMessage `json:"sparse_vectors,omitempty"`
	OnDiskPayload          bool            `json:"on_disk_payload"`
}

type payloadIndex struct {
	DataType string          `json:"data_type"`
	Params   json.RawMessage `json:"params,omitempty"`
}

// point is one stored point. It is never changed once stored: an upsert
// replaces the pointer, so snapshots can stream points without the lock.
type point struct {
	ID      json.RawMessage `json:"id"`
	Vector  json.RawMessage `json:"vector,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

type replica struct {
	state ReplicaState
	// resyncAt is when a Dead replica has caught up again from an Active one.
	resyncAt time.Time
}

type shard struct {
	id       uint32
	key      json.RawMessage // custom sharding only
	replicas map[uint64]*replica
	points   map[string]*point
}

type collection struct {
	name     string
	params   params
	settings settings
	indexes  map[string]payloadIndex
	shards   []*shard
	// opSeq numbers update operations, as Qdrant's operation_id does.
	opSeq uint64
}

// pointKey is the canonical form of a point id: a u64 or a UUID string.
func pointKey(id json.RawMessage) (string, error) {
	var n uint64
	if err := json.Unmarshal(id, &n); err == nil {
		return "n:" + strconv.FormatUint(n, 10), nil
	}
	var s string
	if err := json.Unmarshal(id, &s); err == nil && len(s) >= 32 {
		return "u:" + strings.ToLower(s), nil
	}
	return "", fmt.Errorf("Unable to parse point id %s", string(id)) //nolint:staticcheck // Qdrant's own wording, which clients may see.
}

// shardOf places a point on one of a collection's shards by the hash of its id.
func shardOf(key string, shardNumber uint32) uint32 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return uint32(h.Sum64() % uint64(shardNumber))
}

// lessKey orders point ids as Qdrant's scroll does: numbers first, then UUIDs.
func lessKey(a, b string) bool {
	if a[0] != b[0] {
		return a[0] == 'n'
	}
	if a[0] == 'n' {
		x, _ := strconv.ParseUint(a[2:], 10, 64)
		y, _ := strconv.ParseUint(b[2:], 10, 64)
		return x < y
	}
	return a < b
}

// dataShards returns the shards that hold points: every shard of an automatically
// sharded collection.
func (c *collection) shardByID(id uint32) *shard {
	for _, s := range c.shards {
		if s.id == id {
			return s
		}
	}
	return nil
}

// keysInOrder returns every point key of the collection, in scroll order.
func (c *collection) keysInOrder() ([]string, map[string]*point) {
	return keysOf(c.shards)
}

// keysOf returns every point key of the shards, in scroll order.
func keysOf(shards []*shard) ([]string, map[string]*point) {
	all := map[string]*point{}
	for _, s := range shards {
		for k, p := range s.points {
			all[k] = p
		}
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return lessKey(keys[i], keys[j]) })
	return keys, all
}

// selectShards returns the shards a request's shard_key selector names: a
// key or a list of keys of a custom-sharded collection; every shard without
// one.
func (c *collection) selectShards(selector json.RawMessage) ([]*shard, error) {
	if isNull(selector) {
		return c.shards, nil
	}
	if c.params.ShardingMethod != "custom" {
		return nil, fmt.Errorf("Bad request: Shard key selector %s is not allowed for a collection with automatic sharding", selector) //nolint:staticcheck // Clients see the message.
	}
	var keys []json.RawMessage
	if json.Unmarshal(selector, &keys) != nil {
		keys = []json.RawMessage{selector}
	}
	var out []*shard
	for _, k := range keys {
		found := false
		for _, s := range c.shards {
			if sameJSON(s.key, k) {
				out = append(out, s)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("Bad request: Shard key %s does not exist", k) //nolint:staticcheck // Clients see the message.
		}
	}
	return out, nil
}

// shardKeyOf returns the shard key a point lives under, nil without custom
// sharding.
func (c *collection) shardKeyOf(key string) json.RawMessage {
	for _, s := range c.shards {
		if _, ok := s.points[key]; ok {
			return s.key
		}
	}
	return nil
}

func (c *collection) count() uint64 {
	var n uint64
	for _, s := range c.shards {
		n += uint64(len(s.points))
	}
	return n
}

// state returns a replica's state at now, promoting Dead replicas that have
// had time to re-sync from an Active one.
func (r *replica) stateAt(now time.Time, up bool, hasActivePeer bool) ReplicaState {
	if r.state == Dead && up && hasActivePeer && !r.resyncAt.IsZero() && !now.Before(r.resyncAt) {
		r.state = Active
		r.resyncAt = time.Time{}
	}
	return r.state
}

func (s *shard) hasActive(except uint64) bool {
	for p, r := range s.replicas {
		if p != except && (r.state == Active || r.state == ReshardingScaleDown) {
			return true
		}
	}
	return false
}

func (s *shard) peers() []uint64 {
	ps := make([]uint64, 0, len(s.replicas))
	for p := range s.replicas {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}
