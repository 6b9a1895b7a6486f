package backupplan

import (
	"encoding/json"
	"errors"
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

// Every shard of every collection is planned exactly once, from a peer that
// holds an Active replica of it, whatever the topology.
func TestPlanEveryShardExactlyOnce(t *testing.T) {
	f := func(layout []uint8, states []bool) bool {
		var cols []Collection
		for ci := 0; ci < 1+len(layout)%3; ci++ {
			c := Collection{Name: string(rune('a' + ci))}
			for s := 0; s < len(layout); s++ {
				sh := Shard{ID: uint32(s)}
				for r := 0; r < 1+int(layout[s])%3; r++ {
					st := ReplicaState("Dead")
					if len(states) == 0 || states[(s+r)%len(states)] || r == 0 {
						st = Active
					}
					sh.Replicas = append(sh.Replicas, Replica{Peer: uint64((s + r + ci) % 4), State: st})
				}
				c.Shards = append(c.Shards, sh)
			}
			cols = append(cols, c)
		}
		tasks, err := Plan(cols, nil)
		if err != nil {
			return false
		}
		seen := map[string]int{}
		for _, tk := range tasks {
			seen[tk.Collection+"/"+string(rune(tk.ShardID))]++
			holds := false
			for _, c := range cols {
				for _, s := range c.Shards {
					for _, r := range s.Replicas {
						if c.Name == tk.Collection && s.ID == tk.ShardID && r.Peer == tk.Sources[0] && r.State == Active {
							holds = true
						}
					}
				}
			}
			if !holds {
				return false
			}
		}
		for _, n := range seen {
			if n != 1 {
				return false
			}
		}
		return len(seen) == len(cols)*len(layout)
	}
	if err := quick.Check(f, nil); err != nil {
		t.Error(err)
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
