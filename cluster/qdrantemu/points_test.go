package qdrantemu_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

func TestSampleDataCollectionsAndPoints(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 3})
	for _, s := range qdrantemu.DefaultSamples() {
		if err := c.AddSample(s); err != nil {
			t.Fatal(err)
		}
	}
	u := c.URLs()[1]

	cols := mustOK(t, call(t, "GET", u+"/collections", nil))["result"]
	if diff := cmp.Diff(map[string]any{"collections": []any{map[string]any{"name": "products"}, map[string]any{"name": "reviews"}}}, cols); diff != "" {
		t.Errorf("collections: -want, +got:\n%s", diff)
	}
	info := mustOK(t, call(t, "GET", u+"/collections/products", nil))["result"].(map[string]any)
	params := info["config"].(map[string]any)["params"].(map[string]any)
	if params["shard_number"] != 6.0 || params["replication_factor"] != 2.0 || info["points_count"] != 2000.0 {
		t.Errorf("products: shard_number %v, replication_factor %v, points %v", params["shard_number"], params["replication_factor"], info["points_count"])
	}
	if _, ok := info["payload_schema"].(map[string]any)["category"]; !ok {
		t.Errorf("products: payload index on category missing: %v", info["payload_schema"])
	}
	aliases := mustOK(t, call(t, "GET", u+"/collections/products/aliases", nil))["result"]
	if diff := cmp.Diff(map[string]any{"aliases": []any{map[string]any{"alias_name": "catalog", "collection_name": "products"}}}, aliases); diff != "" {
		t.Errorf("aliases: -want, +got:\n%s", diff)
	}
	if got := count(t, u, "catalog"); got != 2000 {
		t.Errorf("count through the alias: want 2000, got %d", got)
	}

	// Every shard has two replicas on different peers, and each peer sees the
	// others' replicas as remote.
	cl := mustOK(t, call(t, "GET", u+"/collections/products/cluster", nil))["result"].(map[string]any)
	replicas := map[float64]int{}
	for _, s := range append(cl["local_shards"].([]any), cl["remote_shards"].([]any)...) {
		replicas[s.(map[string]any)["shard_id"].(float64)]++
	}
	for id := 0.0; id < 6; id++ {
		if replicas[id] != 2 {
			t.Errorf("shard %v has %d replicas, want 2", id, replicas[id])
		}
	}

	// Scroll pages through every point exactly once, in id order.
	seen, offset := 0, any(nil)
	for pages := 0; ; pages++ {
		body := map[string]any{"limit": 300, "with_payload": true, "with_vector": false}
		if offset != nil {
			body["offset"] = offset
		}
		page := mustOK(t, call(t, "POST", u+"/collections/reviews/points/scroll", body))["result"].(map[string]any)
		for _, p := range page["points"].([]any) {
			seen++
			if id := p.(map[string]any)["id"].(float64); int(id) != seen {
				t.Fatalf("scroll order: point %d has id %v", seen, id)
			}
			if _, ok := p.(map[string]any)["vector"]; ok {
				t.Fatalf("with_vector false returned a vector")
			}
		}
		offset = page["next_page_offset"]
		if offset == nil {
			break
		}
		if pages > 10 {
			t.Fatal("scroll does not end")
		}
	}
	if seen != 500 {
		t.Errorf("scroll saw %d points, want 500", seen)
	}

	got := mustOK(t, call(t, "POST", u+"/collections/reviews/points", map[string]any{"ids": []int{7, 9999}, "with_vector": true}))["result"].([]any)
	if len(got) != 1 || got[0].(map[string]any)["vector"] == nil {
		t.Errorf("retrieve [7, 9999]: want point 7 with its vector, got %v", got)
	}
	one := call(t, "GET", u+"/collections/reviews/points/9999", nil)
	if one.status != http.StatusNotFound {
		t.Errorf("GET a missing point: want 404, got %d", one.status)
	}
}

func TestFaults(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 2})
	u := c.URLs()
	createCollection(t, u[0], "c", 2, 1, 200)
	c.SetSnapshotPadding("c", 1<<20)

	t.Run("NodeDown", func(t *testing.T) {
		if err := c.Nodes()[1].SetDown(true); err != nil {
			t.Fatal(err)
		}
		res, err := http.Get(u[1] + "/healthz") //nolint:noctx // Test.
		if err == nil {
			_ = res.Body.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("a down node: want connection refused, got %v", err)
		}
		if err := c.Nodes()[1].SetDown(false); err != nil {
			t.Fatal(err)
		}
		if r := call(t, "GET", u[1]+"/healthz", nil); r.status != 200 {
			t.Errorf("node back up: want 200, got %d", r.status)
		}
	})
	t.Run("FailNext", func(t *testing.T) {
		c.FailNext(0, 2, "/collections/c/points/count", http.StatusServiceUnavailable)
		for i := 0; i < 2; i++ {
			r := call(t, "POST", u[0]+"/collections/c/points/count", map[string]any{"exact": true})
			if r.status != 503 {
				t.Errorf("call %d: want injected 503, got %d", i, r.status)
			}
		}
		if got := count(t, u[0], "c"); got != 200 {
			t.Errorf("after the injected failures: want 200, got %d", got)
		}
	})
	t.Run("CutStream", func(t *testing.T) {
		c.CutStreams(64<<10, 1)
		res, err := http.Get(u[0] + "/collections/c/shards/0/snapshot") //nolint:noctx // Test.
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) || n > 64<<10 {
			t.Errorf("cut stream: want unexpected EOF within 64 KiB, got %d bytes, %v", n, err)
		}
		// Only once: the next stream is whole.
		r := call(t, "GET", u[0]+"/collections/c/shards/0/snapshot", nil)
		if len(r.body) < 1<<20 {
			t.Errorf("next stream: want the whole snapshot (> 1 MiB), got %d bytes", len(r.body))
		}
	})
	t.Run("HangingSnapshot", func(t *testing.T) {
		c.HangSnapshots(true)
		defer c.HangSnapshots(false)
		cl := &http.Client{Timeout: 300 * time.Millisecond}
		start := time.Now()
		res, err := cl.Post(u[0]+"/collections/c/shards/0/snapshots", "application/json", nil) //nolint:noctx // Test.
		if err == nil {
			_ = res.Body.Close()
		}
		if err == nil || time.Since(start) < 250*time.Millisecond {
			t.Errorf("a hanging snapshot: want a client timeout, got %v after %s", err, time.Since(start))
		}
	})
	t.Run("CorruptDownload", func(t *testing.T) {
		c.CorruptDownloads(true)
		defer c.CorruptDownloads(false)
		snap := mustOK(t, call(t, "POST", u[0]+"/collections/c/shards/0/snapshots", nil))["result"].(map[string]any)
		r := call(t, "PUT", u[0]+"/collections/c/shards/0/snapshots/recover", map[string]any{
			"location": u[0] + "/collections/c/shards/0/snapshots/" + snap["name"].(string), "checksum": snap["checksum"], "priority": "snapshot",
		})
		if r.status != 400 || !strings.Contains(r.errorText(t), "Snapshot checksum mismatch") {
			t.Errorf("recover of a corrupted download: want 400 checksum mismatch, got %d %s", r.status, r.body)
		}
	})
}
