package qdrant

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCluster(t *testing.T) {
	cases := map[string]struct {
		reason string
		result string
		want   ClusterInfo
	}{
		"Standalone": {
			reason: "Standalone nodes report only status disabled.",
			result: `{"status":"disabled"}`,
			want:   ClusterInfo{Status: ClusterStatusDisabled},
		},
		"Enabled": {
			reason: "Peers are keyed by peer ids sent as JSON strings.",
			result: `{"status":"enabled","peer_id":4619796018485071,
				"peers":{"4619796018485071":{"uri":"http://qdrant-0.qdrant-headless:6335/"},
				         "18446744073709551615":{"uri":"http://qdrant-1.qdrant-headless:6335/"}},
				"raft_info":{"term":2,"commit":57,"pending_operations":0,"leader":4619796018485071,"role":"Leader","is_voter":true},
				"consensus_thread_status":{"consensus_thread_status":"working","last_update":"2026-08-04T10:49:10.123Z"},
				"message_send_failures":{}}`,
			want: ClusterInfo{
				Status: ClusterStatusEnabled,
				PeerID: 4619796018485071,
				Peers: map[uint64]PeerInfo{
					4619796018485071:     {URI: "http://qdrant-0.qdrant-headless:6335/"},
					18446744073709551615: {URI: "http://qdrant-1.qdrant-headless:6335/"},
				},
				RaftInfo:              &RaftInfo{Term: 2, Commit: 57, Leader: ptr(uint64(4619796018485071)), Role: ptr("Leader"), IsVoter: true},
				ConsensusThreadStatus: &ConsensusThreadStatus{Status: "working"},
			},
		},
		"NoLeader": {
			reason: "leader and role are null during an election.",
			result: `{"status":"enabled","peer_id":1,"peers":{"1":{"uri":"http://a:6335/"}},
				"raft_info":{"term":3,"commit":9,"pending_operations":2,"leader":null,"role":null,"is_voter":true},
				"consensus_thread_status":{"consensus_thread_status":"stopped_with_err","err":"boom"},"message_send_failures":{}}`,
			want: ClusterInfo{
				Status:                ClusterStatusEnabled,
				PeerID:                1,
				Peers:                 map[uint64]PeerInfo{1: {URI: "http://a:6335/"}},
				RaftInfo:              &RaftInfo{Term: 3, Commit: 9, PendingOperations: 2, IsVoter: true},
				ConsensusThreadStatus: &ConsensusThreadStatus{Status: "stopped_with_err", Err: "boom"},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeRaw(w, tc.result) })
			got, err := c.Cluster(t.Context())
			if err != nil {
				t.Fatalf("Cluster(): %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nCluster(): -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff([]recorded{{Method: "GET", Path: "/cluster"}}, f.requests()); diff != "" {
				t.Errorf("%s\nrequests: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestCollectionCluster(t *testing.T) {
	cases := map[string]struct {
		reason string
		result string
		want   CollectionClusterInfo
	}{
		"Distributed": {
			reason: "Local and remote replicas, transfers and states decode.",
			result: `{"peer_id":4619796018485071,"shard_count":3,
				"local_shards":[{"shard_id":0,"points_count":34,"state":"Active"},{"shard_id":1,"points_count":33,"state":"ManualRecovery"}],
				"remote_shards":[{"shard_id":1,"peer_id":2189732418852856,"state":"Partial"},{"shard_id":2,"peer_id":5494584121244909,"state":"ActiveRead"}],
				"shard_transfers":[{"shard_id":2,"from":5494584121244909,"to":4619796018485071,"sync":true,"method":"stream_records","comment":"Transferring records (50/100)"}]}`,
			want: CollectionClusterInfo{
				PeerID:     4619796018485071,
				ShardCount: 3,
				LocalShards: []LocalShardInfo{
					{ShardID: 0, PointsCount: 34, State: ReplicaStateActive},
					{ShardID: 1, PointsCount: 33, State: ReplicaStateManualRecovery},
				},
				RemoteShards: []RemoteShardInfo{
					{ShardID: 1, PeerID: 2189732418852856, State: ReplicaStatePartial},
					{ShardID: 2, PeerID: 5494584121244909, State: ReplicaStateActiveRead},
				},
				ShardTransfers: []ShardTransferInfo{
					{ShardID: 2, From: 5494584121244909, To: 4619796018485071, Sync: true, Method: "stream_records", Comment: "Transferring records (50/100)"},
				},
			},
		},
		"CustomSharding": {
			reason: "Shard keys may be strings or integers; resharding transfers carry to_shard_id.",
			result: `{"peer_id":1,"shard_count":2,
				"local_shards":[{"shard_id":0,"shard_key":"eu","points_count":1,"state":"Active"}],
				"remote_shards":[{"shard_id":1,"shard_key":7,"peer_id":2,"state":"ReshardingScaleDown"}],
				"shard_transfers":[{"shard_id":0,"to_shard_id":1,"from":1,"to":2,"sync":false,"method":"resharding_stream_records"}],
				"resharding_operations":[{"direction":"up","shard_id":1,"peer_id":2,"shard_key":7}]}`,
			want: CollectionClusterInfo{
				PeerID:       1,
				ShardCount:   2,
				LocalShards:  []LocalShardInfo{{ShardID: 0, PointsCount: 1, State: ReplicaStateActive, ShardKey: ptr(StringShardKey("eu"))}},
				RemoteShards: []RemoteShardInfo{{ShardID: 1, PeerID: 2, State: ReplicaStateReshardingScaleDown, ShardKey: ptr(NumericShardKey(7))}},
				ShardTransfers: []ShardTransferInfo{
					{ShardID: 0, ToShardID: ptr(uint32(1)), From: 1, To: 2, Method: "resharding_stream_records"},
				},
				ReshardingOperations: []ReshardingInfo{{Direction: "up", ShardID: 1, PeerID: 2, ShardKey: ptr(NumericShardKey(7))}},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeRaw(w, tc.result) })
			got, err := c.CollectionCluster(t.Context(), "my coll")
			if err != nil {
				t.Fatalf("CollectionCluster(): %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nCollectionCluster(): -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff([]recorded{{Method: "GET", Path: "/collections/my%20coll/cluster"}}, f.requests()); diff != "" {
				t.Errorf("%s\nrequests: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
