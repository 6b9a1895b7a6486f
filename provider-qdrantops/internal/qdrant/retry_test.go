package qdrant

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// retryCall is a call used by the retry tables, with the result a 200
// answer carries for it.
type retryCall struct {
	call   func(ctx context.Context, c *Client) error
	result string
}

func retryCalls() map[string]retryCall {
	return map[string]retryCall{
		"ListSnapshots": {result: `[]`, call: func(ctx context.Context, c *Client) error {
			_, err := c.ListSnapshots(ctx, "c")
			return err
		}},
		"Count": {result: `{"count":1}`, call: func(ctx context.Context, c *Client) error {
			_, err := c.Count(ctx, "c", true)
			return err
		}},
		"Scroll": {result: `{"points":[],"next_page_offset":null}`, call: func(ctx context.Context, c *Client) error {
			_, err := c.Scroll(ctx, "c", ScrollRequest{})
			return err
		}},
		"Retrieve": {result: `[]`, call: func(ctx context.Context, c *Client) error {
			_, err := c.Retrieve(ctx, "c", []PointID{NumericPointID(1)}, true, false)
			return err
		}},
		"DeleteSnapshot": {result: `true`, call: func(ctx context.Context, c *Client) error {
			return c.DeleteSnapshot(ctx, "c", "s.snapshot", true)
		}},
		"CreateSnapshot": {result: `{"name":"s","creation_time":null,"size":1}`, call: func(ctx context.Context, c *Client) error {
			_, err := c.CreateSnapshot(ctx, "c", true)
			return err
		}},
		"Upsert": {result: `{"operation_id":1,"status":"completed"}`, call: func(ctx context.Context, c *Client) error {
			return c.Upsert(ctx, "c", []Point{{ID: NumericPointID(1), Vector: json.RawMessage(`[1]`)}}, true)
		}},
		"Upload": {result: `true`, call: func(ctx context.Context, c *Client) error {
			return c.UploadSnapshot(ctx, "c", strings.NewReader("tar"), "c.snapshot", UploadOptions{Priority: PrioritySnapshot})
		}},
		"Recover": {result: `true`, call: func(ctx context.Context, c *Client) error {
			return c.RecoverSnapshot(ctx, "c", SnapshotRecover{Location: "http://x/s", Priority: PrioritySnapshot}, true)
		}},
		"CreateCollection": {result: `true`, call: func(ctx context.Context, c *Client) error {
			return c.CreateCollection(ctx, "c", CreateCollection{Vectors: json.RawMessage(`{"size":1,"distance":"Dot"}`)})
		}},
		"DeleteCollection": {result: `true`, call: func(ctx context.Context, c *Client) error {
			_, err := c.DeleteCollection(ctx, "c")
			return err
		}},
		"StreamShard": {result: `"bytes"`, call: func(ctx context.Context, c *Client) error {
			d, err := c.StreamShardSnapshot(ctx, "c", 0)
			if err == nil {
				d.Body.Close()
			}
			return err
		}},
	}
}

func TestRetryRules(t *testing.T) {
	type want struct {
		Requests int
		Sleeps   int
		Kind     string
	}
	cases := map[string]struct {
		reason   string
		call     string
		statuses []int
		want     want
	}{
		"NoRetry400": {reason: "Bad input is final.", call: "ListSnapshots", statuses: []int{400},
			want: want{Requests: 1, Kind: "BadRequest"}},
		"NoRetry401": {reason: "A wrong key stays wrong.", call: "ListSnapshots", statuses: []int{401},
			want: want{Requests: 1, Kind: "Unauthorized"}},
		"NoRetry403": {reason: "Missing access stays missing.", call: "ListSnapshots", statuses: []int{403},
			want: want{Requests: 1, Kind: "Forbidden"}},
		"NoRetry404": {reason: "Not found is an answer.", call: "ListSnapshots", statuses: []int{404},
			want: want{Requests: 1, Kind: "NotFound"}},
		"NoRetry409": {reason: "Conflicts are answers.", call: "ListSnapshots", statuses: []int{409},
			want: want{Requests: 1, Kind: "Conflict"}},
		"Bounded500": {reason: "Internal errors are retried up to MaxAttempts.", call: "ListSnapshots", statuses: []int{500},
			want: want{Requests: 4, Sleeps: 3, Kind: "APIError 500"}},
		"Bounded503": {reason: "Unavailable shards are retried up to MaxAttempts.", call: "ListSnapshots", statuses: []int{503},
			want: want{Requests: 4, Sleeps: 3, Kind: "Unavailable"}},
		"Recovers502": {reason: "A retry that succeeds returns success.", call: "ListSnapshots", statuses: []int{502, 504, 200},
			want: want{Requests: 3, Sleeps: 2}},
		"CountRetried": {reason: "Count is a read-only POST.", call: "Count", statuses: []int{503, 200},
			want: want{Requests: 2, Sleeps: 1}},
		"ScrollRetried": {reason: "Scroll is a read-only POST.", call: "Scroll", statuses: []int{503, 200},
			want: want{Requests: 2, Sleeps: 1}},
		"RetrieveRetried": {reason: "Retrieve is a read-only POST.", call: "Retrieve", statuses: []int{500, 200},
			want: want{Requests: 2, Sleeps: 1}},
		"DeleteSnapshotRetried": {reason: "Deleting a snapshot twice is harmless.", call: "DeleteSnapshot", statuses: []int{503, 200},
			want: want{Requests: 2, Sleeps: 1}},
		"StreamRetriedBeforeBody": {reason: "A stream is retried until its headers arrive.", call: "StreamShard", statuses: []int{503, 200},
			want: want{Requests: 2, Sleeps: 1}},
		"CreateSnapshotOnce": {reason: "A retry would create a second snapshot.", call: "CreateSnapshot", statuses: []int{503},
			want: want{Requests: 1, Kind: "Unavailable"}},
		"UpsertOnce": {reason: "Upsert is not retried.", call: "Upsert", statuses: []int{500},
			want: want{Requests: 1, Kind: "APIError 500"}},
		"UploadOnce": {reason: "The upload body is a one-shot stream.", call: "Upload", statuses: []int{503},
			want: want{Requests: 1, Kind: "Unavailable"}},
		"RecoverOnce": {reason: "Recovery keeps running server-side.", call: "Recover", statuses: []int{503},
			want: want{Requests: 1, Kind: "Unavailable"}},
		"CreateCollectionOnce": {reason: "A retry would answer 409.", call: "CreateCollection", statuses: []int{500},
			want: want{Requests: 1, Kind: "APIError 500"}},
		"DeleteCollectionOnce": {reason: "A retry would answer false.", call: "DeleteCollection", statuses: []int{503},
			want: want{Requests: 1, Kind: "Unavailable"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rc := retryCalls()[tc.call]
			h := statusSequence(json.RawMessage(rc.result), tc.statuses...)
			c, f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				// Read uploads fully so the answer does not race the body.
				_, _ = io.Copy(io.Discard, r.Body)
				h(w, r)
			})
			err := rc.call(t.Context(), c)
			got := want{Requests: len(f.requests()), Sleeps: len(f.sleeps()), Kind: errorKind(err)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n%s: -want, +got:\n%s", tc.reason, tc.call, diff)
			}
		})
	}
}
