package qdrant

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// collectionInfoJSON is the v1.19 example of API.md §5 with custom sharding
// and a payload index added.
const collectionInfoJSON = `{
  "status": "green", "optimizer_status": "ok", "indexed_vectors_count": 0,
  "points_count": 100, "segments_count": 2,
  "config": {
    "params": {"vectors": {"size": 4, "distance": "Dot"}, "shard_number": 3, "sharding_method": "custom",
               "replication_factor": 2, "write_consistency_factor": 1, "on_disk_payload": true,
               "read_fan_out_delay_ms": 5},
    "hnsw_config": {"m": 16, "ef_construct": 100},
    "optimizer_config": {"deleted_threshold": 0.2},
    "wal_config": {"wal_capacity_mb": 32},
    "quantization_config": null
  },
  "payload_schema": {"city": {"data_type": "keyword", "points": 40}},
  "update_queue": {"length": 0}
}`

func TestCollectionInfoJSON(t *testing.T) {
	var got CollectionInfo
	if err := json.Unmarshal([]byte(collectionInfoJSON), &got); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(collectionInfoJSON), &doc); err != nil {
		t.Fatal(err)
	}
	want := CollectionInfo{
		Status:              "green",
		OptimizerStatus:     json.RawMessage(`"ok"`),
		PointsCount:         ptr(uint64(100)),
		IndexedVectorsCount: ptr(uint64(0)),
		SegmentsCount:       2,
		PayloadSchema:       map[string]PayloadIndexInfo{"city": {DataType: "keyword", Points: 40}},
		RawConfig:           doc["config"],
		Config: CollectionConfig{
			Params: CollectionParams{
				Vectors:                json.RawMessage(`{"size": 4, "distance": "Dot"}`),
				ShardNumber:            3,
				ReplicationFactor:      2,
				WriteConsistencyFactor: 1,
				ShardingMethod:         ShardingMethodCustom,
				OnDiskPayload:          ptr(true),
			},
			HNSWConfig:         json.RawMessage(`{"m": 16, "ef_construct": 100}`),
			OptimizerConfig:    json.RawMessage(`{"deleted_threshold": 0.2}`),
			WALConfig:          json.RawMessage(`{"wal_capacity_mb": 32}`),
			QuantizationConfig: json.RawMessage(`null`),
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Unmarshal(CollectionInfo): -want, +got:\n%s", diff)
	}

	// The raw config must survive a store-and-load cycle verbatim, including
	// fields this client does not model (read_fan_out_delay_ms).
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var again CollectionInfo
	if err := json.Unmarshal(b, &again); err != nil {
		t.Fatalf("Unmarshal again: %v", err)
	}
	if diff := cmp.Diff(jsonValue(t, string(doc["config"])), jsonValue(t, string(again.RawConfig))); diff != "" {
		t.Errorf("raw config after round trip: -want, +got:\n%s", diff)
	}
	if diff := cmp.Diff(got.Config, again.Config, equateJSON()); diff != "" {
		t.Errorf("typed config after round trip: -want, +got:\n%s", diff)
	}
}

func TestSnapshotDescriptionJSON(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     string
		want   SnapshotDescription
		out    string
	}{
		"Local": {
			reason: "Local snapshots carry a time and a checksum.",
			in:     `{"name":"c-shard-0-2026-08-04-10-49-10.snapshot","creation_time":"2026-08-04T10:49:10","size":18956800,"checksum":"9f86"}`,
			want:   SnapshotDescription{Name: "c-shard-0-2026-08-04-10-49-10.snapshot", CreationTime: ptr("2026-08-04T10:49:10"), Size: 18956800, Checksum: "9f86"},
			out:    `{"name":"c-shard-0-2026-08-04-10-49-10.snapshot","creation_time":"2026-08-04T10:49:10","size":18956800,"checksum":"9f86"}`,
		},
		"S3": {
			reason: "S3 snapshots have no checksum key; creation_time may be null.",
			in:     `{"name":"s.snapshot","creation_time":null,"size":1}`,
			want:   SnapshotDescription{Name: "s.snapshot", Size: 1},
			out:    `{"name":"s.snapshot","creation_time":null,"size":1}`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got SnapshotDescription
			if err := json.Unmarshal([]byte(tc.in), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nUnmarshal: -want, +got:\n%s", tc.reason, diff)
			}
			b, _ := json.Marshal(got)
			if diff := cmp.Diff(tc.out, string(b)); diff != "" {
				t.Errorf("%s\nMarshal: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
