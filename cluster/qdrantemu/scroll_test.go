package qdrantemu_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

// filterCollection creates "f": 2 shards, points 1..20 with payload
// {"n": id, "tag": "t<id%7>", "nested": {"group": id%2}, "labels": ["l<id%3>", "all"]}
// and point 21 without payload.
func filterCollection(t *testing.T, u string) {
	t.Helper()
	createCollection(t, u, "f", 2, 1, 0)
	var pts []map[string]any
	for id := 1; id <= 20; id++ {
		pts = append(pts, map[string]any{"id": id, "vector": []float64{1, 2, 3, 4}, "payload": map[string]any{
			"n": id, "tag": fmt.Sprintf("t%d", id%7), "nested": map[string]any{"group": id % 2}, "labels": []string{fmt.Sprintf("l%d", id%3), "all"},
		}})
	}
	pts = append(pts, map[string]any{"id": 21, "vector": []float64{1, 2, 3, 4}})
	mustOK(t, call(t, "PUT", u+"/collections/f/points?wait=true", map[string]any{"points": pts}))
}

// scrollIDs pages through a scroll and returns the ids in order.
func scrollIDs(t *testing.T, u string, body map[string]any) []int {
	t.Helper()
	var ids []int
	for page := 0; page < 100; page++ {
		res := mustOK(t, call(t, "POST", u+"/collections/f/points/scroll", body))["result"].(map[string]any)
		for _, p := range res["points"].([]any) {
			ids = append(ids, int(p.(map[string]any)["id"].(float64)))
		}
		if res["next_page_offset"] == nil {
			return ids
		}
		next := map[string]any{}
		for k, v := range body {
			next[k] = v
		}
		next["offset"] = res["next_page_offset"]
		body = next
	}
	t.Fatal("scroll never ended")
	return nil
}

// TestScrollAndCountHonourFilters states that scroll and count apply the
// filter (lib/segment/src/types.rs, Filter): must, should and must_not, match
// on values, any and except, range, has_id, nested keys and arrays; scroll
// pages by point id, limit points at a time, next_page_offset the next
// matching id (API.md 5).
func TestScrollAndCountHonourFilters(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	filterCollection(t, u)
	cases := map[string]struct {
		reason string
		filter map[string]any
		want   []int
	}{
		"NoFilter":    {"Every point.", nil, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}},
		"MatchValue":  {"must with match.value.", map[string]any{"must": []any{map[string]any{"key": "tag", "match": map[string]any{"value": "t3"}}}}, []int{3, 10, 17}},
		"HasID":       {"has_id keeps the listed ids that exist.", map[string]any{"must": []any{map[string]any{"has_id": []any{2, 5, 99}}}}, []int{2, 5}},
		"MatchAnyNot": {"must_not with match.any.", map[string]any{"must_not": []any{map[string]any{"key": "tag", "match": map[string]any{"any": []string{"t0", "t1", "t2", "t3", "t4", "t5"}}}}}, []int{6, 13, 20, 21}},
		"Should":      {"should is a union.", map[string]any{"should": []any{map[string]any{"has_id": []any{1}}, map[string]any{"key": "n", "range": map[string]any{"gte": 19}}}}, []int{1, 19, 20}},
		"Nested":      {"A dotted key reads nested objects.", map[string]any{"must": []any{map[string]any{"key": "nested.group", "match": map[string]any{"value": 1}}, map[string]any{"key": "n", "range": map[string]any{"lt": 6}}}}, []int{1, 3, 5}},
		"Array":       {"A key on an array matches any element.", map[string]any{"must": []any{map[string]any{"key": "labels", "match": map[string]any{"value": "l0"}}}}, []int{3, 6, 9, 12, 15, 18}},
		"Except":      {"match.except needs a value.", map[string]any{"must": []any{map[string]any{"key": "tag", "match": map[string]any{"except": []string{"t0", "t1", "t2", "t3", "t4", "t5"}}}}}, []int{6, 13, 20}},
		"IsEmpty":     {"is_empty finds points without the key.", map[string]any{"must": []any{map[string]any{"is_empty": map[string]any{"key": "tag"}}}}, []int{21}},
		"NestedFilter": {"A filter is a condition too.", map[string]any{"must": []any{map[string]any{"should": []any{
			map[string]any{"has_id": []any{4}}, map[string]any{"has_id": []any{8}},
		}}}}, []int{4, 8}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			body := map[string]any{"limit": 2}
			if tc.filter != nil {
				body["filter"] = tc.filter
			}
			if diff := cmp.Diff(tc.want, scrollIDs(t, u, body)); diff != "" {
				t.Errorf("%s\nscrolled ids, 2 per page: -want, +got:\n%s", tc.reason, diff)
			}
			cbody := map[string]any{"exact": true}
			if tc.filter != nil {
				cbody["filter"] = tc.filter
			}
			got := mustOK(t, call(t, "POST", u+"/collections/f/points/count", cbody))["result"].(map[string]any)["count"]
			if int(got.(float64)) != len(tc.want) {
				t.Errorf("%s\ncount with the filter: want %d, got %v", tc.reason, len(tc.want), got)
			}
		})
	}

	t.Run("OffsetIsAnID", func(t *testing.T) {
		// A scroll's offset is a point id: the page starts at the first
		// matching id at or after it, even one that does not match.
		res := mustOK(t, call(t, "POST", u+"/collections/f/points/scroll", map[string]any{
			"offset": 4, "limit": 1, "filter": map[string]any{"must": []any{map[string]any{"key": "tag", "match": map[string]any{"value": "t3"}}}},
		}))["result"].(map[string]any)
		if diff := cmp.Diff(map[string]any{"points": []any{map[string]any{"id": 10.0, "payload": map[string]any{"n": 10.0, "tag": "t3", "nested": map[string]any{"group": 0.0}, "labels": []any{"l1", "all"}}}}, "next_page_offset": 17.0}, res); diff != "" {
			t.Errorf("page at offset 4: -want, +got:\n%s", diff)
		}
	})
	t.Run("UnsupportedCondition", func(t *testing.T) {
		// A condition the emulator cannot evaluate is refused, never ignored.
		r := call(t, "POST", u+"/collections/f/points/scroll", map[string]any{"filter": map[string]any{"must": []any{map[string]any{"key": "tag", "match": map[string]any{"text": "t"}}}}})
		if r.status != http.StatusBadRequest {
			t.Errorf("want 400, got %d %s", r.status, r.body)
		}
	})
}

