package qdrantemu_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

// upload posts a snapshot as the multipart field "snapshot", as Qdrant's
// upload endpoints take it (API.md 1.7).
func upload(t *testing.T, url, filename string, data []byte) resp {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("snapshot", filename)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("upload %s: %v", url, err)
	}
	defer res.Body.Close() //nolint:errcheck // Test.
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b.Bytes()}
}

func collectionNames(t *testing.T, url string) []string {
	t.Helper()
	var out []string
	for _, c := range mustOK(t, call(t, "GET", url+"/collections", nil))["result"].(map[string]any)["collections"].([]any) {
		out = append(out, c.(map[string]any)["name"].(string))
	}
	return out
}

// TestAliasesAreResolvedOnlyWhereQdrantResolvesThem states where Qdrant v1.19
// looks an alias up and where it takes the path's name literally, and how it
// refuses an alias and a collection sharing a name.
func TestAliasesAreResolvedOnlyWhereQdrantResolvesThem(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	createCollection(t, u, "docs", 1, 1, 10)
	mustOK(t, call(t, "POST", u+"/collections/aliases", map[string]any{"actions": []any{
		map[string]any{"create_alias": map[string]any{"collection_name": "docs", "alias_name": "current"}},
	}}))

	t.Run("ExistsDoesNotResolveAliases", func(t *testing.T) {
		// GET /collections/{c}/exists asks the collections map only
		// (TableOfContent::check_collection_exists): an alias is no collection.
		for name, want := range map[string]bool{"docs": true, "current": false} {
			got := mustOK(t, call(t, "GET", u+"/collections/"+name+"/exists", nil))["result"].(map[string]any)["exists"]
			if got != want {
				t.Errorf("exists(%s): want %v, got %v", name, want, got)
			}
		}
	})

	t.Run("CreateCollectionNamedLikeAnAlias", func(t *testing.T) {
		// lib/storage/src/content_manager/toc/create_collection.rs refuses it
		// with BadInput (400).
		r := call(t, "PUT", u+"/collections/current", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Dot"}})
		want := "Wrong input: Can't create collection with name current. Alias with the same name already exists"
		if r.status != http.StatusBadRequest || r.errorText(t) != want {
			t.Errorf("want 400 %q, got %d %s", want, r.status, r.body)
		}
	})

	t.Run("CreateAliasNamedLikeACollection", func(t *testing.T) {
		// update_aliases calls validate_collection_not_exists(alias_name):
		// AlreadyExists, a 409 (API.md 0.2).
		createCollection(t, u, "other", 1, 1, 0)
		r := call(t, "POST", u+"/collections/aliases", map[string]any{"actions": []any{
			map[string]any{"create_alias": map[string]any{"collection_name": "docs", "alias_name": "other"}},
		}})
		want := "Wrong input: Collection `other` already exists!"
		if r.status != http.StatusConflict || r.errorText(t) != want {
			t.Errorf("want 409 %q, got %d %s", want, r.status, r.body)
		}
	})

	snap := mustOK(t, call(t, "POST", u+"/collections/docs/shards/0/snapshots", nil))["result"].(map[string]any)

	t.Run("ShardRecoverThroughAliasIs404", func(t *testing.T) {
		// Shard recovery looks the collection up by the path's name only
		// (src/common/snapshots.rs, recover_shard_snapshot).
		r := call(t, "PUT", u+"/collections/current/shards/0/snapshots/recover", map[string]any{"location": snap["name"]})
		if r.status != http.StatusNotFound || r.errorText(t) != "Not found: Collection `current` doesn't exist!" {
			t.Errorf("want 404 for the alias, got %d %s", r.status, r.body)
		}
		r = upload(t, u+"/collections/current/shards/0/snapshots/upload", "x.snapshot", []byte("ignored"))
		if r.status != http.StatusNotFound {
			t.Errorf("upload through an alias: want 404, got %d %s", r.status, r.body)
		}
	})

	t.Run("CollectionRecoverIntoAliasCreatesACollection", func(t *testing.T) {
		// Collection recovery takes the path's name as the collection to
		// create: recovering "into" an alias makes a new collection named like
		// it, and the aliased collection is not touched.
		full := mustOK(t, call(t, "POST", u+"/collections/docs/snapshots", nil))["result"].(map[string]any)
		mustOK(t, call(t, "PUT", u+"/collections/docs/points?wait=true", map[string]any{"points": []any{
			map[string]any{"id": 100, "vector": []float64{1, 2, 3, 4}},
		}}))
		mustOK(t, call(t, "PUT", u+"/collections/current/snapshots/recover", map[string]any{
			"location": "file://" + c.Nodes()[0].SnapshotsDir() + "/docs/" + full["name"].(string),
		}))
		if diff := cmp.Diff([]string{"current", "docs", "other"}, collectionNames(t, u)); diff != "" {
			t.Errorf("collections after recovering into an alias: -want, +got:\n%s", diff)
		}
		if got := count(t, u, "docs"); got != 11 {
			t.Errorf("the aliased collection must be untouched: want 11 points, got %d", got)
		}
	})
}

func TestAliasErrorsKeepEnvelope(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	r := call(t, "POST", u+"/collections/aliases", map[string]any{"actions": []any{
		map[string]any{"create_alias": map[string]any{"collection_name": "nope", "alias_name": "a"}},
	}})
	if r.status != http.StatusNotFound || !strings.Contains(r.errorText(t), "Collection `nope` doesn't exist!") {
		t.Errorf("alias to a missing collection: want 404, got %d %s", r.status, r.body)
	}
}
