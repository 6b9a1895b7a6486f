package restore

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
)

func col(name string, mods ...func(*manifest.Collection)) manifest.Collection {
	c := manifest.Collection{Name: name, ShardNumber: 1, ReplicationFactor: 1, ShardingMethod: "auto"}
	for _, m := range mods {
		m(&c)
	}
	return c
}

func TestSelect(t *testing.T) {
	m := manifest.Manifest{Collections: []manifest.Collection{col("a"), col("b"), col("c")}}
	type want struct {
		targets []string
		err     bool
	}
	cases := map[string]struct {
		reason   string
		only     []string
		mappings map[string]string
		want     want
	}{
		"All": {
			reason: "No filter restores every collection under its own name, in the backup's order.",
			want:   want{targets: []string{"a", "b", "c"}},
		},
		"Filtered": {
			reason: "A filter keeps only the named collections.",
			only:   []string{"c", "a"},
			want:   want{targets: []string{"a", "c"}},
		},
		"Renamed": {
			reason:   "A mapping restores a collection under a new name.",
			only:     []string{"b"},
			mappings: map[string]string{"b": "b-restored"},
			want:     want{targets: []string{"b-restored"}},
		},
		"UnknownCollection": {
			reason: "A filter naming a collection the backup lacks is an error, not a silent skip.",
			only:   []string{"x"},
			want:   want{err: true},
		},
		"UnknownMapping": {
			reason:   "A mapping from a collection the backup lacks is an error.",
			mappings: map[string]string{"x": "y"},
			want:     want{err: true},
		},
		"Collision": {
			reason:   "Two collections cannot land on one name.",
			mappings: map[string]string{"a": "b"},
			want:     want{err: true},
		},
		"InvalidName": {
			reason:   "A target name Qdrant refuses is refused before anything is touched.",
			mappings: map[string]string{"a": "x/y"},
			want:     want{err: true},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			items, err := Select(m, tc.only, tc.mappings)
			var got want
			got.err = err != nil
			for _, it := range items {
				got.targets = append(got.targets, it.Target)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("%s\nSelect(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestCheckVersion(t *testing.T) {
	cases := map[string]struct {
		reason         string
		source, target string
		ok             bool
	}{
		"Same":        {"The same version restores.", "1.19.0", "1.19.0", true},
		"NewerPatch":  {"An older patch of the same minor restores: segment formats change by minor.", "1.19.2", "1.19.0", true},
		"NewerMinor":  {"A newer minor restores.", "1.18.1", "1.19.0", true},
		"NewerMajor":  {"A newer major restores.", "1.19.0", "2.0.0", true},
		"OlderMinor":  {"An older minor is refused.", "1.19.0", "1.18.5", false},
		"OlderMajor":  {"An older major is refused.", "2.0.0", "1.19.0", false},
		"Prefixed":    {"A v prefix is read.", "v1.19.0", "1.19.0", true},
		"Unreadable":  {"A version that cannot be read is refused rather than guessed.", "latest", "1.19.0", false},
		"NoTargetVer": {"A target version that cannot be read is refused.", "1.19.0", "", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := CheckVersion(tc.source, tc.target)
			if got := err == nil; got != tc.ok {
				t.Errorf("%s\nCheckVersion(%q, %q): %v, want ok=%t", tc.reason, tc.source, tc.target, err, tc.ok)
			}
		})
	}
}

func TestCreationFor(t *testing.T) {
	config := `{
	  "params": {"vectors": {"dense": {"size": 4, "distance": "Cosine", "on_disk": true, "multivector_config": {"comparator": "max_sim"}}},
	             "shard_number": 6, "replication_factor": 2, "write_consistency_factor": 2, "on_disk_payload": true,
	             "sparse_vectors": {"text": {"modifier": "idf"}}, "read_fan_out_factor": 1},
	  "hnsw_config": {"m": 32, "ef_construct": 200},
	  "optimizer_config": {"indexing_threshold": 1000},
	  "wal_config": {"wal_capacity_mb": 64},
	  "quantization_config": {"scalar": {"type": "int8"}},
	  "strict_mode_config": {"enabled": false},
	  "metadata": {"team": "search"}
	}`
	c := col("a", func(c *manifest.Collection) {
		c.ShardNumber, c.ReplicationFactor, c.Config = 6, 2, json.RawMessage(config)
	})
	cases := map[string]struct {
		reason string
		peers  int
		want   map[string]any
		capped bool
	}{
		"SamePeers": {
			reason: "Every setting a creation takes is carried over; optimizer_config becomes optimizers_config; read fan-out is not a creation setting.",
			peers:  3,
			want: map[string]any{
				"vectors":                  map[string]any{"dense": map[string]any{"size": 4.0, "distance": "Cosine", "on_disk": true, "multivector_config": map[string]any{"comparator": "max_sim"}}},
				"shard_number":             6.0,
				"sharding_method":          "auto",
				"replication_factor":       2.0,
				"write_consistency_factor": 2.0,
				"on_disk_payload":          true,
				"sparse_vectors":           map[string]any{"text": map[string]any{"modifier": "idf"}},
				"hnsw_config":              map[string]any{"m": 32.0, "ef_construct": 200.0},
				"optimizers_config":        map[string]any{"indexing_threshold": 1000.0},
				"wal_config":               map[string]any{"wal_capacity_mb": 64.0},
				"quantization_config":      map[string]any{"scalar": map[string]any{"type": "int8"}},
				"strict_mode_config":       map[string]any{"enabled": false},
				"metadata":                 map[string]any{"team": "search"},
			},
		},
		"OnePeer": {
			reason: "On one peer the replication factor, and the write consistency factor with it, are capped at 1 and the cap is reported.",
			peers:  1,
			capped: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cr, err := CreationFor(c, tc.peers)
			if err != nil {
				t.Fatalf("%s\nCreationFor(...): %v", tc.reason, err)
			}
			var got map[string]any
			if err := json.Unmarshal(cr.Body, &got); err != nil {
				t.Fatal(err)
			}
			if cr.Capped != tc.capped {
				t.Errorf("%s\nCapped = %t, want %t", tc.reason, cr.Capped, tc.capped)
			}
			if tc.want == nil {
				if got["replication_factor"] != 1.0 || got["write_consistency_factor"] != 1.0 || cr.ReplicationFactor != 1 {
					t.Errorf("%s\nreplication %v, write consistency %v", tc.reason, got["replication_factor"], got["write_consistency_factor"])
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nCreationFor(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestShardsPerKeyAndLayout(t *testing.T) {
	custom := col("c", func(c *manifest.Collection) {
		c.ShardingMethod, c.ShardNumber = "custom", 2
		c.ShardKeys = []json.RawMessage{json.RawMessage(`"eu"`), json.RawMessage(`7`)}
		c.Shards = []manifest.Shard{
			{ID: 0, ShardKey: json.RawMessage(`"eu"`)}, {ID: 1, ShardKey: json.RawMessage(`"eu"`)},
			{ID: 2, ShardKey: json.RawMessage(`7`)}, {ID: 3, ShardKey: json.RawMessage(`7`)},
		}
	})
	n, err := ShardsPerKey(custom)
	if err != nil || n != 2 {
		t.Fatalf("ShardsPerKey: %d, %v; want 2", n, err)
	}
	cases := map[string]struct {
		reason string
		target map[uint32]json.RawMessage
		ok     bool
	}{
		"Same": {
			reason: "Keys created in the recorded order give back the same ids.",
			target: map[uint32]json.RawMessage{0: json.RawMessage(`"eu"`), 1: json.RawMessage(` "eu"`), 2: json.RawMessage(`7`), 3: json.RawMessage(`7`)},
			ok:     true,
		},
		"Swapped": {
			reason: "Keys on other ids would put points where Qdrant does not look for them.",
			target: map[uint32]json.RawMessage{0: json.RawMessage(`7`), 1: json.RawMessage(`7`), 2: json.RawMessage(`"eu"`), 3: json.RawMessage(`"eu"`)},
		},
		"Missing": {
			reason: "A missing shard id is a mismatch.",
			target: map[uint32]json.RawMessage{0: json.RawMessage(`"eu"`), 1: json.RawMessage(`"eu"`), 2: json.RawMessage(`7`)},
		},
		"Extra": {
			reason: "An extra shard would stay empty: a mismatch.",
			target: map[uint32]json.RawMessage{0: json.RawMessage(`"eu"`), 1: json.RawMessage(`"eu"`), 2: json.RawMessage(`7`), 3: json.RawMessage(`7`), 4: json.RawMessage(`7`)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := CheckShardLayout(custom, tc.target)
			if got := err == nil; got != tc.ok {
				t.Errorf("%s\nCheckShardLayout: %v, want ok=%t", tc.reason, err, tc.ok)
			}
		})
	}
	uneven := custom
	uneven.Shards = custom.Shards[:3]
	if _, err := ShardsPerKey(uneven); err == nil {
		t.Errorf("ShardsPerKey of keys with different shard counts: no error")
	}
}

func TestIndexSchema(t *testing.T) {
	cases := map[string]struct {
		reason string
		idx    manifest.PayloadIndex
		want   string
	}{
		"Plain":  {"A type without parameters is created by its name.", manifest.PayloadIndex{DataType: "keyword"}, `"keyword"`},
		"Params": {"Parameters name their type and are created as they are.", manifest.PayloadIndex{DataType: "text", Params: json.RawMessage(`{"type":"text","tokenizer":"word"}`)}, `{"type":"text","tokenizer":"word"}`},
		"Null":   {"Null parameters are no parameters.", manifest.PayloadIndex{DataType: "integer", Params: json.RawMessage(`null`)}, `"integer"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := indexSchema(tc.idx)
			if err != nil || string(got) != tc.want {
				t.Errorf("%s\nindexSchema: %s, %v; want %s", tc.reason, got, err, tc.want)
			}
		})
	}
}
