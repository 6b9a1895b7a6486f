package qdrant

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
)

func TestPoints(t *testing.T) {
	uuid := "550e8400-e29b-41d4-a716-446655440000"
	runCallCases(t, map[string]callCase{
		"Upsert": {
			reason: "Points go in the points list form with explicit wait.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Upsert(ctx, "c", []Point{
					{ID: NumericPointID(1), Vector: json.RawMessage(`[0.1,0.2]`), Payload: map[string]any{"city": "Berlin"}},
					{ID: UUIDPointID(uuid), Vector: json.RawMessage(`{"img":[1,2]}`)},
				}, true)
			},
			answer: answer{result: `{"operation_id":0,"status":"completed"}`},
			wantReq: []recorded{{Method: "PUT", Path: "/collections/c/points", Query: url.Values{"wait": {"true"}},
				Body: jsonValue(t, `{"points":[
					{"id":1,"vector":[0.1,0.2],"payload":{"city":"Berlin"}},
					{"id":"`+uuid+`","vector":{"img":[1,2]}}]}`)}},
		},
		"UpsertNoWait": {
			reason: "wait=false is sent explicitly too.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Upsert(ctx, "c", []Point{{ID: NumericPointID(1), Vector: json.RawMessage(`[1]`)}}, false)
			},
			answer: answer{result: `{"operation_id":0,"status":"acknowledged"}`},
			wantReq: []recorded{{Method: "PUT", Path: "/collections/c/points", Query: url.Values{"wait": {"false"}},
				Body: jsonValue(t, `{"points":[{"id":1,"vector":[1]}]}`)}},
		},
		"UpsertWithoutVector": {
			reason: "vector is required by Qdrant; refuse before sending.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Upsert(ctx, "c", []Point{{ID: NumericPointID(9)}}, true)
			},
			wantErr: `other: cannot upsert into collection "c": point 9 has no vector`,
		},
		"CountExact": {
			reason:  "exact is always sent.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.Count(ctx, "c", true) },
			answer:  answer{result: `{"count":100}`},
			wantReq: []recorded{{Method: "POST", Path: "/collections/c/points/count", Body: jsonValue(t, `{"exact":true}`)}},
			want:    uint64(100),
		},
		"CountApprox": {
			reason:  "exact=false is sent, not omitted (Qdrant's default is true).",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.Count(ctx, "c", false) },
			answer:  answer{result: `{"count":98}`},
			wantReq: []recorded{{Method: "POST", Path: "/collections/c/points/count", Body: jsonValue(t, `{"exact":false}`)}},
			want:    uint64(98),
		},
		"Retrieve": {
			reason: "ids and selectors form a PointRequest.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Retrieve(ctx, "c", []PointID{NumericPointID(1), UUIDPointID(uuid)}, true, false)
			},
			answer: answer{result: `[{"id":1,"payload":{"a":1},"vector":null},{"id":"` + uuid + `","payload":{},"shard_key":"eu"}]`},
			wantReq: []recorded{{Method: "POST", Path: "/collections/c/points",
				Body: jsonValue(t, `{"ids":[1,"`+uuid+`"],"with_payload":true,"with_vector":false}`)}},
			want: []Record{
				{ID: NumericPointID(1), Payload: map[string]any{"a": 1.0}, Vector: json.RawMessage(`null`)},
				{ID: UUIDPointID(uuid), Payload: map[string]any{}, ShardKey: ptr(StringShardKey("eu"))},
			},
		},
		"RetrieveNoIDs": {
			reason: "An empty id list is sent as [], never null.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Retrieve(ctx, "c", nil, false, false)
			},
			answer: answer{result: `[]`},
			wantReq: []recorded{{Method: "POST", Path: "/collections/c/points",
				Body: jsonValue(t, `{"ids":[],"with_payload":false,"with_vector":false}`)}},
			want: []Record{},
		},
		"PointByUUID": {
			reason:  "The id goes into the path.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.Point(ctx, "c", UUIDPointID(uuid)) },
			answer:  answer{result: `{"id":"` + uuid + `","payload":{"k":"v"},"vector":[1,2]}`},
			wantReq: []recorded{{Method: "GET", Path: "/collections/c/points/" + uuid}},
			want:    Record{ID: UUIDPointID(uuid), Payload: map[string]any{"k": "v"}, Vector: json.RawMessage(`[1,2]`)},
		},
		"PointMissing": {
			reason:  "A missing point is a *NotFoundError.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.Point(ctx, "c", NumericPointID(5)) },
			answer:  answer{status: 404, msg: "Not found: No point with id 5 found"},
			wantReq: []recorded{{Method: "GET", Path: "/collections/c/points/5"}},
			want:    Record{},
			wantErr: "NotFound",
		},
		"ScrollFirstPage": {
			reason: "Nil limit and offset are omitted; selectors are explicit.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Scroll(ctx, "c", ScrollRequest{WithPayload: true})
			},
			answer: answer{result: `{"points":[{"id":1}],"next_page_offset":"` + uuid + `"}`},
			wantReq: []recorded{{Method: "POST", Path: "/collections/c/points/scroll",
				Body: jsonValue(t, `{"with_payload":true,"with_vector":false}`)}},
			want: ScrollResult{Points: []Record{{ID: NumericPointID(1)}}, NextPageOffset: ptr(UUIDPointID(uuid))},
		},
		"ScrollLastPage": {
			reason: "Limit and offset are sent; a null next offset ends the scroll.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Scroll(ctx, "c", ScrollRequest{Limit: ptr(uint32(2)), Offset: ptr(NumericPointID(10)), WithVector: true})
			},
			answer: answer{result: `{"points":[],"next_page_offset":null}`},
			wantReq: []recorded{{Method: "POST", Path: "/collections/c/points/scroll",
				Body: jsonValue(t, `{"limit":2,"offset":10,"with_payload":false,"with_vector":true}`)}},
			want: ScrollResult{Points: []Record{}},
		},
	})
}
