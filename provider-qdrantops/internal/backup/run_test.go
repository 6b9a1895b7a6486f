package backup_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu/openapicheck"
	"github.com/qdrantops/qdrantops/cluster/s3server"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backup"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrantcluster"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

var srv *s3server.Server

func TestMain(m *testing.M) { s3server.Main(m, &srv) }

type fixture struct {
	emu   *qdrantemu.Cluster
	qc    *qdrantcluster.Cluster
	store *s3store.Store
	raw   *s3.Client
	bkt   string
}

var buckets atomic.Int32

// setup starts a 3-node emulator with the two collections of the issue and a
// fresh bucket. transport, when set, wraps the S3 client's transport.
func setup(t *testing.T, transport func(http.RoundTripper) http.RoundTripper) *fixture {
	t.Helper()
	opts := qdrantemu.Options{Nodes: 3, Dir: t.TempDir()}
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
	for _, s := range []qdrantemu.Sample{
		{Name: "products", ShardNumber: 6, ReplicationFactor: 2, Points: 3000, Dim: 8, Indexes: map[string]string{"category": "keyword"}, Aliases: []string{"catalog"}},
		{Name: "reviews", ShardNumber: 1, ReplicationFactor: 1, Points: 400, Dim: 4},
	} {
		if err := emu.AddSample(s); err != nil {
			t.Fatal(err)
		}
	}
	qc, err := qdrantcluster.Connect(context.Background(), qdrantcluster.Options{URL: emu.URLs()[0], PeerURLs: emu.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	bkt := fmt.Sprintf("backups-%d", buckets.Add(1))
	if err := srv.CreateBucket(context.Background(), bkt); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: http.DefaultTransport}
	if transport != nil {
		hc.Transport = transport(http.DefaultTransport)
	}
	st, err := s3store.New(s3store.Config{
		Bucket: bkt, Endpoint: srv.Endpoint, UsePathStyle: true, Region: srv.Region,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		PartSize:    5 << 20, HTTPClient: hc,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{emu: emu, qc: qc, store: st, raw: srv.Client(), bkt: bkt}
}

func request(name string, collections ...string) backup.Request {
	return backup.Request{
		Layout:      manifest.Layout{Prefix: "prod/", Namespace: "team-a", Cluster: "search", Backup: name},
		Backup:      manifest.BackupRef{Namespace: "team-a", Name: name, UID: "uid-" + name},
		Cluster:     "search",
		Collections: collections,
		Parallelism: 3,
		RetryDelay:  10 * time.Millisecond,
	}
}

// objects returns every key of the bucket with the sha256 of its bytes.
func (f *fixture) objects(t *testing.T, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	list, err := f.store.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list {
		body, _, err := f.store.Get(context.Background(), o.Key)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, body)
		_ = body.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[o.Key] = hex.EncodeToString(h.Sum(nil))
	}
	return out
}

func (f *fixture) incompleteUploads(t *testing.T) int {
	t.Helper()
	out, err := f.raw.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(f.bkt)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

func TestBackupOfAllCollections(t *testing.T) {
	f := setup(t, nil)
	m, err := backup.Run(context.Background(), f.qc, f.store, request("all"))
	if err != nil {
		t.Fatal(err)
	}
	objs := f.objects(t, "prod/team-a/search/all/")
	raw, _, err := f.store.Get(context.Background(), "prod/team-a/search/all/manifest.json")
	if err != nil {
		t.Fatalf("manifest not written: %v", err)
	}
	b, _ := io.ReadAll(raw)
	_ = raw.Close()
	stored, err := manifest.Decode(b)
	if err != nil {
		t.Fatalf("stored manifest does not decode: %v", err)
	}
	wantShards := map[string]int{"products": 6, "reviews": 1}
	for _, c := range stored.Collections {
		if len(c.Shards) != wantShards[c.Name] {
			t.Errorf("%s: manifest lists %d shards, want %d", c.Name, len(c.Shards), wantShards[c.Name])
		}
		for _, s := range c.Shards {
			key := "prod/team-a/search/all/" + s.Object
			if got := objs[key]; got != s.SHA256 {
				t.Errorf("%s shard %d: object %s hashes to %q, manifest says %q", c.Name, s.ID, key, got, s.SHA256)
			}
			if s.SourcePeer == 0 {
				t.Errorf("%s shard %d: no source peer recorded", c.Name, s.ID)
			}
		}
	}
	if diff := cmp.Diff([]string{"products", "reviews"}, names(stored)); diff != "" {
		t.Errorf("collections: -want, +got:\n%s", diff)
	}
	p := stored.Collections[0]
	if p.Points != 3000 || p.ShardNumber != 6 || p.ReplicationFactor != 2 || p.PayloadIndexes["category"].DataType != "keyword" || !cmp.Equal(p.Aliases, []string{"catalog"}) {
		t.Errorf("products metadata: points %d, shards %d, rf %d, indexes %v, aliases %v", p.Points, p.ShardNumber, p.ReplicationFactor, p.PayloadIndexes, p.Aliases)
	}
	if stored.QdrantVersion != "1.19.0" || m.SizeBytes() != stored.SizeBytes() || m.SizeBytes() == 0 {
		t.Errorf("manifest: version %q, size %d (returned %d)", stored.QdrantVersion, stored.SizeBytes(), m.SizeBytes())
	}
	// Each shard was read exactly once, from one node, through the stream endpoint.
	streams := map[string]int{}
	for _, r := range f.emu.Requests() {
		if strings.HasSuffix(r.Path, "/snapshot") {
			streams[r.Path]++
		}
	}
	if len(streams) != 7 {
		t.Errorf("want 7 shard streams, got %v", streams)
	}
	for p, n := range streams {
		if n != 1 {
			t.Errorf("%s streamed %d times", p, n)
		}
	}
	if n := f.incompleteUploads(t); n != 0 {
		t.Errorf("%d incomplete multipart uploads left", n)
	}
}

func names(m manifest.Manifest) []string {
	var out []string
	for _, c := range m.Collections {
		out = append(out, c.Name)
	}
	return out
}

func TestBackupOfOneCollectionStoresOnlyIt(t *testing.T) {
	f := setup(t, nil)
	if _, err := backup.Run(context.Background(), f.qc, f.store, request("one", "reviews")); err != nil {
		t.Fatal(err)
	}
	for k := range f.objects(t, "prod/team-a/search/one/") {
		if strings.Contains(k, "/collections/products/") {
			t.Errorf("backup of reviews stored %s", k)
		}
	}
}

func TestBackupRefusesBadInput(t *testing.T) {
	f := setup(t, nil)
	cases := map[string]struct {
		reason string
		req    backup.Request
		cl     backup.Cluster
		want   string
		reas   string
	}{
		"UnknownCollection": {"Unknown names are listed.", request("x", "reviews", "nope"), f.qc, "collections not found in the cluster: nope", backup.ReasonUnknownCollection},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := backup.Run(context.Background(), tc.cl, f.store, tc.req)
			var be *backup.Error
			if !errors.As(err, &be) || be.Reason != tc.reas || !strings.Contains(be.Message, tc.want) {
				t.Errorf("%s\nwant %s error containing %q, got %v", tc.reason, tc.reas, tc.want, err)
			}
		})
	}
	t.Run("QdrantUnreachable", func(t *testing.T) {
		for _, n := range f.emu.Nodes() {
			_ = n.SetDown(true)
		}
		defer func() {
			for _, n := range f.emu.Nodes() {
				_ = n.SetDown(false)
			}
		}()
		_, err := backup.Run(context.Background(), f.qc, f.store, request("down"))
		var be *backup.Error
		if !errors.As(err, &be) || be.Reason != backup.ReasonQdrantUnreachable {
			t.Errorf("want QdrantUnreachable, got %v", err)
		}
	})
}

func TestBackupWithANodeDown(t *testing.T) {
	f := setup(t, nil)
	// Node 1 holds replicas of shards 0, 1, 5 of products (rf 2) and nothing
	// else; every one of them has another Active replica.
	if err := f.emu.Nodes()[1].SetDown(true); err != nil {
		t.Fatal(err)
	}
	m, err := backup.Run(context.Background(), f.qc, f.store, request("nodedown", "products"))
	if err != nil {
		t.Fatalf("backup with one node of three down: %v", err)
	}
	for _, s := range m.Collections[0].Shards {
		if s.SourcePeer == f.emu.Nodes()[1].ID {
			t.Errorf("shard %d was read from the down node", s.ID)
		}
	}

	// With two nodes down, shard 1 (on nodes 1 and 2) has no Active holder
	// that answers: the backup fails, naming the shard.
	if err := f.emu.Nodes()[2].SetDown(true); err != nil {
		t.Fatal(err)
	}
	_, err = backup.Run(context.Background(), f.qc, f.store, request("twodown", "products"))
	var be *backup.Error
	if !errors.As(err, &be) || be.Reason != backup.ReasonNoActiveReplica || !strings.Contains(be.Message, "no Active replica holds products shards [1 4]") {
		t.Errorf("want a failure naming shards 1 and 4 of products, the two held only by the down nodes, got %v", err)
	}
	if n := f.incompleteUploads(t); n != 0 {
		t.Errorf("%d incomplete multipart uploads left", n)
	}
}

// failingParts fails the first n UploadPart requests with a 500.
type failingParts struct {
	next http.RoundTripper
	left atomic.Int32
}

func (f *failingParts) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && r.URL.Query().Has("partNumber") && f.left.Add(-1) >= 0 {
		return &http.Response{StatusCode: http.StatusInternalServerError, Status: "500 Internal Server Error", Body: io.NopCloser(strings.NewReader("<Error><Code>InternalError</Code><Message>injected</Message></Error>")), Header: http.Header{"Content-Type": {"application/xml"}}, Request: r}, nil
	}
	return f.next.RoundTrip(r)
}

