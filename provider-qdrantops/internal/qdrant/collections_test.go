package qdrant

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// answer is a canned reply of the fake server.
type answer struct {
	status int    // 0 means 200
	result string // raw JSON result for 200
	msg    string // error message otherwise
}

func (a answer) handler() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch a.status {
		case 0, http.StatusOK:
			writeRaw(w, a.result)
		case http.StatusAccepted:
			writeAccepted(w)
		default:
			writeError(w, a.status, a.msg)
		}
	}
}

// callCase is a table case shared by the endpoint tests: the call, what the
// fake answers, and what must have been sent and returned.
type callCase struct {
	reason  string
	call    func(ctx context.Context, c *Client) (any, error)
	answer  answer
	wantReq []recorded
	want    any
	wantErr string // errorKind of the error
}

func runCallCases(t *testing.T, cases map[string]callCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, f := newFake(t, tc.answer.handler())
			got, err := tc.call(t.Context(), c)
			if diff := cmp.Diff(tc.wantErr, errorKind(err)); diff != "" {
				t.Errorf("%s\nerror: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.want, got, equateJSON()); diff != "" {
				t.Errorf("%s\nresult: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.wantReq, f.requests()); diff != "" {
				t.Errorf("%s\nrequests: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestCollections(t *testing.T) {
	vectors := json.RawMessage(`{"size":4,"distance":"Dot"}`)
	runCallCases(t, map[string]callCase{
		"ListCollections": {
			reason:  "Names are returned sorted.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.ListCollections(ctx) },
			answer:  answer{result: `{"collections":[{"name":"b"},{"name":"a"}]}`},
			wantReq: []recorded{{Method: "GET", Path: "/collections"}},
			want:    []string{"a", "b"},
		},
		"CollectionNotFound": {
			reason:  "An unknown collection is a *NotFoundError.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.Collection(ctx, "x") },
			answer:  answer{status: 404, msg: "Not found: Collection `x` doesn't exist!"},
			wantReq: []recorded{{Method: "GET", Path: "/collections/x"}},
			want:    CollectionInfo{},
			wantErr: "NotFound",
		},
		"Exists": {
			reason:  "exists is read from the result object.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.CollectionExists(ctx, "a b") },
			answer:  answer{result: `{"exists":true}`},
			wantReq: []recorded{{Method: "GET", Path: "/collections/a%20b/exists"}},
			want:    true,
		},
		"CreateMinimal": {
			reason: "Unset options are omitted so Qdrant applies its defaults.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.CreateCollection(ctx, "c", CreateCollection{Vectors: vectors, ShardNumber: ptr(uint32(3))})
			},
			answer: answer{result: `true`},
			wantReq: []recorded{{Method: "PUT", Path: "/collections/c",
				Body: jsonValue(t, `{"vectors":{"size":4,"distance":"Dot"},"shard_number":3}`)}},
		},
		"CreateFull": {
			reason: "Every option reaches the body under Qdrant's names.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.CreateCollection(ctx, "c", CreateCollection{
					Vectors: vectors, ShardNumber: ptr(uint32(2)), ReplicationFactor: ptr(uint32(2)),
					WriteConsistencyFactor: ptr(uint32(1)), ShardingMethod: ShardingMethodCustom, OnDiskPayload: ptr(false),
					SparseVectors: json.RawMessage(`{"s":{}}`), HNSWConfig: json.RawMessage(`{"m":8}`),
					WALConfig: json.RawMessage(`{"wal_capacity_mb":1}`), OptimizersConfig: json.RawMessage(`{"indexing_threshold":0}`),
					QuantizationConfig: json.RawMessage(`{"scalar":{"type":"int8"}}`),
				})
			},
			answer: answer{result: `true`},
			wantReq: []recorded{{Method: "PUT", Path: "/collections/c", Body: jsonValue(t, `{
				"vectors":{"size":4,"distance":"Dot"},"shard_number":2,"replication_factor":2,
				"write_consistency_factor":1,"sharding_method":"custom","on_disk_payload":false,
				"sparse_vectors":{"s":{}},"hnsw_config":{"m":8},"wal_config":{"wal_capacity_mb":1},
				"optimizers_config":{"indexing_threshold":0},"quantization_config":{"scalar":{"type":"int8"}}}`)}},
		},
		"CreateRaw": {
			reason: "A raw body is sent as it is, fields this client does not know included.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.CreateCollectionRaw(ctx, "c", json.RawMessage(`{"vectors":{"size":4,"distance":"Dot"},"metadata":{"team":"x"}}`))
			},
			answer:  answer{result: `true`},
			wantReq: []recorded{{Method: "PUT", Path: "/collections/c", Body: jsonValue(t, `{"vectors":{"size":4,"distance":"Dot"},"metadata":{"team":"x"}}`)}},
		},
		"CreateRawNotRetried": {
			reason: "A create whose answer was lost may have happened: a 503 is not retried, which would turn into a 409.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.CreateCollectionRaw(ctx, "c", json.RawMessage(`{}`))
			},
			answer:  answer{status: 503, msg: "Service unavailable"},
			wantReq: []recorded{{Method: "PUT", Path: "/collections/c", Body: map[string]any{}}},
			wantErr: "Unavailable",
		},
		"CreateRawInvalidJSON": {
			reason: "A body that is not JSON is refused before any request.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.CreateCollectionRaw(ctx, "c", json.RawMessage(`{"vectors":`))
			},
			wantErr: `other: cannot create collection "c": the body is not valid JSON`,
		},
		"CreateConflict": {
			reason: "An existing collection is a *ConflictError.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.CreateCollection(ctx, "c", CreateCollection{Vectors: vectors})
			},
			answer:  answer{status: 409, msg: "Wrong input: Collection `c` already exists!"},
			wantReq: []recorded{{Method: "PUT", Path: "/collections/c", Body: jsonValue(t, `{"vectors":{"size":4,"distance":"Dot"}}`)}},
			wantErr: "Conflict",
		},
		"DeleteExisting": {
			reason:  "true means the collection existed.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.DeleteCollection(ctx, "c") },
			answer:  answer{result: `true`},
			wantReq: []recorded{{Method: "DELETE", Path: "/collections/c"}},
			want:    true,
		},
		"DeleteMissing": {
			reason:  "Deleting a missing collection answers false, not 404.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.DeleteCollection(ctx, "c") },
			answer:  answer{result: `false`},
			wantReq: []recorded{{Method: "DELETE", Path: "/collections/c"}},
			want:    false,
		},
		"CreateShardKey": {
			reason: "Shard keys are created with optional counts.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.CreateShardKey(ctx, "c", StringShardKey("eu"), ptr(uint32(2)), nil)
			},
			answer:  answer{result: `true`},
			wantReq: []recorded{{Method: "PUT", Path: "/collections/c/shards", Body: jsonValue(t, `{"shard_key":"eu","shards_number":2}`)}},
		},
		"CreateNumericShardKey": {
			reason: "Numeric shard keys are sent as numbers.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.CreateShardKey(ctx, "c", NumericShardKey(7), nil, ptr(uint32(3)))
			},
			answer:  answer{result: `true`},
			wantReq: []recorded{{Method: "PUT", Path: "/collections/c/shards", Body: jsonValue(t, `{"shard_key":7,"replication_factor":3}`)}},
		},
	})
}

