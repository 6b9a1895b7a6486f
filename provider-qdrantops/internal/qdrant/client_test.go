package qdrant

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNew(t *testing.T) {
	type want struct {
		BaseURL string
		Err     string
	}
	cases := map[string]struct {
		reason string
		cfg    Config
		want   want
	}{
		"HTTP": {
			reason: "A plain node URL is used as is.",
			cfg:    Config{URL: "http://127.0.0.1:6333"},
			want:   want{BaseURL: "http://127.0.0.1:6333"},
		},
		"TrailingSlash": {
			reason: "A trailing slash is dropped so paths do not double it.",
			cfg:    Config{URL: "http://qdrant-0.qdrant-headless:6333/"},
			want:   want{BaseURL: "http://qdrant-0.qdrant-headless:6333"},
		},
		"PathPrefix": {
			reason: "A reverse-proxy prefix is kept.",
			cfg:    Config{URL: "https://proxy.example/qdrant/node-0/"},
			want:   want{BaseURL: "https://proxy.example/qdrant/node-0"},
		},
		"Empty": {
			reason: "An empty URL is rejected.",
			cfg:    Config{},
			want:   want{Err: "cannot use an empty Qdrant URL"},
		},
		"Scheme": {
			reason: "Only http and https are spoken.",
			cfg:    Config{URL: "grpc://h:6334"},
			want:   want{Err: `cannot use Qdrant URL scheme "grpc": want http or https`},
		},
		"NoHost": {
			reason: "A URL without host cannot be dialled.",
			cfg:    Config{URL: "http:///collections"},
			want:   want{Err: "cannot use a Qdrant URL without a host"},
		},
		"UserInfo": {
			reason: "Credentials belong in APIKey, not in a URL that may be logged.",
			cfg:    Config{URL: "http://admin:pw@h:6333"}, //nolint:gosec // A fake credential the client must refuse.
			want:   want{Err: "cannot use a Qdrant URL with user info: set the api key instead"},
		},
		"Query": {
			reason: "A query would be silently dropped from every request.",
			cfg:    Config{URL: "http://h:6333/?api-key=x"},
			want:   want{Err: "cannot use a Qdrant URL with a query or fragment"},
		},
		"BadCA": {
			reason: "A CA bundle without certificates is a configuration error.",
			cfg:    Config{URL: "https://h:6333", CAPEM: []byte("not pem")},
			want:   want{Err: "cannot parse any certificate from the CA bundle"},
		},
		"CAWithHTTPClient": {
			reason: "A CA bundle cannot be applied to a caller's client without changing it.",
			cfg:    Config{URL: "https://h:6333", CAPEM: []byte("x"), HTTPClient: &http.Client{}},
			want:   want{Err: "cannot apply a CA bundle to a caller-supplied HTTP client"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := New(tc.cfg)
			got := want{}
			if err != nil {
				got.Err = err.Error()
			} else {
				got.BaseURL = c.BaseURL()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nNew(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestRequestHeaders(t *testing.T) {
	type want struct {
		APIKey         string
		AcceptEncoding string
		ContentType    string
	}
	cases := map[string]struct {
		reason string
		apiKey string
		call   func(ctx context.Context, c *Client) error
		want   want
	}{
		"APIKeySent": {
			reason: "A configured key is sent as api-key, with identity encoding.",
			apiKey: "k3y",
			call:   func(ctx context.Context, c *Client) error { _, err := c.ListCollections(ctx); return err },
			want:   want{APIKey: "k3y", AcceptEncoding: "identity"},
		},
		"NoAPIKey": {
			reason: "Without a key no api-key header is sent.",
			call:   func(ctx context.Context, c *Client) error { _, err := c.ListCollections(ctx); return err },
			want:   want{AcceptEncoding: "identity"},
		},
		"JSONBody": {
			reason: "Bodies are declared as JSON.",
			apiKey: "k3y",
			call:   func(ctx context.Context, c *Client) error { _, err := c.Count(ctx, "c", true); return err },
			want:   want{APIKey: "k3y", AcceptEncoding: "identity", ContentType: "application/json"},
		},
		"Download": {
			reason: "Downloads ask for identity so Qdrant does not compress the snapshot.",
			apiKey: "k3y",
			call: func(ctx context.Context, c *Client) error {
				d, err := c.DownloadSnapshot(ctx, "c", "s.snapshot")
				if err == nil {
					_ = d.Body.Close()
				}
				return err
			},
			want: want{APIKey: "k3y", AcceptEncoding: "identity"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				writeRaw(w, `{"collections":[],"count":0}`)
			}, func(cfg *Config) { cfg.APIKey = tc.apiKey })
			if err := tc.call(t.Context(), c); err != nil {
				t.Fatalf("call: %v", err)
			}
			h := f.lastHeader()
			got := want{APIKey: h.Get("api-key"), AcceptEncoding: h.Get("Accept-Encoding"), ContentType: h.Get("Content-Type")}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nheaders: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestPathPrefix(t *testing.T) {
	_, f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeRaw(w, `{"exists":true}`) })
	c, err := New(Config{URL: f.srv.URL + "/qdrant/", Sleep: f.sleep})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CollectionExists(t.Context(), "my coll"); err != nil {
		t.Fatal(err)
	}
	want := []recorded{{Method: "GET", Path: "/qdrant/collections/my%20coll/exists"}}
	if diff := cmp.Diff(want, f.requests()); diff != "" {
		t.Errorf("requests: -want, +got:\n%s", diff)
	}
}

func TestCAPEM(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeResult(w, map[string]any{"collections": []any{map[string]string{"name": "a"}}})
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	cases := map[string]struct {
		reason  string
		caPEM   []byte
		want    []string
		wantErr bool
	}{
		"Trusted": {
			reason: "The given CA bundle verifies the server.",
			caPEM:  caPEM,
			want:   []string{"a"},
		},
		"Untrusted": {
			reason:  "Without the bundle the self-signed server is refused (and not retried).",
			wantErr: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var slept int
			c, err := New(Config{URL: srv.URL, CAPEM: tc.caPEM, Sleep: func(context.Context, time.Duration) error { slept++; return nil }})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.ListCollections(t.Context())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nListCollections(): -want, +got:\n%s", tc.reason, diff)
			}
			var certErr x509.UnknownAuthorityError
			if tc.wantErr != (err != nil) || (err != nil && !errors.As(err, &certErr)) {
				t.Errorf("%s\nListCollections(): err = %v, want unknown-authority error: %v", tc.reason, err, tc.wantErr)
			}
			if slept != 0 {
				t.Errorf("%s\nslept %d times, want no retries", tc.reason, slept)
			}
		})
	}
}

func TestRedirectRefused(t *testing.T) {
	var leaked string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("api-key")
		writeResult(w, map[string]any{"collections": []any{}})
	}))
	t.Cleanup(other.Close)
	c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound) //nolint:gosec // To the test's other server, on purpose.
	}, func(cfg *Config) { cfg.APIKey = "k3y" })

	_, err := c.ListCollections(t.Context())
	if diff := cmp.Diff("APIError 302", errorKind(err)); diff != "" {
		t.Errorf("ListCollections(): -want, +got:\n%s", diff)
	}
	if leaked != "" {
		t.Errorf("the api key was forwarded to the redirect target")
	}
}

