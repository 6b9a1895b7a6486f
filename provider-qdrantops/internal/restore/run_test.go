package restore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backupplan"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/sample"
)

// fakeTarget is an in-memory Qdrant cluster: collections with shards whose
// replicas are all Active, points counted per recovered shard.
type fakeTarget struct {
	mu      sync.Mutex
	version string
	peers   []uint64
	cols    map[string]*fakeCollection
	aliases map[string]string
	// calls records every change, in order.
	calls []string
	// recoverErr fails RecoverFromURL; uploadErr fails Upload.
	recoverErr func(url string) error
	uploadErr  error
	// pointsPerShard is what a recovered shard holds.
	pointsPerShard uint64
	// beforeCreate runs before each creation, as another client would.
	beforeCreate func(collection string)
	// records are the points Retrieve returns, by canonical id.
	records map[string]sample.Record
}

type fakeCollection struct {
	body      json.RawMessage
	keys      []json.RawMessage
	perKey    uint32
	recovered map[uint32]bool
}

func newFakeTarget() *fakeTarget {
	return &fakeTarget{version: "1.19.0", peers: []uint64{1, 2, 3}, cols: map[string]*fakeCollection{}, aliases: map[string]string{}, pointsPerShard: 10, records: map[string]sample.Record{}}
}

func (f *fakeTarget) record(format string, a ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
}

func (f *fakeTarget) Version(context.Context) (string, error) { return f.version, nil }
func (f *fakeTarget) Peers(context.Context) ([]uint64, error) { return f.peers, nil }
func (f *fakeTarget) Exists(_ context.Context, c string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.cols[c]
	return ok, nil
}

func (f *fakeTarget) Aliases(context.Context) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.aliases {
		out[k] = v
	}
	return out, nil
}

