package qdrantemu_test

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu/openapicheck"
)

func openapiPath() string { return os.Getenv("QDRANT_OPENAPI") }

// TestContractOfRestoreEndpoints drives every endpoint and field a restore
// uses through Qdrant's OpenAPI schema (v1.19): creating a collection with its
// whole configuration, shard keys (create, list, drop), payload indexes,
// filtered and ordered scrolls, filtered counts, GET / with its commit, shard
// recovery from a URL and from an upload with wait=false. Each must have been
// seen succeeding, requests and responses valid.
func TestContractOfRestoreEndpoints(t *testing.T) {
	// Qdrant's schema is read in place, never copied into the repository:
	// like the other contract tests, this one says why it skips without it
	// (.ci/run and make test find it in ../shared/qdrant/).
	if openapiPath() == "" {
		t.Skipf("%s is not set: it names Qdrant's openapi-v1.19.0.json", openapicheck.EnvVar)
	}
	chk, err := openapicheck.Load(openapiPath())
	if err != nil {
		t.Fatal(err)
	}
	c, err := qdrantemu.Start(qdrantemu.Options{Nodes: 2, Dir: t.TempDir(), Observe: chk.Observe})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	u := c.URLs()[0]

	mustOK(t, call(t, "GET", u+"/", nil))
	mustOK(t, call(t, "PUT", u+"/collections/docs", fromJSON(t, `{
		"vectors": {"dense": {"size": 4, "distance": "Dot", "multivector_config": {"comparator": "max_sim"}}},
		"sparse_vectors": {"text": {"modifier": "idf"}},
		"sharding_method": "custom", "shard_number": 2, "replication_factor": 2, "on_disk_payload": true,
		"hnsw_config": {"m": 32}, "optimizers_config": {"indexing_threshold": 0}, "wal_config": {"wal_capacity_mb": 64},
		"quantization_config": {"scalar": {"type": "int8"}}, "strict_mode_config": {"enabled": false}, "metadata": {"owner": "search"}}`)))
	mustOK(t, call(t, "PUT", u+"/collections/docs/shards", map[string]any{"shard_key": "eu"}))
	mustOK(t, call(t, "PUT", u+"/collections/docs/shards", map[string]any{"shard_key": "tmp"}))
	mustOK(t, call(t, "POST", u+"/collections/docs/shards/delete", map[string]any{"shard_key": "tmp"}))
	mustOK(t, call(t, "GET", u+"/collections/docs/shards", nil))
	mustOK(t, call(t, "PUT", u+"/collections/docs/points?wait=true", map[string]any{"shard_key": "eu", "points": []any{
		map[string]any{"id": 1, "vector": map[string]any{"dense": [][]float64{{1, 2, 3, 4}}}, "payload": map[string]any{"rank": 1}},
		map[string]any{"id": 2, "vector": map[string]any{"dense": [][]float64{{4, 3, 2, 1}}}, "payload": map[string]any{"rank": 2}},
	}}))
	mustOK(t, call(t, "PUT", u+"/collections/docs/index?wait=true", map[string]any{"field_name": "rank", "field_schema": "integer"}))
	mustOK(t, call(t, "GET", u+"/collections/docs", nil))
	mustOK(t, call(t, "POST", u+"/collections/docs/points/scroll", map[string]any{
		"filter": map[string]any{"must": []any{map[string]any{"key": "rank", "range": map[string]any{"gte": 1}}}}, "order_by": map[string]any{"key": "rank", "direction": "desc"}, "with_vector": true,
	}))
	mustOK(t, call(t, "POST", u+"/collections/docs/points/scroll", map[string]any{"filter": map[string]any{"must": []any{map[string]any{"has_id": []any{1}}}}, "limit": 1, "offset": 1}))
	mustOK(t, call(t, "POST", u+"/collections/docs/points/count", map[string]any{"exact": true, "filter": map[string]any{"must": []any{map[string]any{"key": "rank", "match": map[string]any{"value": 2}}}}}))

	snap := call(t, "GET", u+"/collections/docs/shards/0/snapshot", nil).body
	// A download that is not there: the store answers 404, Qdrant a 400.
	if r := call(t, "PUT", c.URLs()[1]+"/collections/docs/shards/0/snapshots/recover", map[string]any{
		"location": u + "/collections/docs/shards/0/snapshots/none.snapshot", "priority": "snapshot",
	}); r.status != 400 {
		t.Errorf("recover from a missing URL: want 400, got %d %s", r.status, r.body)
	}
	if r := upload(t, c.URLs()[1]+"/collections/docs/shards/0/snapshots/upload?wait=false&priority=snapshot", "s.snapshot", snap); r.status != 202 {
		t.Errorf("upload with wait=false: want 202, got %d %s", r.status, r.body)
	}
	chk.Verify(t)

	want := []string{
		"count_points 200", "create_collection 200", "create_field_index 200", "create_shard_key 200", "delete_shard_key 200",
		"get_collection 200", "list_shard_keys 200", "recover_shard_from_snapshot 400", "recover_shard_from_uploaded_snapshot 202", "root 200", "scroll_points 200",
	}
	seen := map[string]bool{}
	for _, op := range chk.Operations() {
		seen[op[:strings.LastIndex(op, " x")]] = true
	}
	var missing []string
	for _, op := range want {
		if !seen[op] {
			missing = append(missing, op)
		}
	}
	if diff := cmp.Diff([]string(nil), missing); diff != "" {
		t.Errorf("operations never checked against the schema: -want, +got:\n%s\nseen: %v", diff, chk.Operations())
	}
}