func TestBackupSurvivesS3FailuresMidUpload(t *testing.T) {
	fp := &failingParts{}
	f := setup(t, func(next http.RoundTripper) http.RoundTripper { fp.next = next; return fp })
	f.emu.SetSnapshotPadding("reviews", 12<<20) // three parts of 5 MiB
	fp.left.Store(6)                            // more than the SDK's own retries
	m, err := backup.Run(context.Background(), f.qc, f.store, request("flaky", "reviews"))
	if err != nil {
		t.Fatalf("backup with a flaky S3: %v", err)
	}
	if m.SizeBytes() < 12<<20 {
		t.Errorf("backup size %d, want the padded snapshot", m.SizeBytes())
	}
	if n := f.incompleteUploads(t); n != 0 {
		t.Errorf("%d incomplete multipart uploads left after retries", n)
	}

	// S3 failing for good ends in a failure, with nothing half-written.
	fp.left.Store(1000)
	req := request("broken", "reviews")
	req.Attempts = 2
	_, err = backup.Run(context.Background(), f.qc, f.store, req)
	var be *backup.Error
	if !errors.As(err, &be) || be.Reason != backup.ReasonShardFailed {
		t.Fatalf("want ShardFailed, got %v", err)
	}
	if n := f.incompleteUploads(t); n != 0 {
		t.Errorf("%d incomplete multipart uploads left after failing", n)
	}
	if _, err := f.store.Head(context.Background(), "prod/team-a/search/broken/manifest.json"); !s3store.IsNotFound(err) {
		t.Errorf("a failed backup has a manifest: %v", err)
	}
}

