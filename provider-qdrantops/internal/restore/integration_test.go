package restore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu/openapicheck"
	"github.com/qdrantops/qdrantops/cluster/s3server"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backup"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrantcluster"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/restore"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

var srv *s3server.Server

func TestMain(m *testing.M) { s3server.Main(m, &srv) }

// emulator starts an emulated Qdrant cluster whose every exchange is checked
// against Qdrant's OpenAPI schema.
func emulator(t *testing.T, opts qdrantemu.Options) *qdrantemu.Cluster {
	t.Helper()
	opts.Dir = t.TempDir()
	if p := os.Getenv(openapicheck.EnvVar); p != "" {
		chk, err := openapicheck.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		opts.Observe = chk.Observe
		t.Cleanup(func() { chk.Verify(t) })
	}
	emu, err := qdrantemu.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	return emu
}

func connect(t *testing.T, emu *qdrantemu.Cluster) *qdrantcluster.Cluster {
	t.Helper()
	qc, err := qdrantcluster.Connect(context.Background(), qdrantcluster.Options{URL: emu.URLs()[0], PeerURLs: emu.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	return qc
}

// call sends one JSON request to Qdrant, as a client application would, and
// decodes the result.
func call(t *testing.T, method, url string, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // Test.
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		var env struct {
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(env.Result, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, env.Result)
		}
	}
}

// point is a point with a dense and a sparse named vector and a payload.
func point(i int) map[string]any {
	dense := make([]float64, 8)
	for d := range dense {
		dense[d] = float64((i*31+d*17)%97)/97 + 0.001
	}
	return map[string]any{
		"id": i,
		"vector": map[string]any{
			"dense": dense,
			"text":  map[string]any{"indices": []int{i % 50, 50 + i%7}, "values": []float64{0.5, float64(i%10) / 10}},
		},
		"payload": map[string]any{"city": []string{"Berlin", "Paris", "Lima"}[i%3], "rank": i, "title": fmt.Sprintf("doc %d", i)},
	}
}

// source creates, through Qdrant's API, the collection the issue names: six
// shards replicated twice, named dense and sparse vectors, two payload
// indexes and two aliases, with n points.
func source(t *testing.T, emu *qdrantemu.Cluster, name string, n int) {
	t.Helper()
	base := emu.URLs()[0]
	call(t, http.MethodPut, base+"/collections/"+name, map[string]any{
		"vectors":            map[string]any{"dense": map[string]any{"size": 8, "distance": "Cosine"}},
		"sparse_vectors":     map[string]any{"text": map[string]any{}},
		"shard_number":       6,
		"replication_factor": 2,
		"hnsw_config":        map[string]any{"m": 24},
	}, nil)
	upsert(t, base, name, 1, n, nil)
	call(t, http.MethodPut, base+"/collections/"+name+"/index?wait=true", map[string]any{"field_name": "city", "field_schema": "keyword"}, nil)
	call(t, http.MethodPut, base+"/collections/"+name+"/index?wait=true", map[string]any{"field_name": "rank", "field_schema": "integer"}, nil)
	call(t, http.MethodPost, base+"/collections/aliases", map[string]any{"actions": []any{
		map[string]any{"create_alias": map[string]any{"alias_name": name + "-live", "collection_name": name}},
		map[string]any{"create_alias": map[string]any{"alias_name": name + "-v1", "collection_name": name}},
	}}, nil)
}

func upsert(t *testing.T, base, name string, from, to int, shardKey any) {
	t.Helper()
	for start := from; start <= to; start += 1000 {
		var pts []any
		for i := start; i <= min(start+999, to); i++ {
			pts = append(pts, point(i))
		}
		body := map[string]any{"points": pts}
		if shardKey != nil {
			body["shard_key"] = shardKey
		}
		call(t, http.MethodPut, base+"/collections/"+name+"/points?wait=true", body, nil)
	}
}

// countingTransport counts the bytes of shard snapshot objects the provider
// reads from S3.
type countingTransport struct {
	next  http.RoundTripper
	bytes atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err == nil && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, ".snapshot") {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &c.bytes}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

type fixture struct {
	store   *s3store.Store
	raw     *s3.Client
	bucket  string
	counted *countingTransport
}

var buckets atomic.Int32

func newStore(t *testing.T) *fixture {
	t.Helper()
	bkt := fmt.Sprintf("restores-%d", buckets.Add(1))
	if err := srv.CreateBucket(context.Background(), bkt); err != nil {
		t.Fatal(err)
	}
	ct := &countingTransport{next: http.DefaultTransport}
	st, err := s3store.New(s3store.Config{
		Bucket: bkt, Endpoint: srv.Endpoint, UsePathStyle: true, Region: srv.Region,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		PartSize:    5 << 20, HTTPClient: &http.Client{Transport: ct},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: st, raw: srv.Client(), bucket: bkt, counted: ct}
}

var layout = manifest.Layout{Prefix: "prod/", Namespace: "team-a", Cluster: "search", Backup: "nightly"}

// takeBackup backs the source up with the real backup use case.
func takeBackup(t *testing.T, f *fixture, src *qdrantcluster.Cluster) manifest.Manifest {
	t.Helper()
	m, err := backup.Run(context.Background(), src, f.store, backup.Request{
		Layout: layout, Backup: manifest.BackupRef{Namespace: "team-a", Name: "nightly", UID: "uid-nightly"},
		Cluster: "search", Parallelism: 3, RetryDelay: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return m
}

func restoreInto(t *testing.T, f *fixture, emu *qdrantemu.Cluster, mods ...func(*restore.Request)) (restore.Status, error) {
	t.Helper()
	req := restore.Request{Root: layout.Root(), BackupUID: "uid-nightly", SamplePoints: 200, RetryDelay: 10 * time.Millisecond, PollInterval: 20 * time.Millisecond, ActiveTimeout: time.Minute}
	for _, m := range mods {
		m(&req)
	}
	return restore.Run(context.Background(), qdrantcluster.NewTarget(connect(t, emu)), f.store, req)
}

// described is what a restore must bring back of a collection, as Qdrant
// reports it.
type described struct {
	Points      uint64
	Indexes     []string
	Aliases     []string
	NotActive   []string
	ShardNumber uint32
	Vectors     string
	Sparse      string
	HNSW        string
	// Sampled holds the vectors and payload of a few points, as Qdrant
	// returns them, by id.
	Sampled map[string]string
}

func describe(t *testing.T, emu *qdrantemu.Cluster, name string, ids []int) described {
	t.Helper()
	base := emu.URLs()[0]
	var info struct {
		Config struct {
			Params struct {
				ShardNumber   uint32          `json:"shard_number"`
				Vectors       json.RawMessage `json:"vectors"`
				SparseVectors json.RawMessage `json:"sparse_vectors"`
			} `json:"params"`
			HNSW json.RawMessage `json:"hnsw_config"`
		} `json:"config"`
		PayloadSchema map[string]json.RawMessage `json:"payload_schema"`
	}
	call(t, http.MethodGet, base+"/collections/"+name, nil, &info)
	var d described
	d.ShardNumber = info.Config.Params.ShardNumber
	d.Vectors, d.Sparse, d.HNSW = string(info.Config.Params.Vectors), string(info.Config.Params.SparseVectors), string(info.Config.HNSW)
	for f := range info.PayloadSchema {
		d.Indexes = append(d.Indexes, f)
	}
	sort.Strings(d.Indexes)
	var count struct {
		Count uint64 `json:"count"`
	}
	call(t, http.MethodPost, base+"/collections/"+name+"/points/count", map[string]any{"exact": true}, &count)
	d.Points = count.Count
	var aliases struct {
		Aliases []struct {
			Alias string `json:"alias_name"`
		} `json:"aliases"`
	}
	call(t, http.MethodGet, base+"/collections/"+name+"/aliases", nil, &aliases)
	for _, a := range aliases.Aliases {
		d.Aliases = append(d.Aliases, a.Alias)
	}
	sort.Strings(d.Aliases)
	for _, u := range emu.URLs() {
		var cl struct {
			Local []struct {
				ID    uint32 `json:"shard_id"`
				State string `json:"state"`
			} `json:"local_shards"`
		}
		call(t, http.MethodGet, u+"/collections/"+name+"/cluster", nil, &cl)
		for _, s := range cl.Local {
			if s.State != "Active" {
				d.NotActive = append(d.NotActive, fmt.Sprintf("%s shard %d %s", u, s.ID, s.State))
			}
		}
	}
	var recs []map[string]any
	call(t, http.MethodPost, base+"/collections/"+name+"/points", map[string]any{"ids": ids, "with_payload": true, "with_vector": true}, &recs)
	d.Sampled = map[string]string{}
	for _, r := range recs {
		b, _ := json.Marshal(map[string]any{"vector": r["vector"], "payload": r["payload"]})
		d.Sampled[fmt.Sprint(r["id"])] = string(b)
	}
	return d
}

func TestRestoreIntoAnyTopology(t *testing.T) {
	if testing.Short() {
		t.Skip("moves real snapshots through the S3 server")
	}
	src := emulator(t, qdrantemu.Options{Nodes: 3})
	source(t, src, "docs", 10_000)
	f := newStore(t)
	m := takeBackup(t, f, connect(t, src))
	want := describe(t, src, "docs", []int{1, 2, 777, 5000, 10_000})
	if want.Points != 10_000 || len(want.Aliases) != 2 || len(want.Indexes) != 2 || len(want.Sampled) != 5 {
		t.Fatalf("source: %+v", want)
	}
	if m.Collections[0].Sample == nil {
		t.Fatalf("the backup recorded no sample")
	}
	cases := map[string]struct {
		reason string
		nodes  int
		method restore.Method
	}{
		"OneNodeByURL":    {"Six shards replicated twice land on one node, the replication factor capped at 1; Qdrant pulls every snapshot itself.", 1, restore.MethodURL},
		"FiveNodesUpload": {"Six shards land on five nodes with two replicas each; every snapshot streams through the provider.", 5, restore.MethodUpload},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dst := emulator(t, qdrantemu.Options{Nodes: tc.nodes})
			before := f.counted.bytes.Load()
			st, err := restoreInto(t, f, dst, func(r *restore.Request) { r.Method = tc.method })
			if err != nil {
				t.Fatalf("%s\nrestore: %v", tc.reason, err)
			}
			got := describe(t, dst, "docs", []int{1, 2, 777, 5000, 10_000})
			w := want
			if tc.nodes == 1 {
				// Only the replication factor differs, as reported.
				if len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], "replication factor 2 capped at 1") {
					t.Errorf("%s\nwarnings: %q", tc.reason, st.Warnings)
				}
			}
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("%s\nrestored collection: -source, +restored:\n%s", tc.reason, diff)
			}
			c := st.Collections[0]
			if !c.Verified || c.SampledPoints != 200 || *c.Points != 10_000 {
				t.Errorf("%s\nstatus: %+v", tc.reason, c)
			}
			moved := f.counted.bytes.Load() - before
			switch tc.method {
			case restore.MethodURL:
				if moved != 0 || st.BytesUploaded != 0 || st.BytesByURL != m.SizeBytes() {
					t.Errorf("%s\nthe provider read %d snapshot bytes from S3 and uploaded %d; by URL %d of %d", tc.reason, moved, st.BytesUploaded, st.BytesByURL, m.SizeBytes())
				}
			case restore.MethodUpload, restore.MethodAuto:
				if moved != m.SizeBytes() || st.BytesUploaded != m.SizeBytes() {
					t.Errorf("%s\nthe provider read %d snapshot bytes and uploaded %d, want %d", tc.reason, moved, st.BytesUploaded, m.SizeBytes())
				}
			}
		})
	}
}

