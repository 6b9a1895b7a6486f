package qdrantemu_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

// TestCollectionRecoverOfCustomShardingLosesPoints reproduces
// qdrant/qdrant#10135 (open in v1.19): a collection snapshot of a
// custom-sharded collection recovered into a new collection, from a URL or
// an upload, creates the collection from the snapshot's config but none of
// its shard keys, so the shard loop has nothing to restore and every point is
// missing. Into an existing collection that has the keys it works.
func TestCollectionRecoverOfCustomShardingLosesPoints(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	createCustom(t, u, "src", 1, 1, "a", "b")
	upsertKeyed(t, u, "src", "a", 1, 5)
	upsertKeyed(t, u, "src", "b", 6, 12)
	snap := mustOK(t, call(t, "POST", u+"/collections/src/snapshots", nil))["result"].(map[string]any)
	location := "file://" + c.Nodes()[0].SnapshotsDir() + "/src/" + snap["name"].(string)
	body := call(t, "GET", u+"/collections/src/snapshots/"+snap["name"].(string), nil).body

	mustOK(t, call(t, "PUT", u+"/collections/by-url/snapshots/recover", map[string]any{"location": location, "priority": "snapshot"}))
	mustOK(t, upload(t, u+"/collections/by-upload/snapshots/upload?priority=snapshot", "src.snapshot", body))
	for _, name := range []string{"by-url", "by-upload"} {
		if got := collectionConfig(t, u, name)["params"].(map[string]any)["sharding_method"]; got != "custom" {
			t.Errorf("%s: the collection is created with the snapshot's config, sharding_method custom; got %v", name, got)
		}
		if got := count(t, u, name); got != 0 {
			t.Errorf("%s: #10135 loses every point; got %d", name, got)
		}
		if diff := cmp.Diff(map[string]any{"shard_keys": []any{}}, mustOK(t, call(t, "GET", u+"/collections/"+name+"/shards", nil))["result"]); diff != "" {
			t.Errorf("%s: no shard key is created: -want, +got:\n%s", name, diff)
		}
	}

	// Into a collection that already has the keys, the same snapshot restores
	// every point.
	createCustom(t, u, "existing", 1, 1, "a", "b")
	mustOK(t, call(t, "PUT", u+"/collections/existing/snapshots/recover", map[string]any{"location": location, "priority": "snapshot"}))
	if got := count(t, u, "existing"); got != 12 {
		t.Errorf("recovery into an existing custom-sharded collection: want 12 points, got %d", got)
	}
}
