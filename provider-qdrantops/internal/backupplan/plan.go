// Package backupplan decides where each shard of a backup is read from: one
// Active replica per shard, every shard exactly once, spread over the peers
// that hold them. It is pure: topology in, tasks out.
package backupplan

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// ReplicaState is a Qdrant replica state; only Active replicas are a source of
// truth for a backup.
type ReplicaState string

// Active is the state of a replica that serves consistent data.
const Active ReplicaState = "Active"

// A Replica is one copy of a shard on a peer.
type Replica struct {
	Peer  uint64
	State ReplicaState
}

// A Shard is where a shard's replicas are.
type Shard struct {
	ID       uint32
	Key      json.RawMessage
	Replicas []Replica
}

// A Collection is a collection's shard placement.
type Collection struct {
	Name   string
	Shards []Shard
}

// A Task is one shard to capture, with the peers that can serve it, best
// first: the next ones are fallbacks when a peer fails mid-backup.
type Task struct {
	Collection string
	ShardID    uint32
	ShardKey   json.RawMessage
	Sources    []uint64
}

// NoActiveReplicaError names the shards that no Active replica can serve.
type NoActiveReplicaError struct {
	Shards map[string][]uint32 // collection -> shard ids
}

func (e *NoActiveReplicaError) Error() string {
	cols := make([]string, 0, len(e.Shards))
	for c := range e.Shards {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	parts := make([]string, 0, len(cols))
	for _, c := range cols {
		parts = append(parts, fmt.Sprintf("%s shards %v", c, e.Shards[c]))
	}
	return "no Active replica holds " + strings.Join(parts, ", ")
}

// Plan picks one source per shard. Among a shard's Active replicas it prefers
// peers that are up (as far as the caller knows) and that have been given the
// fewest shards so far, so the transfer load spreads across the cluster. Peers
// that are down stay as last-resort fallbacks.
func Plan(cols []Collection, down map[uint64]bool) ([]Task, error) {
	load := map[uint64]int{}
	missing := map[string][]uint32{}
	var tasks []Task
	for _, c := range sortedCollections(cols) {
		shards := append([]Shard(nil), c.Shards...)
		sort.Slice(shards, func(i, j int) bool { return shards[i].ID < shards[j].ID })
		for _, s := range shards {
			var up, dn []uint64
			seen := map[uint64]bool{}
			for _, r := range s.Replicas {
				if r.State != Active || seen[r.Peer] {
					continue
				}
				seen[r.Peer] = true
				if down[r.Peer] {
					dn = append(dn, r.Peer)
				} else {
					up = append(up, r.Peer)
				}
			}
			if len(up) == 0 {
				missing[c.Name] = append(missing[c.Name], s.ID)
				continue
			}
			sort.Slice(up, func(i, j int) bool {
				if load[up[i]] != load[up[j]] {
					return load[up[i]] < load[up[j]]
				}
				return up[i] < up[j]
			})
			sort.Slice(dn, func(i, j int) bool { return dn[i] < dn[j] })
			load[up[0]]++
			tasks = append(tasks, Task{Collection: c.Name, ShardID: s.ID, ShardKey: s.Key, Sources: append(up, dn...)})
		}
	}
	if len(missing) > 0 {
		return nil, &NoActiveReplicaError{Shards: missing}
	}
	return tasks, nil
}

func sortedCollections(cols []Collection) []Collection {
	out := append([]Collection(nil), cols...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Select chooses the collections to back up: all when want is empty, else
// exactly those named. Unknown names are an error that lists them.
func Select(available, want []string) ([]string, error) {
	if len(want) == 0 {
		out := append([]string(nil), available...)
		sort.Strings(out)
		return out, nil
	}
	have := map[string]bool{}
	for _, a := range available {
		have[a] = true
	}
	var unknown []string
	seen := map[string]bool{}
	var out []string
	for _, w := range want {
		if seen[w] {
			continue
		}
		seen[w] = true
		if !have[w] {
			unknown = append(unknown, w)
			continue
		}
		out = append(out, w)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("collections not found in the cluster: %s", strings.Join(unknown, ", "))
	}
	sort.Strings(out)
	return out, nil
}
