package backupplan

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"reflect"
	"slices"
	"testing"
	"testing/quick"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func shard(id uint32, replicas ...Replica) Shard { return Shard{ID: id, Replicas: replicas} }
func active(p uint64) Replica                    { return Replica{Peer: p, State: Active} }
func dead(p uint64) Replica                      { return Replica{Peer: p, State: "Dead"} }

func TestPlan(t *testing.T) {
	type want struct {
		tasks []Task
		err   error
	}
	cases := map[string]struct {
		reason string
		cols   []Collection
		down   map[uint64]bool
		want   want
	}{
		"SpreadsAcrossPeers": {
			reason: "Each shard is read once, from the least loaded Active holder.",
			cols: []Collection{{Name: "c", Shards: []Shard{
				shard(0, active(1), active(2)), shard(1, active(2), active(3)), shard(2, active(3), active(1)),
			}}},
			want: want{tasks: []Task{
				{Collection: "c", ShardID: 0, Sources: []uint64{1, 2}},
				{Collection: "c", ShardID: 1, Sources: []uint64{2, 3}},
				{Collection: "c", ShardID: 2, Sources: []uint64{3, 1}},
			}},
		},
		"SkipsNonActiveReplicas": {
			reason: "Dead or Partial replicas are never a source of truth.",
			cols:   []Collection{{Name: "c", Shards: []Shard{shard(0, dead(1), active(2), Replica{Peer: 3, State: "Partial"})}}},
			want:   want{tasks: []Task{{Collection: "c", ShardID: 0, Sources: []uint64{2}}}},
		},
		"DownPeersAreLastResort": {
			reason: "A peer known to be down is kept as a fallback after the ones that are up.",
			cols:   []Collection{{Name: "c", Shards: []Shard{shard(0, active(1), active(2))}}},
			down:   map[uint64]bool{1: true},
			want:   want{tasks: []Task{{Collection: "c", ShardID: 0, Sources: []uint64{2, 1}}}},
		},
		"NoActiveReplica": {
			reason: "A shard no Active replica can serve fails the plan, naming it.",
			cols: []Collection{
				{Name: "b", Shards: []Shard{shard(0, active(1)), shard(1, dead(1))}},
				{Name: "a", Shards: []Shard{shard(3, active(2))}},
			},
			down: map[uint64]bool{2: true},
			want: want{err: &NoActiveReplicaError{Shards: map[string][]uint32{"a": {3}, "b": {1}}}},
		},
		"CollectionsInNameOrder": {
			reason: "Tasks come in a stable order: collections by name, shards by id.",
			cols: []Collection{
				{Name: "z", Shards: []Shard{shard(1, active(1)), shard(0, active(1))}},
				{Name: "a", Shards: []Shard{shard(0, active(1))}},
			},
			want: want{tasks: []Task{
				{Collection: "a", ShardID: 0, Sources: []uint64{1}},
				{Collection: "z", ShardID: 0, Sources: []uint64{1}},
				{Collection: "z", ShardID: 1, Sources: []uint64{1}},
			}},
		},
		"ShardKeysCarried": {
			reason: "Custom sharding keys travel with the task.",
			cols:   []Collection{{Name: "c", Shards: []Shard{{ID: 4, Key: json.RawMessage(`"eu"`), Replicas: []Replica{active(1)}}}}},
			want:   want{tasks: []Task{{Collection: "c", ShardID: 4, ShardKey: json.RawMessage(`"eu"`), Sources: []uint64{1}}}},
		},
		"DuplicateReplicaEntries": {
			reason: "A peer listed twice for a shard is one source.",
			cols:   []Collection{{Name: "c", Shards: []Shard{shard(0, active(1), active(1))}}},
			want:   want{tasks: []Task{{Collection: "c", ShardID: 0, Sources: []uint64{1}}}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Plan(tc.cols, tc.down)
			if diff := cmp.Diff(tc.want.tasks, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s\nPlan(...): -want, +got:\n%s", tc.reason, diff)
			}
			if (tc.want.err == nil) != (err == nil) || tc.want.err != nil && !sameMissing(tc.want.err, err) {
				t.Errorf("%s\nPlan(...): want error %v, got %v", tc.reason, tc.want.err, err)
			}
		})
	}
}

func sameMissing(want, got error) bool {
	var w, g *NoActiveReplicaError
	if !errors.As(want, &w) || !errors.As(got, &g) {
		return false
	}
	return cmp.Equal(w.Shards, g.Shards)
}

// topology is a random cluster for the property test: collections of shards
// whose replicas sit on a few peers in any state, some peers down. Small
// numbers make every case frequent: shards whose only Active replicas are on
// down peers, shards with no Active replica at all, and plannable clusters.
type topology struct {
	Cols []Collection
	Down map[uint64]bool
}