func TestCollectionInfo(t *testing.T) {
	c, f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeRaw(w, collectionInfoJSON) })
	got, err := c.Collection(t.Context(), "c")
	if err != nil {
		t.Fatalf("Collection(): %v", err)
	}
	want := CollectionParams{Vectors: json.RawMessage(`{"size":4,"distance":"Dot"}`), ShardNumber: 3, ReplicationFactor: 2,
		WriteConsistencyFactor: 1, ShardingMethod: ShardingMethodCustom, OnDiskPayload: ptr(true)}
	if diff := cmp.Diff(want, got.Config.Params, equateJSON()); diff != "" {
		t.Errorf("Collection().Config.Params: -want, +got:\n%s", diff)
	}
	if diff := cmp.Diff(5.0, jsonValue(t, string(got.RawConfig)).(map[string]any)["params"].(map[string]any)["read_fan_out_delay_ms"]); diff != "" {
		t.Errorf("Collection().RawConfig lost an unknown field: -want, +got:\n%s", diff)
	}
	if diff := cmp.Diff([]recorded{{Method: "GET", Path: "/collections/c"}}, f.requests()); diff != "" {
		t.Errorf("requests: -want, +got:\n%s", diff)
	}
}

func TestAliasesAndIndexes(t *testing.T) {
	runCallCases(t, map[string]callCase{
		"Aliases": {
			reason:  "All aliases are listed, sorted by alias name.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.Aliases(ctx) },
			answer:  answer{result: `{"aliases":[{"alias_name":"z","collection_name":"c"},{"alias_name":"a","collection_name":"d"}]}`},
			wantReq: []recorded{{Method: "GET", Path: "/aliases"}},
			want:    []Alias{{AliasName: "a", CollectionName: "d"}, {AliasName: "z", CollectionName: "c"}},
		},
		"CollectionAliases": {
			reason:  "Aliases of one collection come from its own path.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.CollectionAliases(ctx, "c") },
			answer:  answer{result: `{"aliases":[{"alias_name":"z","collection_name":"c"}]}`},
			wantReq: []recorded{{Method: "GET", Path: "/collections/c/aliases"}},
			want:    []Alias{{AliasName: "z", CollectionName: "c"}},
		},
		"UpdateAliases": {
			reason: "Actions are sent in order, each with one operation.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.UpdateAliases(ctx, []AliasAction{
					DeleteAliasAction("old"), CreateAliasAction("prod", "c-2"), RenameAliasAction("a", "b"),
				})
			},
			answer: answer{result: `true`},
			wantReq: []recorded{{Method: "POST", Path: "/collections/aliases", Body: jsonValue(t, `{"actions":[
				{"delete_alias":{"alias_name":"old"}},
				{"create_alias":{"alias_name":"prod","collection_name":"c-2"}},
				{"rename_alias":{"old_alias_name":"a","new_alias_name":"b"}}]}`)}},
		},
		"UpdateAliasesInvalidAction": {
			reason: "An action with two operations is refused before sending.",
			call: func(ctx context.Context, c *Client) (any, error) {
				a := CreateAliasAction("x", "c")
				a.DeleteAlias = &DeleteAlias{AliasName: "x"}
				return nil, c.UpdateAliases(ctx, []AliasAction{a})
			},
			wantErr: "other: cannot update aliases: action 0 sets 2 operations, want exactly 1",
		},
		"CreatePayloadIndex": {
			reason: "The field schema is passed through; wait is explicit.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.CreatePayloadIndex(ctx, "c", "city", json.RawMessage(`{"type":"keyword","is_tenant":true}`), true)
			},
			answer: answer{result: `{"operation_id":3,"status":"completed"}`},
			wantReq: []recorded{{Method: "PUT", Path: "/collections/c/index", Query: url.Values{"wait": {"true"}},
				Body: jsonValue(t, `{"field_name":"city","field_schema":{"type":"keyword","is_tenant":true}}`)}},
		},
		"CreatePayloadIndexNoWait": {
			reason: "A bare type name is a valid schema; wait=false is sent.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.CreatePayloadIndex(ctx, "c", "n", json.RawMessage(`"integer"`), false)
			},
			answer: answer{result: `{"operation_id":4,"status":"acknowledged"}`},
			wantReq: []recorded{{Method: "PUT", Path: "/collections/c/index", Query: url.Values{"wait": {"false"}},
				Body: jsonValue(t, `{"field_name":"n","field_schema":"integer"}`)}},
		},
	})
}
