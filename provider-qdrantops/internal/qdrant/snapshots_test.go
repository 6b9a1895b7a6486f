package qdrant

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCollectionSnapshots(t *testing.T) {
	runCallCases(t, map[string]callCase{
		"CreateWait": {
			reason:  "wait=true returns the description.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.CreateSnapshot(ctx, "c", true) },
			answer:  answer{result: `{"name":"c-1-2026-08-04-10-49-10.snapshot","creation_time":"2026-08-04T10:49:10","size":18956800,"checksum":"9f86"}`},
			wantReq: []recorded{{Method: "POST", Path: "/collections/c/snapshots", Query: url.Values{"wait": {"true"}}}},
			want: &SnapshotDescription{Name: "c-1-2026-08-04-10-49-10.snapshot", CreationTime: ptr("2026-08-04T10:49:10"),
				Size: 18956800, Checksum: "9f86"},
		},
		"CreateAccepted": {
			reason:  "A 202 has no name: nil description, nil error.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.CreateSnapshot(ctx, "c", false) },
			answer:  answer{status: http.StatusAccepted},
			wantReq: []recorded{{Method: "POST", Path: "/collections/c/snapshots", Query: url.Values{"wait": {"false"}}}},
			want:    (*SnapshotDescription)(nil),
		},
		"CreateForbidden": {
			reason:  "A read-only key gets a *ForbiddenError.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.CreateSnapshot(ctx, "c", true) },
			answer:  answer{status: 403, msg: "Forbidden: Global manage access is required"},
			wantReq: []recorded{{Method: "POST", Path: "/collections/c/snapshots", Query: url.Values{"wait": {"true"}}}},
			want:    (*SnapshotDescription)(nil),
			wantErr: "Forbidden",
		},
		"ListSorted": {
			reason:  "Qdrant lists in directory order; the client sorts by name.",
			call:    func(ctx context.Context, c *Client) (any, error) { return c.ListSnapshots(ctx, "c") },
			answer:  answer{result: `[{"name":"b.snapshot","creation_time":null,"size":2},{"name":"a.snapshot","creation_time":"2026-08-04T10:49:10","size":1,"checksum":"ab"}]`},
			wantReq: []recorded{{Method: "GET", Path: "/collections/c/snapshots"}},
			want: []SnapshotDescription{
				{Name: "a.snapshot", CreationTime: ptr("2026-08-04T10:49:10"), Size: 1, Checksum: "ab"},
				{Name: "b.snapshot", Size: 2},
			},
		},
		"Delete": {
			reason: "The snapshot name is escaped into the path; wait is explicit.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.DeleteSnapshot(ctx, "c", "my snap.snapshot", true)
			},
			answer:  answer{result: `true`},
			wantReq: []recorded{{Method: "DELETE", Path: "/collections/c/snapshots/my%20snap.snapshot", Query: url.Values{"wait": {"true"}}}},
		},
		"DeleteAccepted": {
			reason: "wait=false answers 202, which is success.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.DeleteSnapshot(ctx, "c", "s.snapshot", false)
			},
			answer:  answer{status: http.StatusAccepted},
			wantReq: []recorded{{Method: "DELETE", Path: "/collections/c/snapshots/s.snapshot", Query: url.Values{"wait": {"false"}}}},
		},
		"Recover": {
			reason: "The SnapshotRecover body carries priority, checksum and the remote's key.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.RecoverSnapshot(ctx, "c", SnapshotRecover{Location: "file:///qdrant/snapshots/c/s.snapshot",
					Priority: PrioritySnapshot, Checksum: "9f86", APIKey: "remote"}, true)
			},
			answer: answer{result: `true`},
			wantReq: []recorded{{Method: "PUT", Path: "/collections/c/snapshots/recover", Query: url.Values{"wait": {"true"}},
				Body: jsonValue(t, `{"location":"file:///qdrant/snapshots/c/s.snapshot","priority":"snapshot","checksum":"9f86","api_key":"remote"}`)}},
		},
		"RecoverMinimal": {
			reason: "Unset optional fields are omitted (they are nullable in the schema).",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.RecoverSnapshot(ctx, "c", SnapshotRecover{Location: "http://n:6333/collections/c/snapshots/s.snapshot"}, false)
			},
			answer: answer{status: http.StatusAccepted},
			wantReq: []recorded{{Method: "PUT", Path: "/collections/c/snapshots/recover", Query: url.Values{"wait": {"false"}},
				Body: jsonValue(t, `{"location":"http://n:6333/collections/c/snapshots/s.snapshot"}`)}},
		},
		"RecoverChecksumMismatch": {
			reason: "A checksum mismatch is a *BadRequestError.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.RecoverSnapshot(ctx, "c", SnapshotRecover{Location: "http://n/s", Priority: PriorityReplica, Checksum: "00"}, true)
			},
			answer: answer{status: 400, msg: "Wrong input: Snapshot checksum mismatch: expected 00, got 9f86"},
			wantReq: []recorded{{Method: "PUT", Path: "/collections/c/snapshots/recover", Query: url.Values{"wait": {"true"}},
				Body: jsonValue(t, `{"location":"http://n/s","priority":"replica","checksum":"00"}`)}},
			wantErr: "BadRequest",
		},
		"RecoverEmptyLocation": {
			reason: "location is required.",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.RecoverSnapshot(ctx, "c", SnapshotRecover{Priority: PrioritySnapshot}, true)
			},
			wantErr: `other: cannot recover collection "c" from snapshot: empty location`,
		},
	})
}