func collections(t *testing.T, emu *qdrantemu.Cluster) []string {
	t.Helper()
	var res struct {
		Collections []struct {
			Name string `json:"name"`
		} `json:"collections"`
	}
	call(t, http.MethodGet, emu.URLs()[0]+"/collections", nil, &res)
	var out []string
	for _, c := range res.Collections {
		out = append(out, c.Name)
	}
	sort.Strings(out)
	return out
}

func count(t *testing.T, emu *qdrantemu.Cluster, name string) uint64 {
	t.Helper()
	var c struct {
		Count uint64 `json:"count"`
	}
	call(t, http.MethodPost, emu.URLs()[0]+"/collections/"+name+"/points/count", map[string]any{"exact": true}, &c)
	return c.Count
}

func reasonOf(err error) string {
	var e *restore.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return fmt.Sprint(err)
}

func TestRestoreFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("moves real snapshots through the S3 server")
	}
	src := emulator(t, qdrantemu.Options{Nodes: 3})
	for _, s := range []qdrantemu.Sample{
		{Name: "products", ShardNumber: 6, ReplicationFactor: 2, Points: 3000, Dim: 8, Indexes: map[string]string{"category": "keyword"}, Aliases: []string{"catalog"}},
		{Name: "reviews", ShardNumber: 1, ReplicationFactor: 1, Points: 400, Dim: 4},
	} {
		if err := src.AddSample(s); err != nil {
			t.Fatal(err)
		}
	}
	type want struct {
		reason      string
		collections []string
		products    uint64
		message     string
	}
	cases := map[string]struct {
		reason  string
		version string
		setup   func(t *testing.T, dst *qdrantemu.Cluster, f *fixture, m manifest.Manifest)
		req     func(*restore.Request)
		want    want
	}{
		"ExistingFails": {
			reason: "Under the Fail policy an existing collection is left untouched and named.",
			setup: func(t *testing.T, dst *qdrantemu.Cluster, _ *fixture, _ manifest.Manifest) {
				call(t, http.MethodPut, dst.URLs()[0]+"/collections/products", map[string]any{"vectors": map[string]any{"size": 8, "distance": "Cosine"}}, nil)
				upsert(t, dst.URLs()[0], "products", 1, 5, nil)
			},
			want: want{reason: restore.ReasonCollectionExists, collections: []string{"products"}, products: 5, message: "collection products already exists"},
		},
		"ExistingReplaced": {
			reason: "Under Replace the existing collection is deleted and restored.",
			setup: func(t *testing.T, dst *qdrantemu.Cluster, _ *fixture, _ manifest.Manifest) {
				call(t, http.MethodPut, dst.URLs()[0]+"/collections/products", map[string]any{"vectors": map[string]any{"size": 8, "distance": "Cosine"}}, nil)
				upsert(t, dst.URLs()[0], "products", 1, 5, nil)
			},
			req:  func(r *restore.Request) { r.Policy = restore.PolicyReplace },
			want: want{collections: []string{"products", "reviews"}, products: 3000},
		},
		"CorruptObject": {
			reason: "An object changed in S3 (same size) fails the shard by its checksum, names it, and leaves no collection that looks restored.",
			setup: func(t *testing.T, _ *qdrantemu.Cluster, f *fixture, m manifest.Manifest) {
				sh := m.Collections[0].Shards[3]
				garbage := bytes.Repeat([]byte{'x'}, int(sh.SizeBytes))
				if _, err := f.raw.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &f.bucket, Key: ptr(layout.Root() + sh.Object), Body: bytes.NewReader(garbage)}); err != nil {
					t.Fatal(err)
				}
			},
			req:  func(r *restore.Request) { r.Attempts = 2 },
			want: want{reason: restore.ReasonShardFailed, message: "shard 3 of collection products"},
		},
		"OlderTarget": {
			reason:  "A target running an older Qdrant minor is refused before anything is created.",
			version: "1.18.2",
			want:    want{reason: restore.ReasonVersionTooOld, message: "upgrade the target to 1.19 or later"},
		},
		"RawPath": {
			reason: "A raw S3 path restores without a Backup uid, under new names.",
			req: func(r *restore.Request) {
				r.BackupUID = ""
				r.Collections = []string{"products"}
				r.Mappings = map[string]string{"products": "products-copy"}
			},
			want: want{collections: []string{"products-copy"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newStore(t)
			m := takeBackup(t, f, connect(t, src))
			dst := emulator(t, qdrantemu.Options{Nodes: 2, Version: tc.version})
			if tc.setup != nil {
				tc.setup(t, dst, f, m)
			}
			_, err := restoreInto(t, f, dst, func(r *restore.Request) {
				if tc.req != nil {
					tc.req(r)
				}
			})
			got := want{collections: collections(t, dst)}
			if err != nil {
				got.reason = reasonOf(err)
				if strings.Contains(err.Error(), tc.want.message) {
					got.message = tc.want.message
				} else {
					got.message = err.Error()
				}
			}
			if slices.Contains(got.collections, "products") {
				got.products = count(t, dst, "products")
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("%s\nrestore: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestRestoreAutoFallsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("moves real snapshots through the S3 server")
	}
	src := emulator(t, qdrantemu.Options{Nodes: 3})
	if err := src.AddSample(qdrantemu.Sample{Name: "products", ShardNumber: 3, ReplicationFactor: 2, Points: 1500, Dim: 8}); err != nil {
		t.Fatal(err)
	}
	f := newStore(t)
	m := takeBackup(t, f, connect(t, src))
	s3Host := strings.TrimPrefix(strings.TrimPrefix(srv.Endpoint, "http://"), "https://")
	cases := map[string]struct {
		reason string
		opts   qdrantemu.Options
		method restore.Method
		fails  bool
	}{
		"StoreUnreachable": {
			reason: "When Qdrant's nodes cannot reach the store, Auto uploads every shard through the provider and says so.",
			opts:   qdrantemu.Options{Nodes: 2, UnreachableHosts: []string{s3Host}},
			method: restore.MethodAuto,
		},
		"URLRecoveryDisabled": {
			reason: "When the nodes refuse URL recovery (service.enable_snapshot_url_recovery: false), Auto uploads.",
			opts:   qdrantemu.Options{Nodes: 2, DisableURLRecovery: true},
			method: restore.MethodAuto,
		},
		"URLOnly": {
			reason: "The URL method does not fall back: the restore fails and leaves nothing behind.",
			opts:   qdrantemu.Options{Nodes: 2, UnreachableHosts: []string{s3Host}},
			method: restore.MethodURL,
			fails:  true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dst := emulator(t, tc.opts)
			st, err := restoreInto(t, f, dst, func(r *restore.Request) { r.Method = tc.method; r.Attempts = 2 })
			if tc.fails {
				if reasonOf(err) != restore.ReasonShardFailed || len(collections(t, dst)) != 0 {
					t.Errorf("%s\nrestore: %v; target holds %v", tc.reason, err, collections(t, dst))
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nrestore: %v", tc.reason, err)
			}
			if st.BytesUploaded != m.SizeBytes() || st.BytesByURL != 0 || count(t, dst, "products") != 1500 {
				t.Errorf("%s\nuploaded %d of %d bytes, %d by URL, %d points", tc.reason, st.BytesUploaded, m.SizeBytes(), st.BytesByURL, count(t, dst, "products"))
			}
			if len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], "uploaded through the provider") || strings.Contains(st.Warnings[0], "X-Amz") {
				t.Errorf("%s\nwarnings: %q", tc.reason, st.Warnings)
			}
		})
	}
}
