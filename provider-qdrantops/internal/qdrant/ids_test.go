package qdrant

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPointIDJSON(t *testing.T) {
	type want struct {
		ID   PointID
		JSON string
		Err  bool
	}
	cases := map[string]struct {
		reason string
		in     string
		want   want
	}{
		"Zero":   {reason: "0 is a valid id.", in: `0`, want: want{ID: NumericPointID(0), JSON: `0`}},
		"Number": {reason: "Integers round-trip.", in: `42`, want: want{ID: NumericPointID(42), JSON: `42`}},
		"MaxU64": {reason: "The full u64 range survives (no float64 on the way).", in: `18446744073709551615`,
			want: want{ID: NumericPointID(18446744073709551615), JSON: `18446744073709551615`}},
		"UUID": {reason: "UUIDs are strings.", in: `"550e8400-e29b-41d4-a716-446655440000"`,
			want: want{ID: UUIDPointID("550e8400-e29b-41d4-a716-446655440000"), JSON: `"550e8400-e29b-41d4-a716-446655440000"`}},
		"NumericString": {reason: "A quoted number is a string id, not a number.", in: `"42"`,
			want: want{ID: UUIDPointID("42"), JSON: `"42"`}},
		"Negative": {reason: "Negative ids do not exist.", in: `-1`, want: want{Err: true}},
		"Float":    {reason: "Fractional ids do not exist.", in: `1.5`, want: want{Err: true}},
		"Bool":     {reason: "Other JSON types are errors.", in: `true`, want: want{Err: true}},
		"Object":   {reason: "Other JSON types are errors.", in: `{}`, want: want{Err: true}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got want
			err := json.Unmarshal([]byte(tc.in), &got.ID)
			got.Err = err != nil
			if err == nil {
				b, err := json.Marshal(got.ID)
				if err != nil {
					t.Fatalf("Marshal: %v", err)
				}
				got.JSON = string(b)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nround trip of %s: -want, +got:\n%s", tc.reason, tc.in, diff)
			}
		})
	}
}

func TestPointIDComparable(t *testing.T) {
	seen := map[PointID]int{NumericPointID(1): 1, UUIDPointID("1"): 2}
	if diff := cmp.Diff(2, len(seen)); diff != "" {
		t.Errorf("numeric 1 and UUID \"1\" must be different keys: -want, +got:\n%s", diff)
	}
	if a, b := NumericPointID(7), NumericPointID(7); a != b {
		t.Errorf("equal ids compare unequal")
	}
	var zero PointID
	if n, ok := zero.Num(); !ok || n != 0 {
		t.Errorf("zero PointID = (%d, %v), want numeric 0", n, ok)
	}
}

func TestPointIDNullLeavesValue(t *testing.T) {
	var page struct {
		Next *PointID `json:"next"`
		ID   PointID  `json:"id"`
	}
	page.ID = NumericPointID(5)
	if err := json.Unmarshal([]byte(`{"next":null,"id":null}`), &page); err != nil {
		t.Fatal(err)
	}
	if page.Next != nil || page.ID != NumericPointID(5) {
		t.Errorf("null decoded to next=%v id=%v, want nil and unchanged 5", page.Next, page.ID)
	}
}

func TestShardKeyJSON(t *testing.T) {
	type want struct {
		Key  ShardKey
		JSON string
		Err  bool
	}
	cases := map[string]struct {
		reason string
		in     string
		want   want
	}{
		"String":   {reason: "String keys round-trip.", in: `"region_1"`, want: want{Key: StringShardKey("region_1"), JSON: `"region_1"`}},
		"Number":   {reason: "Integer keys round-trip.", in: `12`, want: want{Key: NumericShardKey(12), JSON: `12`}},
		"Escaped":  {reason: "JSON escapes are decoded.", in: `"a\"b"`, want: want{Key: StringShardKey(`a"b`), JSON: `"a\"b"`}},
		"Negative": {reason: "Negative keys are errors.", in: `-3`, want: want{Err: true}},
		"Array":    {reason: "Arrays are selectors, not keys.", in: `["a"]`, want: want{Err: true}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got want
			err := json.Unmarshal([]byte(tc.in), &got.Key)
			got.Err = err != nil
			if err == nil {
				b, err := json.Marshal(got.Key)
				if err != nil {
					t.Fatalf("Marshal: %v", err)
				}
				got.JSON = string(b)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nround trip of %s: -want, +got:\n%s", tc.reason, tc.in, diff)
			}
		})
	}
}