func TestDownloadSnapshot(t *testing.T) {
	type want struct {
		Size     int64
		Filename string
		Body     string
		Kind     string
	}
	content := strings.Repeat("tar!", 1000)
	cases := map[string]struct {
		reason  string
		handler http.HandlerFunc
		want    want
	}{
		"LocalSized": {
			reason: "Local snapshots have Content-Length and Content-Disposition.",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/octet-stream")
				w.Header().Set("Content-Disposition", `attachment; filename="c-1-2026.snapshot"`)
				w.Header().Set("Content-Length", "4000")
				_, _ = io.WriteString(w, content)
			},
			want: want{Size: 4000, Filename: "c-1-2026.snapshot", Body: content},
		},
		"S3Chunked": {
			reason: "S3 mode streams chunked without a disposition: size -1, the requested name.",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/octet-stream")
				_, _ = io.WriteString(w, content[:100])
				w.(http.Flusher).Flush()
				_, _ = io.WriteString(w, content[100:])
			},
			want: want{Size: -1, Filename: "s.snapshot", Body: content},
		},
		"DispositionPath": {
			reason: "Only the last element of a disposition filename is used.",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Disposition", `attachment; filename="../../etc/x.snapshot"`)
				_, _ = io.WriteString(w, "x")
			},
			want: want{Size: 1, Filename: "x.snapshot", Body: "x"},
		},
		"NotFoundPlainText": {
			reason: "File endpoints answer errors in plain text.",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writePlain(w, http.StatusNotFound, "Not found: Snapshot s.snapshot not found")
			},
			want: want{Kind: "NotFound"},
		},
		"Compressed": {
			reason: "A compressed stream would not match the checksum and is refused.",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", "br")
				_, _ = io.WriteString(w, "x")
			},
			want: want{Kind: `other: cannot download snapshot "s.snapshot" of collection "c": GET /collections/c/snapshots/s.snapshot: cannot use a snapshot stream with Content-Encoding "br"`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, f := newFake(t, tc.handler)
			d, err := c.DownloadSnapshot(t.Context(), "c", "s.snapshot")
			got := want{Kind: errorKind(err)}
			if err == nil {
				b, rerr := io.ReadAll(d.Body)
				_ = d.Body.Close()
				if rerr != nil {
					t.Fatalf("read body: %v", rerr)
				}
				got.Size, got.Filename, got.Body = d.Size, d.Filename, string(b)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nDownloadSnapshot(): -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff([]recorded{{Method: "GET", Path: "/collections/c/snapshots/s.snapshot"}}, f.requests()); diff != "" {
				t.Errorf("%s\nrequests: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestDownloadNotRetriedMidStream(t *testing.T) {
	c, f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = io.WriteString(w, strings.Repeat("x", 100))
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.Close() // the stream breaks after 100 of 1000 bytes
	})
	d, err := c.DownloadSnapshot(t.Context(), "c", "s.snapshot")
	if err != nil {
		t.Fatalf("DownloadSnapshot(): %v", err)
	}
	defer d.Body.Close() //nolint:errcheck // Read-only body.
	n, err := io.Copy(io.Discard, d.Body)
	if err == nil {
		t.Errorf("reading a broken stream succeeded with %d bytes, want an error", n)
	}
	if diff := cmp.Diff(1, len(f.requests())); diff != "" {
		t.Errorf("requests (a handed-over stream is never retried): -want, +got:\n%s", diff)
	}
	if diff := cmp.Diff(0, len(f.sleeps())); diff != "" {
		t.Errorf("sleeps: -want, +got:\n%s", diff)
	}
}

func TestRecoverNeverLeaksLocation(t *testing.T) {
	const (
		signature = "d3adb33fSecretSignature0123456789"
		keyID     = "AKIAEXAMPLESECRETKEYID"
		clientKey = "client-api-key-123"
		remoteKey = "remote-api-key-456"
	)
	location := "https://bucket.s3.example/backups/c/0.snapshot?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" +
		keyID + "%2F20260804%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=" + signature
	echo := func(w http.ResponseWriter, r *http.Request) {
		// Qdrant echoes the URL it failed to fetch, re-encoded by the url
		// crate, and sometimes decoded.
		decoded, _ := url.QueryUnescape(location)
		writeError(w, http.StatusBadRequest, "Wrong input: Failed to download tar from "+location+
			": status - 403 Forbidden (decoded: "+decoded+")")
	}
	rec := SnapshotRecover{Location: location, Priority: PrioritySnapshot, APIKey: remoteKey}
	calls := map[string]func(ctx context.Context, c *Client) error{
		"Collection": func(ctx context.Context, c *Client) error { return c.RecoverSnapshot(ctx, "c", rec, true) },
		"Shard":      func(ctx context.Context, c *Client) error { return c.RecoverShardSnapshot(ctx, "c", 0, rec, true) },
	}
	cases := map[string]struct {
		reason string
		url    func(t *testing.T) string
		kind   string
	}{
		"BadRequestEcho": {
			reason: "Qdrant's 400 quotes the presigned URL; the error must not.",
			url: func(t *testing.T) string {
				_, f := newFake(t, echo)
				return f.srv.URL
			},
			kind: "BadRequest",
		},
		"ConnectionRefused": {
			reason: "A transport failure must not quote the body or the query.",
			url:    func(t *testing.T) string { return "http://" + closedAddr(t) },
		},
	}
	for name, tc := range cases {
		for callName, call := range calls {
			t.Run(name+"/"+callName, func(t *testing.T) {
				c, err := New(Config{URL: tc.url(t), APIKey: clientKey, Sleep: func(context.Context, time.Duration) error { return nil }})
				if err != nil {
					t.Fatal(err)
				}
				err = call(t.Context(), c)
				if err == nil {
					t.Fatalf("%s\nrecover succeeded, want an error", tc.reason)
				}
				if tc.kind != "" {
					if diff := cmp.Diff(tc.kind, errorKind(err)); diff != "" {
						t.Errorf("%s\nerror kind: -want, +got:\n%s", tc.reason, diff)
					}
				}
				msg := err.Error()
				for _, secret := range []string{location, signature, keyID, clientKey, remoteKey, "X-Amz-Credential"} {
					if strings.Contains(msg, secret) {
						t.Errorf("%s\nerror %q contains %q", tc.reason, msg, secret)
					}
				}
			})
		}
	}
}
