package qdrantemu_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

// placement is what GET /collections/{c}/cluster on every peer says of a
// collection: per shard id, its shard key and each replica's state by peer.
type placement struct {
	keys   map[int]string
	states map[int]map[uint64]string
	points map[int]int // points_count of one local replica
}

func clusterPlacement(t *testing.T, c *qdrantemu.Cluster, name string) placement {
	t.Helper()
	p := placement{keys: map[int]string{}, states: map[int]map[uint64]string{}, points: map[int]int{}}
	for _, n := range c.Nodes() {
		info := mustOK(t, call(t, "GET", n.URL()+"/collections/"+name+"/cluster", nil))["result"].(map[string]any)
		for _, e := range info["local_shards"].([]any) {
			s := e.(map[string]any)
			id := int(s["shard_id"].(float64))
			if p.states[id] == nil {
				p.states[id] = map[uint64]string{}
			}
			p.states[id][n.ID] = s["state"].(string)
			p.keys[id] = fmt.Sprint(s["shard_key"])
			p.points[id] = int(s["points_count"].(float64))
		}
	}
	return p
}

func createCustom(t *testing.T, u, name string, shards, rf int, keys ...string) {
	t.Helper()
	mustOK(t, call(t, "PUT", u+"/collections/"+name, map[string]any{
		"vectors": map[string]any{"size": 4, "distance": "Dot"}, "sharding_method": "custom", "shard_number": shards, "replication_factor": rf,
	}))
	for _, k := range keys {
		mustOK(t, call(t, "PUT", u+"/collections/"+name+"/shards", map[string]any{"shard_key": k}))
	}
}

func upsertKeyed(t *testing.T, u, name, key string, from, to int) {
	t.Helper()
	var pts []map[string]any
	for id := from; id <= to; id++ {
		pts = append(pts, map[string]any{"id": id, "vector": []float64{float64(id), 1, 1, 1}, "payload": map[string]any{"k": key}})
	}
	mustOK(t, call(t, "PUT", u+"/collections/"+name+"/points?wait=true", map[string]any{"points": pts, "shard_key": key}))
}

// TestShardKeyIDsAreAllocatedInOrder states how Qdrant numbers the shards of
// a new shard key: after the highest existing shard id, so that creating the
// recorded keys in their original order reproduces the original ids
// (qdrant/qdrant#10135, PR #10536), and ids of a dropped key below the
// highest are not reused.
func TestShardKeyIDsAreAllocatedInOrder(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 3})
	u := c.URLs()[0]
	createCustom(t, u, "x", 2, 1, "a")
	mustOK(t, call(t, "PUT", u+"/collections/x/shards", map[string]any{"shard_key": "b", "shards_number": 1}))
	mustOK(t, call(t, "PUT", u+"/collections/x/shards", map[string]any{"shard_key": "c", "shards_number": 1}))
	mustOK(t, call(t, "POST", u+"/collections/x/shards/delete", map[string]any{"shard_key": "b"}))
	mustOK(t, call(t, "PUT", u+"/collections/x/shards", map[string]any{"shard_key": "d"}))
	want := map[int]string{0: "a", 1: "a", 3: "c", 4: "d", 5: "d"}
	if diff := cmp.Diff(want, clusterPlacement(t, c, "x").keys); diff != "" {
		t.Errorf("shard id -> key on every peer: -want, +got:\n%s", diff)
	}
}

