package qdrantemu_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

// TestVersionAndUnknownRoutes states two details of Qdrant's HTTP service
// (src/actix/api/service_api.rs, src/actix/mod.rs): GET / reports the build's
// commit next to the version (API.md 7), and a route actix does not know is a
// bare 404 with an empty body, not Qdrant's JSON error envelope.
func TestVersionAndUnknownRoutes(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	want := map[string]any{"title": "qdrant - vector search engine", "version": "1.19.0", "commit": "74f3e85b"}
	if diff := cmp.Diff(want, mustOK(t, call(t, "GET", u+"/", nil))); diff != "" {
		t.Errorf("GET /: -want, +got:\n%s", diff)
	}
	// Requests outside Qdrant's API cannot be checked against its schema:
	// a node without the contract check answers them.
	raw, err := qdrantemu.Start(qdrantemu.Options{Nodes: 1, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(raw.Close)
	cases := map[string]struct {
		reason       string
		method, path string
	}{
		"UnknownPath":  {"No such route.", "GET", "/no/such/route"},
		"UnknownVerb":  {"A known path with a method no route serves.", "PATCH", "/collections"},
		"DeepUnknown":  {"Below a known prefix.", "GET", "/collections/c/nothing/here"},
		"UnknownAdmin": {"An endpoint the emulator does not serve.", "GET", "/telemetry-nope"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := call(t, tc.method, raw.URLs()[0]+tc.path, nil)
			if r.status != http.StatusNotFound || len(r.body) != 0 {
				t.Errorf("%s\nwant 404 with an empty body, got %d %q", tc.reason, r.status, r.body)
			}
		})
	}
}
