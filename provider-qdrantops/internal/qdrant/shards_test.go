package qdrant

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestShardSnapshots(t *testing.T) {
	runCallCases(t, map[string]callCase{
		"Create": {
			reason:  "Shard snapshots live under /shards/{id}.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.CreateShardSnapshot(ctx, "c", 3, true) },
			answer:  answer{result: `{"name":"c-shard-3-2026-08-04-10-49-10.snapshot","creation_time":null,"size":10}`},
			wantReq: []recorded{{Method: "POST", Path: "/collections/c/shards/3/snapshots", Query: url.Values{"wait": {"true"}}}},
			want:    &SnapshotDescription{Name: "c-shard-3-2026-08-04-10-49-10.snapshot", Size: 10},
		},
		"CreateAccepted": {
			reason:  "A 202 gives a nil description.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.CreateShardSnapshot(ctx, "c", 3, false) },
			answer:  answer{status: http.StatusAccepted},
			wantReq: []recorded{{Method: "POST", Path: "/collections/c/shards/3/snapshots", Query: url.Values{"wait": {"false"}}}},
			want:    (*SnapshotDescription)(nil),
		},
		"CreateNotLocal": {
			reason:  "A shard that is not local to the node is a bad request.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.CreateShardSnapshot(ctx, "c", 1, true) },
			answer:  answer{status: 400, msg: "Wrong input: Shard 1 is not a local or queue proxy shard"},
			wantReq: []recorded{{Method: "POST", Path: "/collections/c/shards/1/snapshots", Query: url.Values{"wait": {"true"}}}},
			want:    (*SnapshotDescription)(nil),
			wantErr: "BadRequest",
		},
		"List": {
			reason:  "Lists are sorted by name.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.ListShardSnapshots(ctx, "c", 0) },
			answer:  answer{result: `[{"name":"b","creation_time":null,"size":1},{"name":"a","creation_time":null,"size":2}]`},
			wantReq: []recorded{{Method: "GET", Path: "/collections/c/shards/0/snapshots"}},
			want:    []SnapshotDescription{{Name: "a", Size: 2}, {Name: "b", Size: 1}},
		},
		"ListUnknownShard": {
			reason:  "An unknown shard id is a *NotFoundError.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.ListShardSnapshots(ctx, "c", 9) },
			answer:  answer{status: 404, msg: "Not found: shard 9 not found"},
			wantReq: []recorded{{Method: "GET", Path: "/collections/c/shards/9/snapshots"}},
			want:    []SnapshotDescription(nil),
			wantErr: "NotFound",
		},
		"Delete": {
			reason: "Deletes carry wait.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.DeleteShardSnapshot(ctx, "c", 4, "s.snapshot", true)
			},
			answer:  answer{result: `true`},
			wantReq: []recorded{{Method: "DELETE", Path: "/collections/c/shards/4/snapshots/s.snapshot", Query: url.Values{"wait": {"true"}}}},
		},
		"RecoverFromURL": {
			reason: "Shard recovery takes a URL location, priority and checksum.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.RecoverShardSnapshot(ctx, "c", 2, ShardSnapshotRecover{Location: "https://s3.example/b/c/2.snapshot",
					Priority: PrioritySnapshot, Checksum: "9f86"}, true)
			},
			answer: answer{result: `true`},
			wantReq: []recorded{{Method: "PUT", Path: "/collections/c/shards/2/snapshots/recover", Query: url.Values{"wait": {"true"}},
				Body: jsonValue(t, `{"location":"https://s3.example/b/c/2.snapshot","priority":"snapshot","checksum":"9f86"}`)}},
		},
		"RecoverFromName": {
			reason: "A bare snapshot name is a valid shard location.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.RecoverShardSnapshot(ctx, "c", 2, ShardSnapshotRecover{Location: "c-shard-2-2026.snapshot",
					Priority: PriorityReplica}, false)
			},
			answer: answer{status: http.StatusAccepted},
			wantReq: []recorded{{Method: "PUT", Path: "/collections/c/shards/2/snapshots/recover", Query: url.Values{"wait": {"false"}},
				Body: jsonValue(t, `{"location":"c-shard-2-2026.snapshot","priority":"replica"}`)}},
		},
	})
}

func TestShardSnapshotDownloads(t *testing.T) {
	type want struct {
		Requests []recorded
		Size     int64
		Filename string
		Body     string
		Kind     string
	}
	cases := map[string]struct {
		reason  string
		call    func(ctx context.Context, c *Client) (*Download, error)
		handler http.HandlerFunc
		want    want
	}{
		"StreamChunked": {
			reason: "The streamed snapshot is chunked: size -1, name from Content-Disposition.",
			call: func(ctx context.Context, c *Client) (*Download, error) {
				return c.StreamShardSnapshot(ctx, "c", 5)
			},
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/octet-stream")
				w.Header().Set("Content-Disposition", `attachment; filename="c-shard-5-2026-08-04-10-49-10.snapshot"`)
				_, _ = io.WriteString(w, "part1")
				w.(http.Flusher).Flush()
				_, _ = io.WriteString(w, "part2")
			},
			want: want{Requests: []recorded{{Method: "GET", Path: "/collections/c/shards/5/snapshot"}},
				Size: -1, Filename: "c-shard-5-2026-08-04-10-49-10.snapshot", Body: "part1part2"},
		},
		"StreamForbidden": {
			reason: "Streaming needs write access; a read-only key gets a plain-text 403.",
			call: func(ctx context.Context, c *Client) (*Download, error) {
				return c.StreamShardSnapshot(ctx, "c", 5)
			},
			handler: func(w http.ResponseWriter, r *http.Request) {
				writePlain(w, http.StatusForbidden, "Forbidden: Write access to collection c is required")
			},
			want: want{Requests: []recorded{{Method: "GET", Path: "/collections/c/shards/5/snapshot"}}, Kind: "Forbidden"},
		},
		"DownloadSized": {
			reason: "Stored shard snapshots have a Content-Length.",
			call: func(ctx context.Context, c *Client) (*Download, error) {
				return c.DownloadShardSnapshot(ctx, "c", 1, "s 1.snapshot")
			},
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "3")
				_, _ = io.WriteString(w, "abc")
			},
			want: want{Requests: []recorded{{Method: "GET", Path: "/collections/c/shards/1/snapshots/s%201.snapshot"}},
				Size: 3, Filename: "s 1.snapshot", Body: "abc"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, f := newFake(t, tc.handler)
			d, err := tc.call(t.Context(), c)
			got := want{Kind: errorKind(err)}
			if err == nil {
				var b strings.Builder
				if _, err := io.Copy(&b, d.Body); err != nil {
					t.Fatal(err)
				}
				_ = d.Body.Close()
				got.Size, got.Filename, got.Body = d.Size, d.Filename, b.String()
			}
			got.Requests = f.requests()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
