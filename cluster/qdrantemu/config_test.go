package qdrantemu_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

func collectionConfig(t *testing.T, url, name string) map[string]any {
	t.Helper()
	return mustOK(t, call(t, "GET", url+"/collections/"+name, nil))["result"].(map[string]any)["config"].(map[string]any)
}

func fromJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCollectionConfigIsKept states that Qdrant stores every section of a
// collection's configuration given at creation, with its diffs applied to the
// storage defaults (lib/storage/src/content_manager/toc/create_collection.rs),
// reports it under config in GET /collections/{c} (optimizers_config comes
// back as optimizer_config; API.md 5) and carries it in collection snapshots'
// config.json (API.md 6.1), so that a recovered collection has it too.
func TestCollectionConfigIsKept(t *testing.T) {
	cases := map[string]struct {
		reason string
		create string
		want   string
	}{
		"Defaults": {
			reason: "A collection created with vectors only gets the storage defaults.",
			create: `{"vectors": {"size": 4, "distance": "Dot"}}`,
			want: `{
				"params": {"vectors": {"size": 4, "distance": "Dot"}, "shard_number": 1, "replication_factor": 1, "write_consistency_factor": 1, "on_disk_payload": true},
				"hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000, "max_indexing_threads": 0, "on_disk": false},
				"optimizer_config": {"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000, "default_segment_number": 0, "max_segment_size": null, "memmap_threshold": null, "indexing_threshold": 10000, "flush_interval_sec": 5, "max_optimization_threads": null},
				"wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0, "wal_retain_closed": 1},
				"quantization_config": null}`,
		},
		"EverySection": {
			reason: "Diffs replace only the fields they set; quantization, strict mode, metadata, named, multivector and sparse vectors are kept as given.",
			create: `{
				"vectors": {"dense": {"size": 4, "distance": "Cosine", "on_disk": true}, "colbert": {"size": 2, "distance": "Dot", "multivector_config": {"comparator": "max_sim"}}},
				"sparse_vectors": {"text": {"modifier": "idf", "index": {"on_disk": true}}},
				"shard_number": 2, "replication_factor": 1, "on_disk_payload": false,
				"hnsw_config": {"m": 32, "payload_m": 8},
				"optimizers_config": {"indexing_threshold": 0},
				"wal_config": {"wal_capacity_mb": 64},
				"quantization_config": {"scalar": {"type": "int8", "always_ram": true}},
				"strict_mode_config": {"enabled": true, "max_query_limit": 100},
				"metadata": {"team": "search", "version": 3}}`,
			want: `{
				"params": {"vectors": {"dense": {"size": 4, "distance": "Cosine", "on_disk": true}, "colbert": {"size": 2, "distance": "Dot", "multivector_config": {"comparator": "max_sim"}}},
					"sparse_vectors": {"text": {"modifier": "idf", "index": {"on_disk": true}}},
					"shard_number": 2, "replication_factor": 1, "write_consistency_factor": 1, "on_disk_payload": false},
				"hnsw_config": {"m": 32, "payload_m": 8, "ef_construct": 100, "full_scan_threshold": 10000, "max_indexing_threads": 0, "on_disk": false},
				"optimizer_config": {"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000, "default_segment_number": 0, "max_segment_size": null, "memmap_threshold": null, "indexing_threshold": 0, "flush_interval_sec": 5, "max_optimization_threads": null},
				"wal_config": {"wal_capacity_mb": 64, "wal_segments_ahead": 0, "wal_retain_closed": 1},
				"quantization_config": {"scalar": {"type": "int8", "always_ram": true}},
				"strict_mode_config": {"enabled": true, "max_query_limit": 100},
				"metadata": {"team": "search", "version": 3}}`,
		},
		"SparseOnly": {
			reason: "A collection may have sparse vectors only: vectors is then an empty map.",
			create: `{"sparse_vectors": {"text": {}}, "shard_number": 1}`,
			want: `{
				"params": {"vectors": {}, "sparse_vectors": {"text": {}}, "shard_number": 1, "replication_factor": 1, "write_consistency_factor": 1, "on_disk_payload": true},
				"hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000, "max_indexing_threads": 0, "on_disk": false},
				"optimizer_config": {"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000, "default_segment_number": 0, "max_segment_size": null, "memmap_threshold": null, "indexing_threshold": 10000, "flush_interval_sec": 5, "max_optimization_threads": null},
				"wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0, "wal_retain_closed": 1},
				"quantization_config": null}`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := start(t, qdrantemu.Options{Nodes: 1})
			u := c.URLs()[0]
			mustOK(t, call(t, "PUT", u+"/collections/src", fromJSON(t, tc.create)))
			want := fromJSON(t, tc.want)
			if diff := cmp.Diff(want, collectionConfig(t, u, "src")); diff != "" {
				t.Errorf("%s\nGET /collections/src config: -want, +got:\n%s", tc.reason, diff)
			}
			// A collection snapshot recovered into a new collection brings
			// the same configuration.
			snap := mustOK(t, call(t, "POST", u+"/collections/src/snapshots", nil))["result"].(map[string]any)
			mustOK(t, call(t, "PUT", u+"/collections/copy/snapshots/recover", map[string]any{
				"location": "file://" + c.Nodes()[0].SnapshotsDir() + "/src/" + snap["name"].(string),
			}))
			if diff := cmp.Diff(want, collectionConfig(t, u, "copy")); diff != "" {
				t.Errorf("%s\nconfig of a collection recovered from a snapshot: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
