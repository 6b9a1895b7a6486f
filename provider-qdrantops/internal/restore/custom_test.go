package restore_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/restore"
)

// customSource creates a custom-sharded collection with two shard keys of
// three shards each.
func customSource(t *testing.T, emu *qdrantemu.Cluster, name string) {
	t.Helper()
	base := emu.URLs()[0]
	call(t, http.MethodPut, base+"/collections/"+name, map[string]any{
		"vectors":            map[string]any{"dense": map[string]any{"size": 8, "distance": "Dot"}},
		"sparse_vectors":     map[string]any{"text": map[string]any{}},
		"sharding_method":    "custom",
		"shard_number":       3,
		"replication_factor": 2,
	}, nil)
	for _, k := range []any{"eu", "us"} {
		call(t, http.MethodPut, base+"/collections/"+name+"/shards", map[string]any{"shard_key": k}, nil)
	}
	upsert(t, base, name, 1, 600, "eu")
	upsert(t, base, name, 601, 1000, "us")
}

func TestRestoreCustomSharding(t *testing.T) {
	if testing.Short() {
		t.Skip("moves real snapshots through the S3 server")
	}
	src := emulator(t, qdrantemu.Options{Nodes: 3})
	customSource(t, src, "tenants")
	f := newStore(t)
	takeBackup(t, f, connect(t, src))
	for _, nodes := range []int{1, 5} {
		t.Run(fmt.Sprintf("%dNodes", nodes), func(t *testing.T) {
			dst := emulator(t, qdrantemu.Options{Nodes: nodes})
			st, err := restoreInto(t, f, dst, func(r *restore.Request) { r.Mappings = map[string]string{"tenants": "tenants-restored"} })
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			for _, key := range []string{"eu", "us"} {
				var count struct {
					Count uint64 `json:"count"`
				}
				call(t, http.MethodPost, dst.URLs()[0]+"/collections/tenants-restored/points/count", map[string]any{"exact": true, "shard_key": key}, &count)
				want := map[string]uint64{"eu": 600, "us": 400}[key]
				if count.Count != want {
					t.Errorf("shard key %s holds %d points after the restore, want %d", key, count.Count, want)
				}
			}
			if c := st.Collections[0]; !c.Verified || c.Name != "tenants-restored" || c.Source != "tenants" {
				t.Errorf("status: %+v", c)
			}
		})
	}
}