// TestShardByShardRestore walks the restore of API.md 4.2 option B for a
// custom-sharded collection from 3 nodes into 5: create the collection with
// sharding_method custom and the keys in their original order, check the
// resulting ids on every peer, then recover each shard id on a peer that
// holds a replica of it, with priority snapshot and the checksum, from a URL
// or an upload. The other replicas are marked Dead and re-sync to Active
// (src/common/snapshots.rs, recover_shard_snapshot_impl). A wrong checksum
// fails with Qdrant's message and changes nothing.
func TestShardByShardRestore(t *testing.T) {
	src := start(t, qdrantemu.Options{Nodes: 3})
	createCustom(t, src.URLs()[0], "docs", 3, 2, "eu", "us")
	upsertKeyed(t, src.URLs()[0], "docs", "eu", 1, 300)
	upsertKeyed(t, src.URLs()[0], "docs", "us", 301, 500)
	srcPlacement := clusterPlacement(t, src, "docs")

	// Back up: stream every shard id from a peer holding it.
	type artifact struct {
		body []byte
		sum  string
	}
	artifacts := map[int]artifact{}
	for id, states := range srcPlacement.states {
		for _, n := range src.Nodes() {
			if states[n.ID] == "Active" {
				b := call(t, "GET", fmt.Sprintf("%s/collections/docs/shards/%d/snapshot", n.URL(), id), nil).body
				sum := sha256.Sum256(b)
				artifacts[id] = artifact{body: b, sum: hex.EncodeToString(sum[:])}
				break
			}
		}
	}
	var mu sync.Mutex
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var id int
		if _, err := fmt.Sscanf(r.URL.Path, "/shard-%d.snapshot", &id); err != nil {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		b := artifacts[id].body
		mu.Unlock()
		_, _ = w.Write(b)
	}))
	t.Cleanup(store.Close)

	dst := start(t, qdrantemu.Options{Nodes: 5, ResyncDelay: 50 * time.Millisecond})
	createCustom(t, dst.URLs()[0], "docs", 3, 2, "eu", "us")
	dstPlacement := clusterPlacement(t, dst, "docs")
	if diff := cmp.Diff(srcPlacement.keys, dstPlacement.keys); diff != "" {
		t.Fatalf("keys created in order must give the source's shard ids: -source, +target:\n%s", diff)
	}
	urlOf := map[uint64]string{}
	for _, n := range dst.Nodes() {
		urlOf[n.ID] = n.URL()
	}

	wrong := strings.Repeat("0", 64)
	for id, states := range dstPlacement.states {
		var peer uint64
		for p := range states {
			peer = p
			break
		}
		u := urlOf[peer]
		a := artifacts[id]
		if id%2 == 0 {
			r := call(t, "PUT", fmt.Sprintf("%s/collections/docs/shards/%d/snapshots/recover", u, id), map[string]any{"location": fmt.Sprintf("%s/shard-%d.snapshot", store.URL, id), "priority": "snapshot", "checksum": wrong})
			if want := "Wrong input: Snapshot checksum mismatch: expected " + wrong + ", got " + a.sum; r.status != http.StatusBadRequest || r.errorText(t) != want {
				t.Errorf("shard %d from a URL with a wrong checksum: want 400 %q, got %d %s", id, want, r.status, r.body)
			}
			mustOK(t, call(t, "PUT", fmt.Sprintf("%s/collections/docs/shards/%d/snapshots/recover", u, id), map[string]any{"location": fmt.Sprintf("%s/shard-%d.snapshot", store.URL, id), "priority": "snapshot", "checksum": a.sum}))
			continue
		}
		r := upload(t, fmt.Sprintf("%s/collections/docs/shards/%d/snapshots/upload?priority=snapshot&checksum=%s", u, id, wrong), "s.snapshot", a.body)
		if want := "Checksum mismatch: expected " + a.sum + ", actual " + wrong; r.status != http.StatusBadRequest || r.errorText(t) != want {
			t.Errorf("shard %d uploaded with a wrong checksum: want 400 %q, got %d %s", id, want, r.status, r.body)
		}
		mustOK(t, upload(t, fmt.Sprintf("%s/collections/docs/shards/%d/snapshots/upload?priority=snapshot&checksum=%s", u, id, a.sum), "s.snapshot", a.body))
	}

	// The other replica of each shard was set Dead and re-syncs.
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := clusterPlacement(t, dst, "docs")
		allActive := true
		for _, states := range p.states {
			for _, st := range states {
				allActive = allActive && st == "Active"
			}
		}
		if allActive {
			if diff := cmp.Diff(srcPlacement.points, p.points); diff != "" {
				t.Errorf("points per shard id: -source, +target:\n%s", diff)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas never all became Active: %v", p.states)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := count(t, dst.URLs()[4], "docs"); got != 500 {
		t.Errorf("count after the restore: want 500, got %d", got)
	}
}

// TestShardRecoverOnAPeerWithoutReplica states that a shard recovery does not
// need a local replica: Qdrant creates one on this peer and activates it, and
// with priority snapshot the existing replica is set Dead and re-syncs from it
// (API.md 3, "Recovery preconditions"; 4.4).
func TestShardRecoverOnAPeerWithoutReplica(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 2, ResyncDelay: time.Hour})
	createCollection(t, c.URLs()[0], "c", 2, 1, 40)
	before := clusterPlacement(t, c, "c")
	var holder, other *qdrantemu.Node
	for _, n := range c.Nodes() {
		if _, ok := before.states[0][n.ID]; ok {
			holder = n
		} else {
			other = n
		}
	}
	b := call(t, "GET", holder.URL()+"/collections/c/shards/0/snapshot", nil).body
	mustOK(t, upload(t, other.URL()+"/collections/c/shards/0/snapshots/upload?priority=snapshot", "s.snapshot", b))
	want := map[uint64]string{holder.ID: "Dead", other.ID: "Active"}
	if diff := cmp.Diff(want, clusterPlacement(t, c, "c").states[0]); diff != "" {
		t.Errorf("replicas of shard 0 after recovering it on the peer without one: -want, +got:\n%s", diff)
	}
}

// TestDefaultShardNumber states create_collection.rs's defaults: one shard per
// peer with automatic sharding, one shard per key with custom sharding.
func TestDefaultShardNumber(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 3})
	u := c.URLs()[0]
	mustOK(t, call(t, "PUT", u+"/collections/auto", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Dot"}}))
	mustOK(t, call(t, "PUT", u+"/collections/custom", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Dot"}, "sharding_method": "custom"}))
	mustOK(t, call(t, "PUT", u+"/collections/custom/shards", map[string]any{"shard_key": "a"}))
	for name, want := range map[string]float64{"auto": 3, "custom": 1} {
		if got := collectionConfig(t, u, name)["params"].(map[string]any)["shard_number"]; got != want {
			t.Errorf("%s: default shard_number want %v, got %v", name, want, got)
		}
	}
	if got := len(clusterPlacement(t, c, "custom").keys); got != 1 {
		t.Errorf("a key of a custom collection created without shard_number gets 1 shard, got %d", got)
	}
}