func (topology) Generate(r *rand.Rand, _ int) reflect.Value {
	const peers = 4
	states := []ReplicaState{Active, Active, Active, Active, "Dead", "Partial", "Initializing"}
	t := topology{Down: map[uint64]bool{}}
	for p := uint64(0); p < peers; p++ {
		if r.Intn(6) == 0 {
			t.Down[p] = true
		}
	}
	for ci := 0; ci < 1+r.Intn(2); ci++ {
		c := Collection{Name: string(rune('a' + ci))}
		// Shard ids are unique in a collection but not dense, and come in
		// any order.
		for _, id := range r.Perm(1 + r.Intn(4)) {
			sh := Shard{ID: uint32(id * 2)}
			for range 1 + r.Intn(3) {
				sh.Replicas = append(sh.Replicas, Replica{Peer: uint64(r.Intn(peers)), State: states[r.Intn(len(states))]})
			}
			c.Shards = append(c.Shards, sh)
		}
		t.Cols = append(t.Cols, c)
	}
	return reflect.ValueOf(t)
}

// servable is the property's own statement of when a shard can be backed
// up: some Active replica of it is on a peer that is up.
func servable(s Shard, down map[uint64]bool) bool {
	for _, r := range s.Replicas {
		if r.State == Active && !down[r.Peer] {
			return true
		}
	}
	return false
}

// Plan fails exactly when some shard has no Active replica on an up peer,
// naming exactly those shards; otherwise it plans every shard exactly once,
// first from an up peer that holds an Active replica, with every other
// Active holder as a fallback and down ones last.
func TestPlanProperty(t *testing.T) {
	var failed, planned int
	f := func(tp topology) bool {
		missing := map[string][]uint32{}
		for _, c := range tp.Cols {
			for _, s := range c.Shards {
				if !servable(s, tp.Down) {
					missing[c.Name] = append(missing[c.Name], s.ID)
				}
			}
			slices.Sort(missing[c.Name])
		}
		tasks, err := Plan(tp.Cols, tp.Down)
		if len(missing) > 0 {
			failed++
			var nar *NoActiveReplicaError
			if !errors.As(err, &nar) || tasks != nil {
				t.Logf("want NoActiveReplicaError for %v, got %v and %d tasks", missing, err, len(tasks))
				return false
			}
			if diff := cmp.Diff(missing, nar.Shards); diff != "" {
				t.Logf("shards named in the error: -want, +got:\n%s", diff)
				return false
			}
			return true
		}
		planned++
		if err != nil {
			t.Logf("every shard has an Active replica on an up peer, yet Plan failed: %v", err)
			return false
		}
		want := map[string]Shard{}
		for _, c := range tp.Cols {
			for _, s := range c.Shards {
				want[fmt.Sprintf("%s/%d", c.Name, s.ID)] = s
			}
		}
		for _, tk := range tasks {
			key := fmt.Sprintf("%s/%d", tk.Collection, tk.ShardID)
			s, ok := want[key]
			if !ok {
				t.Logf("task %s is not a shard, or is planned twice", key)
				return false
			}
			delete(want, key)
			holders := map[uint64]bool{}
			for _, r := range s.Replicas {
				if r.State == Active {
					holders[r.Peer] = true
				}
			}
			got := map[uint64]bool{}
			for i, p := range tk.Sources {
				if !holders[p] || got[p] {
					t.Logf("task %s: source %d is not an Active holder, or is listed twice: %v", key, p, tk.Sources)
					return false
				}
				got[p] = true
				if i > 0 && tp.Down[tk.Sources[i-1]] && !tp.Down[p] {
					t.Logf("task %s: a down peer comes before an up one: %v (down %v)", key, tk.Sources, tp.Down)
					return false
				}
			}
			if len(got) != len(holders) || tp.Down[tk.Sources[0]] {
				t.Logf("task %s: want every Active holder, an up one first; got %v (holders %v, down %v)", key, tk.Sources, holders, tp.Down)
				return false
			}
		}
		if len(want) > 0 {
			t.Logf("shards never planned: %v", slices.Sorted(maps.Keys(want)))
			return false
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 2000}); err != nil {
		t.Fatal(err)
	}
	// A property that only ever sees one outcome proves half of nothing.
	t.Logf("%d topologies failed to plan, %d planned", failed, planned)
	if failed < 400 || planned < 400 {
		t.Errorf("the generator must produce both outcomes often: %d topologies failed to plan, %d planned", failed, planned)
	}
}

func TestSelect(t *testing.T) {
	cases := map[string]struct {
		reason    string
		available []string
		want      []string
		out       []string
		err       string
	}{
		"AllWhenEmpty": {"No selection means every collection.", []string{"b", "a"}, nil, []string{"a", "b"}, ""},
		"Named":        {"A selection picks exactly those.", []string{"a", "b", "c"}, []string{"c", "a", "c"}, []string{"a", "c"}, ""},
		"UnknownNamed": {"Unknown names fail, all of them listed.", []string{"a"}, []string{"x", "a", "w"}, nil, "collections not found in the cluster: w, x"},
		"EmptyCluster": {"A cluster without collections backs up nothing.", nil, nil, nil, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Select(tc.available, tc.want)
			if diff := cmp.Diff(tc.out, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tc.err {
				t.Errorf("%s\nwant error %q, got %q", tc.reason, tc.err, gotErr)
			}
		})
	}
}