func TestDecodeEnvelope(t *testing.T) {
	cases := map[string]struct {
		reason  string
		body    string
		want    []string
		wantErr string
	}{
		"UnknownFieldsIgnored": {
			reason: "usage and other new fields are ignored.",
			body:   `{"result":{"collections":[{"name":"b","x":1},{"name":"a"}]},"status":"ok","time":0.1,"usage":{"hardware":{}}}`,
			want:   []string{"a", "b"},
		},
		"NoResult": {
			reason:  "A 200 without result is an error, not an empty list.",
			body:    `{"status":"ok","time":0.1}`,
			wantErr: "cannot list collections: cannot decode answer to GET /collections: no result",
		},
		"NotJSON": {
			reason:  "A non-JSON 200 is an error.",
			body:    `<html>`,
			wantErr: "cannot list collections: cannot decode answer to GET /collections: invalid character '<' looking for beginning of value",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(tc.body)) })
			got, err := c.ListCollections(t.Context())
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nListCollections(): -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.wantErr, gotErr); diff != "" {
				t.Errorf("%s\nListCollections() error: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestInvalidNames(t *testing.T) {
	cases := map[string]struct {
		reason string
		call   func(ctx context.Context, c *Client) error
		want   string
	}{
		"EmptyCollection": {
			reason: "An empty collection name would hit /collections/.",
			call:   func(ctx context.Context, c *Client) error { _, err := c.Collection(ctx, ""); return err },
			want:   `cannot get collection "": cannot use an empty collection name`,
		},
		"DotDotSnapshot": {
			reason: "A '..' snapshot name could be normalised into deleting the collection.",
			call:   func(ctx context.Context, c *Client) error { return c.DeleteSnapshot(ctx, "c", "..", true) },
			want:   `cannot delete snapshot ".." of collection "c": cannot use snapshot name ".."`,
		},
		"SlashSnapshot": {
			reason: "Snapshot names are bare file names.",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.DownloadShardSnapshot(ctx, "c", 1, "../x")
				return err
			},
			want: `cannot download snapshot "../x" of shard 1 of collection "c": cannot use snapshot name "../x": it contains a path separator or NUL`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeResult(w, true) })
			err := tc.call(t.Context(), c)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nerror: -want, +got:\n%s", tc.reason, diff)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("%s\nsent %d requests, want none", tc.reason, n)
			}
		})
	}
}