// TestScrollOrderBy states how Qdrant scrolls by a payload key
// (lib/collection/src/collection/point_ops.rs): the key needs a range index,
// an offset cannot be combined with it, records carry order_value, and
// start_from bounds the first value in the direction of the order.
func TestScrollOrderBy(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	filterCollection(t, u)

	r := call(t, "POST", u+"/collections/f/points/scroll", map[string]any{"order_by": "n"})
	if r.status != http.StatusBadRequest || !strings.Contains(r.errorText(t), "No range index for `order_by` key: `n`") {
		t.Errorf("order_by without an index: want 400 no range index, got %d %s", r.status, r.body)
	}
	mustOK(t, call(t, "PUT", u+"/collections/f/index?wait=true", map[string]any{"field_name": "n", "field_schema": "integer"}))

	cases := map[string]struct {
		reason string
		body   map[string]any
		want   []float64
	}{
		"Key":       {"A bare key orders ascending.", map[string]any{"order_by": "n", "limit": 3}, []float64{1, 2, 3}},
		"Desc":      {"desc orders from the highest.", map[string]any{"order_by": map[string]any{"key": "n", "direction": "desc"}, "limit": 3}, []float64{20, 19, 18}},
		"StartFrom": {"start_from is the first value.", map[string]any{"order_by": map[string]any{"key": "n", "start_from": 5}, "limit": 2}, []float64{5, 6}},
		"Filtered":  {"The filter applies first.", map[string]any{"order_by": map[string]any{"key": "n", "direction": "desc"}, "filter": map[string]any{"must": []any{map[string]any{"key": "tag", "match": map[string]any{"value": "t3"}}}}}, []float64{17, 10, 3}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := mustOK(t, call(t, "POST", u+"/collections/f/points/scroll", tc.body))["result"].(map[string]any)
			var got []float64
			for _, p := range res["points"].([]any) {
				rec := p.(map[string]any)
				if rec["order_value"] != rec["id"] {
					t.Errorf("%s\npoint %v: order_value %v, want its n", tc.reason, rec["id"], rec["order_value"])
				}
				got = append(got, rec["id"].(float64))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nids: -want, +got:\n%s", tc.reason, diff)
			}
			if res["next_page_offset"] != nil {
				t.Errorf("%s\nan ordered scroll has no next_page_offset, got %v", tc.reason, res["next_page_offset"])
			}
		})
	}
	r = call(t, "POST", u+"/collections/f/points/scroll", map[string]any{"order_by": "n", "offset": 3})
	if r.status != http.StatusBadRequest || !strings.Contains(r.errorText(t), "Cannot use an `offset` when using `order_by`") {
		t.Errorf("order_by with an offset: want 400, got %d %s", r.status, r.body)
	}
}