func TestInterruptedBackupResumes(t *testing.T) {
	f := setup(t, nil)
	f.emu.SetSnapshotPadding("products", 6<<20)
	f.emu.SlowStreams(40 << 20) // ~40 MiB/s: slow enough to interrupt mid-way
	ctx, cancel := context.WithCancel(context.Background())
	req := request("resume", "products")
	req.Parallelism = 1
	req.Report = func(s backup.Status) {
		if s.ShardsDone >= 2 {
			cancel() // The provider dies with shards done and one in flight.
		}
	}
	if _, err := backup.Run(ctx, f.qc, f.store, req); err == nil {
		t.Fatal("the interrupted backup claims success")
	}
	if _, err := f.store.Head(context.Background(), "prod/team-a/search/resume/manifest.json"); !s3store.IsNotFound(err) {
		t.Fatalf("an interrupted backup has a manifest: %v", err)
	}
	before := len(f.emu.Requests())
	f.emu.SlowStreams(0)

	var last backup.Status
	req = request("resume", "products")
	req.Report = func(s backup.Status) { last = s }
	m, err := backup.Run(context.Background(), f.qc, f.store, req)
	if err != nil {
		t.Fatal(err)
	}
	if last.ShardsReused < 2 || last.ShardsDone != 6 {
		t.Errorf("resumed run: want at least 2 shards reused of 6 done, got %d of %d", last.ShardsReused, last.ShardsDone)
	}
	streamed := 0
	for _, r := range f.emu.Requests()[before:] {
		if strings.HasSuffix(r.Path, "/snapshot") {
			streamed++
		}
	}
	if streamed != 6-last.ShardsReused {
		t.Errorf("resumed run streamed %d shards, want only the %d unfinished", streamed, 6-last.ShardsReused)
	}
	if n := f.incompleteUploads(t); n != 0 {
		t.Errorf("%d incomplete multipart uploads left", n)
	}
	objs := f.objects(t, "prod/team-a/search/resume/")
	for _, s := range m.Collections[0].Shards {
		if objs["prod/team-a/search/resume/"+s.Object] != s.SHA256 {
			t.Errorf("shard %d: object does not match the manifest's checksum", s.ID)
		}
	}
}
