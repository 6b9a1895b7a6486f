package qdrantemu_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu/openapicheck"
)

// start starts an emulator whose every exchange is checked against Qdrant's
// OpenAPI schema when it is available.
func start(t *testing.T, opts qdrantemu.Options) *qdrantemu.Cluster {
	t.Helper()
	if p := openapiPath(); p != "" {
		chk, err := openapicheck.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		opts.Observe = chk.Observe
		t.Cleanup(func() { chk.Verify(t) })
	}
	opts.Dir = t.TempDir()
	c, err := qdrantemu.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("want a JSON body, got %q: %v", r.body, err)
	}
	return m
}

// errorText returns the error of a JSON envelope.
func (r resp) errorText(t *testing.T) string {
	t.Helper()
	st, ok := r.json(t)["status"].(map[string]any)
	if !ok {
		t.Fatalf("want an error envelope, got %s", r.body)
	}
	return st["error"].(string)
}

func call(t *testing.T, method, url string, body any, header ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close() //nolint:errcheck // Test.
	b, err := io.ReadAll(res.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func mustOK(t *testing.T, r resp) map[string]any {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("want 200, got %d: %s", r.status, r.body)
	}
	return r.json(t)
}

// createCollection creates a collection and upserts n points with ids 1..n.
func createCollection(t *testing.T, url, name string, shards, rf, n int, header ...string) {
	t.Helper()
	mustOK(t, call(t, "PUT", url+"/collections/"+name, map[string]any{
		"vectors": map[string]any{"size": 4, "distance": "Dot"}, "shard_number": shards, "replication_factor": rf,
	}, header...))
	for lo := 1; lo <= n; lo += 1000 {
		var pts []map[string]any
		for id := lo; id < lo+1000 && id <= n; id++ {
			pts = append(pts, map[string]any{"id": id, "vector": []float64{float64(id), 1, 2, 3}, "payload": map[string]any{"n": id, "tag": fmt.Sprintf("t%d", id%7)}})
		}
		mustOK(t, call(t, "PUT", url+"/collections/"+name+"/points?wait=true", map[string]any{"points": pts}, header...))
	}
}

func count(t *testing.T, url, name string) int {
	t.Helper()
	r := mustOK(t, call(t, "POST", url+"/collections/"+name+"/points/count", map[string]any{"exact": true}))
	return int(r["result"].(map[string]any)["count"].(float64))
}

// archivePoints counts the points per shard folder of a snapshot archive.
func archivePoints(t *testing.T, b []byte) map[string]int {
	t.Helper()
	out := map[string]int{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("not a tar archive: %v", err)
		}
		if strings.HasSuffix(h.Name, "emulator/points.jsonl") {
			data, _ := io.ReadAll(tr)
			out[strings.TrimSuffix(h.Name, "emulator/points.jsonl")] = bytes.Count(data, []byte("\n"))
		}
	}
}
