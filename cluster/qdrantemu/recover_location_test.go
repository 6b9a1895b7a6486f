package qdrantemu_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

// TestShardRecoverTakesTheFileNameOnly states that a shard recovery's bare
// location is reduced to its file name and looked up in the shard's own
// folder (<snapshots>/<c>/shards/<id>/, API.md 3): a path cannot reach another
// shard's, or any other, folder.
func TestShardRecoverTakesTheFileNameOnly(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	createCollection(t, u, "c", 2, 1, 10)
	snap := mustOK(t, call(t, "POST", u+"/collections/c/shards/0/snapshots", nil))["result"].(map[string]any)
	name := snap["name"].(string)
	if _, err := os.Stat(filepath.Join(c.Nodes()[0].SnapshotsDir(), "c", "shards", "0", name)); err != nil {
		t.Fatalf("the shard snapshot is not where API.md 6.4 says: %v", err)
	}

	r := call(t, "PUT", u+"/collections/c/shards/1/snapshots/recover", map[string]any{"location": "../../0/" + name})
	if r.status != http.StatusNotFound || r.errorText(t) != "Not found: Snapshot "+name+" not found" {
		t.Errorf("shard 1 recovering shard 0's snapshot through ../../0/: want 404, got %d %s", r.status, r.body)
	}
	// In its own folder the same name, behind any directories, is found.
	mustOK(t, call(t, "PUT", u+"/collections/c/shards/0/snapshots/recover", map[string]any{"location": "some/dir/" + name, "priority": "snapshot"}))
	if got := count(t, u, "c"); got != 10 {
		t.Errorf("count after recovering shard 0 from its own snapshot: want 10, got %d", got)
	}
}