func (f *fakeTarget) Create(_ context.Context, c string, body json.RawMessage) error {
	if f.beforeCreate != nil {
		f.beforeCreate(c)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.cols[c]; ok {
		// Qdrant refuses to create a collection that exists (409).
		return fmt.Errorf("collection %s already exists", c)
	}
	f.record("create %s", c)
	f.cols[c] = &fakeCollection{body: body, recovered: map[uint32]bool{}}
	return nil
}

func (f *fakeTarget) Delete(_ context.Context, c string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("delete %s", c)
	delete(f.cols, c)
	// Qdrant deletes a collection's aliases with it.
	for a, to := range f.aliases {
		if to == c {
			delete(f.aliases, a)
		}
	}
	return nil
}

func (f *fakeTarget) CreateShardKey(_ context.Context, c string, key json.RawMessage, shards, _ uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("shard key %s %s", c, key)
	f.cols[c].keys = append(f.cols[c].keys, key)
	f.cols[c].perKey = shards
	return nil
}

func (f *fakeTarget) Placement(_ context.Context, c string) ([]backupplan.Shard, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	col, ok := f.cols[c]
	if !ok {
		return nil, fmt.Errorf("collection %s not found", c)
	}
	var out []backupplan.Shard
	reps := []backupplan.Replica{{Peer: f.peers[0], State: backupplan.Active}}
	if len(col.keys) == 0 {
		var p struct {
			ShardNumber uint32 `json:"shard_number"`
		}
		_ = json.Unmarshal(col.body, &p)
		for id := uint32(0); id < p.ShardNumber; id++ {
			out = append(out, backupplan.Shard{ID: id, Replicas: reps})
		}
		return out, nil
	}
	id := uint32(0)
	for _, k := range col.keys {
		for range col.perKey {
			out = append(out, backupplan.Shard{ID: id, Key: k, Replicas: reps})
			id++
		}
	}
	return out, nil
}

func (f *fakeTarget) RecoverFromURL(_ context.Context, _ uint64, c string, shard uint32, url, _ string) error {
	if f.recoverErr != nil {
		if err := f.recoverErr(url); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("recover %s/%d by url", c, shard)
	f.cols[c].recovered[shard] = true
	return nil
}

func (f *fakeTarget) Upload(_ context.Context, _ uint64, c string, shard uint32, body io.Reader, _ string) error {
	if _, err := io.Copy(io.Discard, body); err != nil {
		return err
	}
	if f.uploadErr != nil {
		return f.uploadErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("recover %s/%d by upload", c, shard)
	f.cols[c].recovered[shard] = true
	return nil
}

func (f *fakeTarget) Count(_ context.Context, c string) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return uint64(len(f.cols[c].recovered)) * f.pointsPerShard, nil
}

func (f *fakeTarget) Retrieve(_ context.Context, _ string, ids []json.RawMessage) ([]sample.Record, error) {
	var out []sample.Record
	for _, id := range ids {
		cid, _ := sample.CanonicalID(id)
		if r, ok := f.records[cid]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeTarget) CreatePayloadIndex(_ context.Context, c, field string, _ json.RawMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("index %s %s", c, field)
	return nil
}

func (f *fakeTarget) CreateAlias(_ context.Context, alias, c string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("alias %s %s", alias, c)
	f.aliases[alias] = c
	return nil
}

// fakeStore holds objects in memory; presigned URLs carry a fake signature
// so that leaks can be looked for.
type fakeStore struct {
	objects map[string][]byte
}

const signature = "X-Amz-Signature=deadbeef"

func (s *fakeStore) Get(_ context.Context, key string) (io.ReadCloser, int64, error) {
	b, ok := s.objects[key]
	if !ok {
		return nil, 0, notFoundError{}
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

func (s *fakeStore) Head(_ context.Context, key string) (int64, error) {
	b, ok := s.objects[key]
	if !ok {
		return 0, notFoundError{}
	}
	return int64(len(b)), nil
}

func (s *fakeStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, _, err := s.Get(ctx, key)
	return rc, err
}

func (s *fakeStore) Presign(_ context.Context, key string, _ time.Duration) (string, error) {
	return "http://s3.test/" + key + "?" + signature, nil
}

type notFoundError struct{}

func (notFoundError) Error() string  { return "not found" }
func (notFoundError) NotFound() bool { return true }

type fetchError struct{ msg string }

func (e fetchError) Error() string     { return e.msg }
func (e fetchError) CannotFetch() bool { return true }

type journal struct {
	mu      sync.Mutex
	records []Record
	target  *fakeTarget
}

func (j *journal) Save(_ context.Context, r Record) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.records = append(j.records, r)
	if j.target != nil {
		j.target.mu.Lock()
		j.target.record("journal %v", r.Created)
		j.target.mu.Unlock()
	}
	return nil
}

const root = "p/ns/src/b1/"

// backupOf stores a backup of one auto-sharded collection of two shards and
// returns its store.
func backupOf(t *testing.T, mods ...func(*manifest.Manifest)) *fakeStore {
	t.Helper()
	s := &fakeStore{objects: map[string][]byte{}}
	c := manifest.Collection{
		Name: "docs", ShardNumber: 2, ReplicationFactor: 1, ShardingMethod: "auto", Points: 20,
		Config:         json.RawMessage(`{"params":{"vectors":{"size":4,"distance":"Dot"},"shard_number":2,"replication_factor":1}}`),
		PayloadIndexes: map[string]manifest.PayloadIndex{"city": {DataType: "keyword"}},
		Aliases:        []string{"docs-live"},
	}
	for id := uint32(0); id < 2; id++ {
		body := []byte(fmt.Sprintf("snapshot of shard %d", id))
		sum := sha256.Sum256(body)
		obj := manifest.ShardObject("docs", id)
		s.objects[root+obj] = body
		c.Shards = append(c.Shards, manifest.Shard{ID: id, Object: obj, SizeBytes: int64(len(body)), SHA256: hex.EncodeToString(sum[:]), SourcePeer: 1})
	}
	m := manifest.Manifest{FormatVersion: manifest.FormatVersion, Backup: manifest.BackupRef{Namespace: "ns", Name: "b1", UID: "uid-1"},
		Cluster: "src", QdrantVersion: "1.19.0", Collections: []manifest.Collection{c}}
	for _, f := range mods {
		f(&m)
	}
	b, err := manifest.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	s.objects[root+manifest.ManifestName] = b
	return s
}

func request(mods ...func(*Request)) Request {
	r := Request{Root: root, BackupUID: "uid-1", RetryDelay: time.Millisecond, PollInterval: time.Millisecond, Attempts: 2}
	for _, m := range mods {
		m(&r)
	}
	return r
}

func reasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	if err != nil {
		return "untyped: " + err.Error()
	}
	return ""
}

func TestRun(t *testing.T) {
	type want struct {
		reason    string
		calls     []string
		uploaded  int64
		byURL     int64
		warnings  int
		collected []string
	}
	cases := map[string]struct {
		reason  string
		setup   func(*fakeTarget)
		store   func(*testing.T) *fakeStore
		req     Request
		want    want
		noCalls bool
	}{
		"ByURL": {
			reason: "Each shard is recovered from a presigned URL, the index and the alias are recreated, counts verified; the journal names the collection before it is created.",
			req:    request(func(r *Request) { r.Method = MethodURL; r.Parallelism = 1 }),
			want: want{
				calls:     []string{"create docs", "journal [docs]", "recover docs/0 by url", "journal [docs]", "recover docs/1 by url", "journal [docs]", "index docs city", "alias docs-live docs"},
				byURL:     int64(len("snapshot of shard 0")) * 2,
				collected: []string{"docs"},
			},
		},
		"ByUpload": {
			reason: "Upload streams every shard through the provider and counts the bytes.",
			req:    request(func(r *Request) { r.Method = MethodUpload; r.Parallelism = 1 }),
			want: want{
				calls:     []string{"create docs", "journal [docs]", "recover docs/0 by upload", "journal [docs]", "recover docs/1 by upload", "journal [docs]", "index docs city", "alias docs-live docs"},
				uploaded:  int64(len("snapshot of shard 0")) * 2,
				collected: []string{"docs"},
			},
		},
		"AutoFallsBack": {
			reason: "Auto uploads once Qdrant cannot fetch a URL, and says so once.",
			setup: func(f *fakeTarget) {
				f.recoverErr = func(url string) error { return fetchError{"cannot fetch " + url} }
			},
			req: request(func(r *Request) { r.Parallelism = 1 }),
			want: want{
				calls:     []string{"create docs", "journal [docs]", "recover docs/0 by upload", "journal [docs]", "recover docs/1 by upload", "journal [docs]", "index docs city", "alias docs-live docs"},
				uploaded:  int64(len("snapshot of shard 0")) * 2,
				warnings:  1,
				collected: []string{"docs"},
			},
		},
		"URLFailsForGood": {
			reason: "With the URL method, a shard Qdrant cannot fetch fails the restore, naming the shard, and the created collection is deleted.",
			setup: func(f *fakeTarget) {
				f.recoverErr = func(url string) error { return fetchError{"cannot fetch " + url} }
			},
			req:  request(func(r *Request) { r.Method = MethodURL; r.Parallelism = 1 }),
			want: want{reason: ReasonShardFailed, calls: []string{"create docs", "journal [docs]", "delete docs", "journal []"}},
		},
		"CorruptObject": {
			reason: "An object whose bytes differ from the manifest's checksum fails the shard and leaves no collection behind.",
			store: func(t *testing.T) *fakeStore {
				s := backupOf(t)
				s.objects[root+manifest.ShardObject("docs", 1)] = []byte("snapshot of shard X")
				return s
			},
			req:  request(func(r *Request) { r.Method = MethodUpload; r.Parallelism = 1 }),
			want: want{reason: ReasonShardFailed, uploaded: int64(len("snapshot of shard 0")), calls: []string{"create docs", "journal [docs]", "recover docs/0 by upload", "journal [docs]", "delete docs", "journal []"}},
		},
		"ExistingFails": {
			reason:  "Under the Fail policy an existing collection fails the restore and nothing is touched.",
			setup:   func(f *fakeTarget) { f.cols["docs"] = &fakeCollection{recovered: map[uint32]bool{}} },
			req:     request(),
			want:    want{reason: ReasonCollectionExists},
			noCalls: true,
		},
		"ExistingReplaced": {
			reason: "Under Replace an existing collection is deleted first.",
			setup:  func(f *fakeTarget) { f.cols["docs"] = &fakeCollection{recovered: map[uint32]bool{}} },
			req:    request(func(r *Request) { r.Policy = PolicyReplace; r.Method = MethodURL; r.Parallelism = 1 }),
			want: want{
				calls:     []string{"journal []", "delete docs", "create docs", "journal [docs]", "recover docs/0 by url", "journal [docs]", "recover docs/1 by url", "journal [docs]", "index docs city", "alias docs-live docs"},
				byURL:     int64(len("snapshot of shard 0")) * 2,
				collected: []string{"docs"},
			},
		},
		"AliasElsewhere": {
			reason: "An alias that points elsewhere in the target is left alone, with a warning.",
			setup:  func(f *fakeTarget) { f.aliases["docs-live"] = "other" },
			req:    request(func(r *Request) { r.Method = MethodURL; r.Parallelism = 1 }),
			want: want{
				calls:     []string{"create docs", "journal [docs]", "recover docs/0 by url", "journal [docs]", "recover docs/1 by url", "journal [docs]", "index docs city"},
				byURL:     int64(len("snapshot of shard 0")) * 2,
				warnings:  1,
				collected: []string{"docs"},
			},
		},
		"OlderTarget": {
			reason:  "An older target minor is refused before anything is touched.",
			setup:   func(f *fakeTarget) { f.version = "1.18.3" },
			req:     request(),
			want:    want{reason: ReasonVersionTooOld},
			noCalls: true,
		},
		"ForeignManifest": {
			reason:  "A manifest that belongs to another Backup is not restored from a backupRef.",
			req:     request(func(r *Request) { r.BackupUID = "uid-2" }),
			want:    want{reason: ReasonInvalidManifest},
			noCalls: true,
		},
		"NoManifest": {
			reason:  "A folder without a manifest is not a backup.",
			req:     request(func(r *Request) { r.Root = "p/ns/src/none/" }),
			want:    want{reason: ReasonManifestNotFound},
			noCalls: true,
		},
		"Resumed": {
			reason: "A run resuming a journal keeps the collection it created and skips the shard it recovered.",
			setup: func(f *fakeTarget) {
				f.cols["docs"] = &fakeCollection{body: json.RawMessage(`{"shard_number":2}`), recovered: map[uint32]bool{0: true}}
			},
			req: request(func(r *Request) {
				r.Method = MethodURL
				r.Resume = Record{Created: []string{"docs"}, Recovered: map[string][]uint32{"docs": {0}}}
			}),
			want: want{
				calls:     []string{"recover docs/1 by url", "journal [docs]", "index docs city", "alias docs-live docs"},
				byURL:     int64(len("snapshot of shard 0")),
				collected: []string{"docs"},
			},
		},
		"ShortObject": {
			reason: "An object shorter than the manifest says fails its shard before Qdrant sees it, without retries, and the created collection is deleted.",
			store: func(t *testing.T) *fakeStore {
				s := backupOf(t)
				s.objects[root+manifest.ShardObject("docs", 0)] = []byte("snap")
				return s
			},
			req:  request(func(r *Request) { r.Method = MethodURL; r.Parallelism = 1 }),
			want: want{reason: ReasonShardFailed, calls: []string{"create docs", "journal [docs]", "delete docs", "journal []"}},
		},
		"CreatedMeanwhile": {
			reason: "A collection someone else creates while the restore runs is theirs: the restore fails, naming it, and never deletes it.",
			setup: func(f *fakeTarget) {
				f.beforeCreate = func(c string) {
					f.mu.Lock()
					defer f.mu.Unlock()
					f.record("app creates %s", c)
					f.cols[c] = &fakeCollection{recovered: map[uint32]bool{}}
				}
			},
			req:  request(func(r *Request) { r.Method = MethodURL; r.Parallelism = 1 }),
			want: want{reason: ReasonCollectionExists, calls: []string{"app creates docs"}},
		},
		"ResumedCollectionGone": {
			reason: "A collection the journal says this restore made, gone since, is made again and every shard recovered: the journal's shards belonged to the old one.",
			req: request(func(r *Request) {
				r.Method = MethodURL
				r.Parallelism = 1
				r.Resume = Record{Created: []string{"docs"}, Recovered: map[string][]uint32{"docs": {0}}}
			}),
			want: want{
				calls:     []string{"create docs", "journal [docs]", "recover docs/0 by url", "journal [docs]", "recover docs/1 by url", "journal [docs]", "index docs city", "alias docs-live docs"},
				byURL:     int64(len("snapshot of shard 0")) * 2,
				collected: []string{"docs"},
			},
		},
		"ReplacedKeepsAliases": {
			reason: "Under Replace the aliases of the replaced collection are put back on the restored one.",
			setup: func(f *fakeTarget) {
				f.cols["docs"] = &fakeCollection{recovered: map[uint32]bool{}}
				f.aliases["docs-prod"] = "docs"
			},
			req: request(func(r *Request) { r.Policy = PolicyReplace; r.Method = MethodURL; r.Parallelism = 1 }),
			want: want{
				calls:     []string{"journal []", "delete docs", "create docs", "journal [docs]", "recover docs/0 by url", "journal [docs]", "recover docs/1 by url", "journal [docs]", "index docs city", "alias docs-live docs", "alias docs-prod docs"},
				byURL:     int64(len("snapshot of shard 0")) * 2,
				collected: []string{"docs"},
			},
		},
		"CountMismatch": {
			reason: "A count that differs from the backup's fails verification and deletes what was restored.",
			setup:  func(f *fakeTarget) { f.pointsPerShard = 9 },
			req:    request(func(r *Request) { r.Method = MethodURL; r.Parallelism = 1 }),
			want:   want{reason: ReasonVerificationFailed, byURL: int64(len("snapshot of shard 0")) * 2, calls: []string{"create docs", "journal [docs]", "recover docs/0 by url", "journal [docs]", "recover docs/1 by url", "journal [docs]", "index docs city", "alias docs-live docs", "delete docs", "journal []"}},
		},
		"CountMismatchWrittenDuring": {
			reason: "When the source was written to during the backup, a count difference is a warning.",
			setup:  func(f *fakeTarget) { f.pointsPerShard = 9 },
			store: func(t *testing.T) *fakeStore {
				after := uint64(25)
				return backupOf(t, func(m *manifest.Manifest) { m.Collections[0].PointsAfter = &after })
			},
			req: request(func(r *Request) { r.Method = MethodURL; r.Parallelism = 1 }),
			want: want{
				calls:    []string{"create docs", "journal [docs]", "recover docs/0 by url", "journal [docs]", "recover docs/1 by url", "journal [docs]", "index docs city", "alias docs-live docs"},
				byURL:    int64(len("snapshot of shard 0")) * 2,
				warnings: 1,
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tgt := newFakeTarget()
			if tc.setup != nil {
				tc.setup(tgt)
			}
			var s *fakeStore
			if tc.store != nil {
				s = tc.store(t)
			} else {
				s = backupOf(t)
			}
			j := &journal{target: tgt}
			req := tc.req
			req.Journal = j
			var reports []Status
			req.Report = func(st Status) { reports = append(reports, st) }
			st, err := Run(context.Background(), tgt, s, req)
			got := want{reason: reasonOf(err), calls: tgt.calls, uploaded: st.BytesUploaded, byURL: st.BytesByURL, warnings: len(st.Warnings)}
			for _, c := range st.Collections {
				if c.Verified {
					got.collected = append(got.collected, c.Name)
				}
			}
			if tc.noCalls {
				tc.want.calls = nil
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("%s\nRun(...): -want, +got:\n%s", tc.reason, diff)
			}
			// Presigned URLs are credentials: never in an error, a status
			// or a report.
			for _, text := range append([]string{fmt.Sprint(err), fmt.Sprintf("%+v", st)}, reportsText(reports)...) {
				if strings.Contains(text, "X-Amz-Signature") {
					t.Errorf("%s\na presigned URL leaked: %s", tc.reason, text)
				}
			}
		})
	}
}

func reportsText(rs []Status) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%+v", r))
	}
	return out
}

func TestScrubKeepsClassification(t *testing.T) {
	url := "http://s3.test/k?" + signature
	err := scrub(fetchError{"error sending request for url (" + url + ")"}, url)
	if strings.Contains(err.Error(), "X-Amz") {
		t.Errorf("scrub left the signature in %q", err)
	}
	if !cannotFetch(err) {
		t.Errorf("scrub lost the error's CannotFetch")
	}
	if !slices.Contains([]string{"error sending request for url (<presigned URL>)"}, err.Error()) {
		t.Errorf("scrub: %q", err)
	}
}

// withSample records a sample of three points in the backup and returns the
// records the target should hold for it to match.
func withSample(t *testing.T, s *fakeStore) map[string]sample.Record {
	t.Helper()
	recs := map[string]sample.Record{}
	f := sample.File{FormatVersion: sample.FormatVersion, BackupUID: "uid-1", Collection: "docs"}
	for i := 1; i <= 3; i++ {
		id := json.RawMessage(fmt.Sprint(i))
		rec := sample.Record{ID: id, Vector: json.RawMessage(fmt.Sprintf(`[0.1,0.2,0.3,%d]`, i)), Payload: json.RawMessage(`{"city":"Berlin"}`)}
		sum, err := sample.Digest(rec.Vector, rec.Payload)
		if err != nil {
			t.Fatal(err)
		}
		f.Points = append(f.Points, sample.Point{ID: id, SHA256: sum})
		recs[fmt.Sprint(i)] = rec
	}
	b, err := sample.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	s.objects[root+manifest.SampleObject("docs")] = b
	sum := sha256.Sum256(b)
	var m manifest.Manifest
	m, err = manifest.Decode(s.objects[root+manifest.ManifestName])
	if err != nil {
		t.Fatal(err)
	}
	m.Collections[0].Sample = &manifest.SampleRef{Object: manifest.SampleObject("docs"), SizeBytes: int64(len(b)), SHA256: hex.EncodeToString(sum[:]), Points: 3}
	mb, err := manifest.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	s.objects[root+manifest.ManifestName] = mb
	return recs
}

func TestRunComparesSample(t *testing.T) {
	cases := map[string]struct {
		reason  string
		change  func(map[string]sample.Record)
		samples int
		want    string
		sampled int
	}{
		"Same": {
			reason: "Points read back equal to the recorded sample verify the collection.", samples: 100, sampled: 3,
		},
		"Fewer": {
			reason: "Only as many recorded points as asked for are compared, the first in the recorded order.", samples: 2, sampled: 2,
		},
		"PayloadDiffers": {
			reason: "A sampled point whose payload differs fails verification.",
			change: func(r map[string]sample.Record) {
				p := r["2"]
				p.Payload = json.RawMessage(`{"city":"Bonn"}`)
				r["2"] = p
			},
			samples: 100, want: ReasonVerificationFailed,
		},
		"VectorDiffers": {
			reason: "A sampled point whose vector differs fails verification.",
			change: func(r map[string]sample.Record) {
				p := r["3"]
				p.Vector = json.RawMessage(`[0.1,0.2,0.3,4]`)
				r["3"] = p
			},
			samples: 100, want: ReasonVerificationFailed,
		},
		"Missing": {
			reason:  "A sampled point missing from the target fails verification.",
			change:  func(r map[string]sample.Record) { delete(r, "1") },
			samples: 100, want: ReasonVerificationFailed,
		},
		"CountsOnly": {
			reason:  "verifySamplePoints 0 compares counts only.",
			change:  func(r map[string]sample.Record) { delete(r, "1") },
			samples: 0, sampled: 0,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := backupOf(t)
			tgt := newFakeTarget()
			tgt.records = withSample(t, s)
			if tc.change != nil {
				tc.change(tgt.records)
			}
			st, err := Run(context.Background(), tgt, s, request(func(r *Request) { r.Method = MethodURL; r.SamplePoints = tc.samples }))
			if got := reasonOf(err); got != tc.want {
				t.Fatalf("%s\nRun(...): reason %q (%v), want %q", tc.reason, got, err, tc.want)
			}
			if err == nil && (st.Collections[0].SampledPoints != tc.sampled || !st.Collections[0].Verified) {
				t.Errorf("%s\nsampled %d verified %t, want %d true", tc.reason, st.Collections[0].SampledPoints, st.Collections[0].Verified, tc.sampled)
			}
		})
	}
}