// TestPayloadSchemaCountsIndexedPoints states that payload_schema's points is
// the number of points the index holds, those with a value for the field
// (PayloadIndexInfo in the v1.19 OpenAPI), not the collection's count.
func TestPayloadSchemaCountsIndexedPoints(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	filterCollection(t, u)
	mustOK(t, call(t, "PUT", u+"/collections/f/index?wait=true", map[string]any{"field_name": "tag", "field_schema": "keyword"}))
	mustOK(t, call(t, "PUT", u+"/collections/f/index?wait=true", map[string]any{"field_name": "missing", "field_schema": "keyword"}))
	schema := mustOK(t, call(t, "GET", u+"/collections/f", nil))["result"].(map[string]any)["payload_schema"].(map[string]any)
	want := map[string]any{
		"tag":     map[string]any{"data_type": "keyword", "points": 20.0},
		"missing": map[string]any{"data_type": "keyword", "points": 0.0},
	}
	if diff := cmp.Diff(want, schema); diff != "" {
		t.Errorf("payload_schema of 21 points, 20 with a tag: -want, +got:\n%s", diff)
	}
}

// TestListShardKeys states GET /collections/{c}/shards (list_shard_keys,
// ShardKeysResponse in the v1.19 OpenAPI): the keys of a custom-sharded
// collection, null for automatic sharding.
func TestListShardKeys(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 2})
	u := c.URLs()[0]
	createCollection(t, u, "auto", 2, 1, 0)
	mustOK(t, call(t, "PUT", u+"/collections/custom", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Dot"}, "sharding_method": "custom", "shard_number": 2}))
	mustOK(t, call(t, "PUT", u+"/collections/custom/shards", map[string]any{"shard_key": "eu"}))
	mustOK(t, call(t, "PUT", u+"/collections/custom/shards", map[string]any{"shard_key": 7}))
	cases := map[string]struct {
		collection string
		want       any
	}{
		"Auto":   {"auto", map[string]any{"shard_keys": nil}},
		"Custom": {"custom", map[string]any{"shard_keys": []any{map[string]any{"key": "eu"}, map[string]any{"key": 7.0}}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := mustOK(t, call(t, "GET", c.URLs()[1]+"/collections/"+tc.collection+"/shards", nil))["result"]
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("GET /collections/%s/shards: -want, +got:\n%s", tc.collection, diff)
			}
		})
	}
}

// TestShardKeySelectorsAndRecords states that scroll and count take a
// shard_key selector (ScrollRequest, CountRequest in the v1.19 OpenAPI): a
// key or a list of keys of a custom-sharded collection, and that records of
// such a collection carry their shard_key (Record).
func TestShardKeySelectorsAndRecords(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 2})
	u := c.URLs()[0]
	createCustom(t, u, "k", 2, 1, "eu", "us")
	upsertKeyed(t, u, "k", "eu", 1, 3)
	upsertKeyed(t, u, "k", "us", 4, 5)

	res := mustOK(t, call(t, "POST", u+"/collections/k/points/scroll", map[string]any{"shard_key": "us", "with_payload": false}))["result"].(map[string]any)
	want := []any{map[string]any{"id": 4.0, "shard_key": "us"}, map[string]any{"id": 5.0, "shard_key": "us"}}
	if diff := cmp.Diff(want, res["points"]); diff != "" {
		t.Errorf("scroll of shard key us: -want, +got:\n%s", diff)
	}
	got := mustOK(t, call(t, "POST", u+"/collections/k/points", map[string]any{"ids": []int{1}, "with_payload": false}))["result"]
	if diff := cmp.Diff([]any{map[string]any{"id": 1.0, "shard_key": "eu"}}, got); diff != "" {
		t.Errorf("retrieved point 1: -want, +got:\n%s", diff)
	}
	for sel, n := range map[string]float64{`"eu"`: 3, `["eu","us"]`: 5} {
		got := mustOK(t, call(t, "POST", u+"/collections/k/points/count", map[string]any{"exact": true, "shard_key": json.RawMessage(sel)}))["result"].(map[string]any)["count"]
		if got != n {
			t.Errorf("count of shard keys %s: want %v, got %v", sel, n, got)
		}
	}
	if r := call(t, "POST", u+"/collections/k/points/count", map[string]any{"shard_key": "asia"}); r.status != http.StatusBadRequest {
		t.Errorf("an unknown shard key: want 400, got %d %s", r.status, r.body)
	}
}
