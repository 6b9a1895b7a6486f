package qdrant

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestVersion(t *testing.T) {
	type want struct {
		Info VersionInfo
		Kind string
	}
	cases := map[string]struct {
		reason string
		body   string
		want   want
	}{
		"NoEnvelope": {
			reason: "GET / answers without the JSON envelope.",
			body:   `{"title":"qdrant - vector search engine","version":"1.19.0","commit":"74f3e85b"}`,
			want:   want{Info: VersionInfo{Title: "qdrant - vector search engine", Version: "1.19.0", Commit: "74f3e85b"}},
		},
		"NoCommit": {
			reason: "commit is omitted for builds without a git id.",
			body:   `{"title":"qdrant - vector search engine","version":"1.13.6"}`,
			want:   want{Info: VersionInfo{Title: "qdrant - vector search engine", Version: "1.13.6"}},
		},
		"Enveloped": {
			reason: "An envelope (a proxy, not Qdrant) has no version and is an error.",
			body:   `{"result":{"version":"1.19.0"},"status":"ok"}`,
			want:   want{Kind: "set below, it holds the server URL"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, f := newFake(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, tc.body) })
			info, err := c.Version(t.Context())
			got := want{Info: info, Kind: errorKind(err)}
			if tc.want.Kind != "" {
				tc.want.Kind = "other: cannot get Qdrant version: " + c.BaseURL() + " answered without a version"
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nVersion(): -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff([]recorded{{Method: "GET", Path: "/"}}, f.requests()); diff != "" {
				t.Errorf("%s\nrequests: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	type want struct {
		Kind     string
		Requests []recorded
	}
	cases := map[string]struct {
		reason  string
		call    func(c *Client, ctx context.Context) error
		status  int
		message string
		want    want
	}{
		"Healthy": {
			reason:  "healthz answers 200 with text.",
			call:    (*Client).Healthz,
			status:  200,
			message: "healthz check passed",
			want:    want{Requests: []recorded{{Method: "GET", Path: "/healthz"}}},
		},
		"Ready": {
			reason:  "readyz answers 200 with text.",
			call:    (*Client).Readyz,
			status:  200,
			message: "all shards are ready",
			want:    want{Requests: []recorded{{Method: "GET", Path: "/readyz"}}},
		},
		"NotReady": {
			reason:  "A 503 from readyz is an *UnavailableError, returned without retrying.",
			call:    (*Client).Readyz,
			status:  503,
			message: "some shards are not ready",
			want:    want{Kind: "Unavailable", Requests: []recorded{{Method: "GET", Path: "/readyz"}}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writePlain(w, tc.status, tc.message) })
			err := tc.call(c, t.Context())
			got := want{Kind: errorKind(err), Requests: f.requests()}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
