package qdrantcluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/cluster/s3server"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backupplan"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrant"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

// emulated starts an emulated cluster and connects a Target to all its nodes.
func emulated(t *testing.T, opts qdrantemu.Options) (*qdrantemu.Cluster, *Target) {
	t.Helper()
	opts.Dir = t.TempDir()
	emu, err := qdrantemu.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	c, err := Connect(t.Context(), Options{URL: emu.URLs()[0], PeerURLs: emu.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	return emu, NewTarget(c)
}

const vectors = `{"size":4,"distance":"Dot"}`

// shardSnapshot is shard 0 of a one-shard collection of n points (plus
// padding bytes), streamed from a cluster of its own, and its sha256.
func shardSnapshot(t *testing.T, n int, padding int64) ([]byte, string) {
	t.Helper()
	ctx := t.Context()
	emu, err := qdrantemu.Start(qdrantemu.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	cl, err := qdrant.New(qdrant.Config{URL: emu.URLs()[0]})
	if err != nil {
		t.Fatal(err)
	}
	one := uint32(1)
	if err := cl.CreateCollection(ctx, "src", qdrant.CreateCollection{Vectors: json.RawMessage(vectors), ShardNumber: &one}); err != nil {
		t.Fatal(err)
	}
	pts := make([]qdrant.Point, n)
	for i := range pts {
		pts[i] = qdrant.Point{ID: qdrant.NumericPointID(uint64(i)), Vector: json.RawMessage(fmt.Sprintf("[%d,1,0,0.5]", i)), Payload: map[string]any{"i": i}}
	}
	if err := cl.Upsert(ctx, "src", pts, true); err != nil {
		t.Fatal(err)
	}
	emu.SetSnapshotPadding("src", padding)
	c, err := Connect(ctx, Options{URL: emu.URLs()[0], PeerURLs: emu.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	body, err := c.StreamShard(ctx, emu.Nodes()[0].ID, "src", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close() //nolint:errcheck // Test.
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

// placed is a shard's placement in a comparable form.
type placed struct {
	ID     uint32
	Key    string
	States map[uint64]backupplan.ReplicaState
}

func placements(t *testing.T, tg *Target, collection string) []placed {
	t.Helper()
	shards, err := tg.Placement(t.Context(), collection)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]placed, 0, len(shards))
	for _, s := range shards {
		p := placed{ID: s.ID, Key: string(s.Key), States: map[uint64]backupplan.ReplicaState{}}
		for _, r := range s.Replicas {
			p.States[r.Peer] = r.State
		}
		out = append(out, p)
	}
	return out
}

// waitActive waits until every replica of collection is Active.
func waitActive(t *testing.T, tg *Target, collection string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		all := true
		for _, p := range placements(t, tg, collection) {
			for _, st := range p.States {
				all = all && st == backupplan.Active
			}
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas of %s not all Active: %v", collection, placements(t, tg, collection))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func nodeIDs(emu *qdrantemu.Cluster) []uint64 {
	var ids []uint64
	for _, n := range emu.Nodes() {
		ids = append(ids, n.ID)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func TestTargetCreatesACustomShardedCollection(t *testing.T) {
	emu, tg := emulated(t, qdrantemu.Options{Nodes: 3})
	ctx := t.Context()
	peers, err := tg.Peers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(nodeIDs(emu), peers); diff != "" {
		t.Errorf("Peers: -want, +got:\n%s", diff)
	}

	body := json.RawMessage(`{"vectors":` + vectors + `,"sharding_method":"custom","shard_number":2,"replication_factor":2}`)
	if err := tg.Create(ctx, "c", body); err != nil {
		t.Fatal(err)
	}
	if err := tg.Create(ctx, "c", body); !qdrant.IsConflict(err) {
		t.Errorf("creating an existing collection: want the client's *ConflictError, got %v", err)
	}
	// Shard ids follow the order in which keys are created.
	for _, k := range []string{`"tenant-a"`, `7`} {
		if err := tg.CreateShardKey(ctx, "c", json.RawMessage(k), 2, 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := tg.CreateShardKey(ctx, "c", json.RawMessage(`{"not":"a key"}`), 2, 2); err == nil {
		t.Error("a shard key that is neither a string nor a number was accepted")
	}
	got := placements(t, tg, "c")
	var keys []string
	for _, p := range got {
		keys = append(keys, fmt.Sprintf("%d:%s:%d", p.ID, p.Key, len(p.States)))
		for peer, st := range p.States {
			if st != backupplan.Active {
				t.Errorf("shard %d on peer %d is %s, want Active", p.ID, peer, st)
			}
		}
	}
	if diff := cmp.Diff([]string{`0:"tenant-a":2`, `1:"tenant-a":2`, `2:7:2`, `3:7:2`}, keys); diff != "" {
		t.Errorf("placement (id:key:replicas): -want, +got:\n%s", diff)
	}
	if ok, err := tg.Exists(ctx, "c"); err != nil || !ok {
		t.Errorf("Exists(c) after Create: want true, got %t, %v", ok, err)
	}
}

func TestTargetExistsIsFalseForAnAlias(t *testing.T) {
	_, tg := emulated(t, qdrantemu.Options{Nodes: 2})
	ctx := t.Context()
	if err := tg.Create(ctx, "c", json.RawMessage(`{"vectors":`+vectors+`}`)); err != nil {
		t.Fatal(err)
	}
	if err := tg.CreateAlias(ctx, "current", "c"); err != nil {
		t.Fatal(err)
	}
	aliases, err := tg.Aliases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"current": "c"}, aliases); diff != "" {
		t.Errorf("Aliases: -want, +got:\n%s", diff)
	}
	for name, want := range map[string]bool{"c": true, "current": false, "absent": false} {
		// Qdrant's exists endpoint resolves aliases; a restore must not
		// take an alias for a collection it may replace.
		if got, err := tg.Exists(ctx, name); err != nil || got != want {
			t.Errorf("Exists(%s): want %t, got %t, %v", name, want, got, err)
		}
	}
	if err := tg.CreatePayloadIndex(ctx, "c", "city", json.RawMessage(`"keyword"`)); err != nil {
		t.Fatal(err)
	}
	desc, err := tg.c.Describe(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if idx, ok := desc.PayloadIndexes["city"]; !ok || idx.DataType != "keyword" {
		t.Errorf("payload indexes after CreatePayloadIndex(city, keyword): got %+v", desc.PayloadIndexes)
	}
	if err := tg.Delete(ctx, "absent"); err != nil {
		t.Errorf("deleting a collection that does not exist: want no error, got %v", err)
	}
	if err := tg.Delete(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if ok, err := tg.Exists(ctx, "c"); err != nil || ok {
		t.Errorf("Exists(c) after Delete: want false, got %t, %v", ok, err)
	}
}

// serve serves data at a presigned-looking URL and returns the URL.
func serve(t *testing.T, status int, data []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/backups/b1/c/0.snapshot?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260804&X-Amz-Signature=" + signature
}

const signature = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestTargetRecoversFromAURLOnTheNamedPeer(t *testing.T) {
	data, sum := shardSnapshot(t, 50, 0)
	emu, tg := emulated(t, qdrantemu.Options{Nodes: 3, ResyncDelay: time.Second})
	ctx := t.Context()
	if err := tg.Create(ctx, "c", json.RawMessage(`{"vectors":`+vectors+`,"shard_number":1,"replication_factor":3}`)); err != nil {
		t.Fatal(err)
	}
	named := emu.Nodes()[1]
	before := len(emu.Requests())
	if err := tg.RecoverFromURL(ctx, named.ID, "c", 0, serve(t, http.StatusOK, data), sum); err != nil {
		t.Fatal(err)
	}
	for _, r := range emu.Requests()[before:] {
		if strings.HasSuffix(r.Path, "/snapshots/recover") && r.Node != named.Index {
			t.Errorf("the recovery went to node %d, want node %d only", r.Node, named.Index)
		}
	}
	// The named peer holds the snapshot's data; the others are Dead until
	// Qdrant re-syncs them from it.
	want := map[uint64]backupplan.ReplicaState{}
	for _, n := range emu.Nodes() {
		want[n.ID] = "Dead"
	}
	want[named.ID] = backupplan.Active
	if diff := cmp.Diff([]placed{{ID: 0, States: want}}, placements(t, tg, "c")); diff != "" {
		t.Errorf("placement right after the recovery: -want, +got:\n%s", diff)
	}
	waitActive(t, tg, "c")
	if n, err := tg.Count(ctx, "c"); err != nil || n != 50 {
		t.Errorf("Count after the recovery: want 50, got %d, %v", n, err)
	}
}

func TestTargetUploadStreamsASnapshot(t *testing.T) {
	const padding = 4 << 20
	data, sum := shardSnapshot(t, 30, padding)
	emu, tg := emulated(t, qdrantemu.Options{Nodes: 2})
	ctx := t.Context()
	if err := tg.Create(ctx, "c", json.RawMessage(`{"vectors":`+vectors+`,"shard_number":2,"replication_factor":1}`)); err != nil {
		t.Fatal(err)
	}
	// Shard 1 lives on the second node alone.
	node := emu.Nodes()[1]
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- tg.Upload(ctx, node.ID, "c", 1, pr, sum) }()

	// Half the snapshot goes in; the node must receive bytes of it before
	// the rest exists: an upload that buffered its body whole would send
	// nothing yet.
	half := len(data) / 2
	if _, err := pw.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(node.SnapshotsDir(), "tmp", "upload")
	deadline := time.Now().Add(10 * time.Second)
	for received(spool) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the node received nothing of the first half of the snapshot: the upload does not stream")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := pw.Write(data[half:]); err != nil {
		t.Fatal(err)
	}
	_ = pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, err := tg.Count(ctx, "c"); err != nil || n != 30 {
		t.Errorf("Count after the upload: want 30, got %d, %v", n, err)
	}
}

// received is how many bytes of uploads a node spooled so far.
func received(dir string) int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			n += info.Size()
		}
	}
	return n
}

func TestTargetChecksumMismatch(t *testing.T) {
	data, sum := shardSnapshot(t, 10, 0)
	wrong := strings.Repeat("ab", 32)
	if wrong == sum {
		t.Fatal("the wrong checksum is right")
	}
	emu, tg := emulated(t, qdrantemu.Options{Nodes: 2})
	ctx := t.Context()
	if err := tg.Create(ctx, "c", json.RawMessage(`{"vectors":`+vectors+`,"shard_number":1,"replication_factor":2}`)); err != nil {
		t.Fatal(err)
	}
	peer := emu.Nodes()[0].ID
	err := tg.RecoverFromURL(ctx, peer, "c", 0, serve(t, http.StatusOK, data), wrong)
	var rerr *RecoverError
	if !errors.As(err, &rerr) || !qdrant.IsBadRequest(err) || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("recovery with a wrong checksum: want a *RecoverError wrapping a 400 checksum mismatch, got %v", err)
	}
	if rerr != nil && rerr.CannotFetch() {
		t.Errorf("a checksum mismatch is no fetch failure: an upload would not do better: %v", err)
	}
	err = tg.Upload(ctx, peer, "c", 0, strings.NewReader(string(data)), wrong)
	if !qdrant.IsBadRequest(err) || !strings.Contains(err.Error(), "Checksum mismatch") {
		t.Errorf("upload with a wrong checksum: want a 400 checksum mismatch, got %v", err)
	}
	if n, err := tg.Count(ctx, "c"); err != nil || n != 0 {
		t.Errorf("a refused snapshot must leave the collection untouched: want 0 points, got %d, %v", n, err)
	}
}

func TestTargetRecoverFromURLSaysWhenQdrantCannotFetch(t *testing.T) {
	_, sum := shardSnapshot(t, 10, 0)
	emu, tg := emulated(t, qdrantemu.Options{Nodes: 2})
	ctx := t.Context()
	if err := tg.Create(ctx, "c", json.RawMessage(`{"vectors":`+vectors+`,"shard_number":1}`)); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		reason string
		url    func() string
		want   bool
	}{
		"StoreForbids": {
			reason: "An expired or wrong signature: the store answers 403 to Qdrant.",
			url: func() string {
				return serve(t, http.StatusForbidden, []byte("<Error><Code>AccessDenied</Code></Error>"))
			},
			want: true,
		},
		"StoreUnreachable": {
			reason: "Qdrant cannot connect to the store.",
			url: func() string {
				srv := httptest.NewServer(http.NotFoundHandler())
				srv.Close() // Its port now refuses connections.
				return srv.URL + "/backups/b1/c/0.snapshot?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=" + signature
			},
			want: true,
		},
		"NotAnArchive": {
			reason: "Qdrant fetched the object and it is no snapshot: an upload would fail the same way.",
			url:    func() string { return serve(t, http.StatusOK, []byte("this is not a tar archive")) },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			url := tc.url()
			err := tg.RecoverFromURL(ctx, emu.Nodes()[1].ID, "c", 0, url, sum)
			var rerr *RecoverError
			if !errors.As(err, &rerr) {
				t.Fatalf("%s\nwant a *RecoverError, got %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, rerr.CannotFetch()); diff != "" {
				t.Errorf("%s\nCannotFetch() of %v: -want, +got:\n%s", tc.reason, err, diff)
			}
			for _, secret := range []string{url, signature, "X-Amz-Credential", url[strings.IndexByte(url, '?')+1:]} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("%s\nthe error %q contains %q of the presigned URL", tc.reason, err, secret)
				}
			}
		})
	}
}

func TestTargetStandalone(t *testing.T) {
	data, sum := shardSnapshot(t, 20, 0)
	emu, tg := emulated(t, qdrantemu.Options{Standalone: true})
	ctx := t.Context()
	peers, err := tg.Peers(ctx)
	if err != nil || len(peers) != 1 {
		t.Fatalf("Peers of a standalone node: want one, got %v, %v", peers, err)
	}
	if err := tg.Create(ctx, "c", json.RawMessage(`{"vectors":`+vectors+`}`)); err != nil {
		t.Fatal(err)
	}
	peers, err = tg.Peers(ctx)
	if diff := cmp.Diff([]uint64{emu.Nodes()[0].ID}, peers); diff != "" || err != nil {
		t.Errorf("Peers of a standalone node holding a collection (%v): -want, +got:\n%s", err, diff)
	}
	shards := placements(t, tg, "c")
	if len(shards) != 1 || len(shards[0].States) != 1 {
		t.Fatalf("placement: want one shard on one peer, got %v", shards)
	}
	for peer := range shards[0].States {
		if err := tg.RecoverFromURL(ctx, peer, "c", 0, serve(t, http.StatusOK, data), sum); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := tg.Count(ctx, "c"); err != nil || n != 20 {
		t.Errorf("Count: want 20, got %d, %v", n, err)
	}
	recs, err := tg.Retrieve(ctx, "c", []json.RawMessage{json.RawMessage("3"), json.RawMessage("999"), json.RawMessage("1")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s %s %s", r.ID, r.Vector, r.Payload))
	}
	sort.Strings(got)
	if diff := cmp.Diff([]string{`1 [1,1,0,0.5] {"i":1}`, `3 [3,1,0,0.5] {"i":3}`}, got); diff != "" {
		t.Errorf("Retrieve(3, 999, 1): the points that exist, with vector and payload: -want, +got:\n%s", diff)
	}
}

func TestTargetUnknownPeer(t *testing.T) {
	_, tg := emulated(t, qdrantemu.Options{Nodes: 2})
	err := tg.Upload(t.Context(), 42, "c", 0, strings.NewReader("x"), strings.Repeat("0", 64))
	if err == nil || !strings.Contains(err.Error(), "peer 42") {
		t.Errorf("a shard for a peer without a URL: want an error naming it, got %v", err)
	}
}

// follower is a node that sees a new collection only from its seenAfter-th
// listing on, as a Qdrant follower applies a consensus change after the
// leader answered.
type follower struct {
	seenAfter int
	listings  atomic.Int32
}

func (f *follower) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPut:
		_, _ = io.WriteString(w, `{"result":true,"status":"ok","time":0}`)
	case r.URL.Path == "/collections":
		names := `[]`
		if int(f.listings.Add(1)) >= f.seenAfter {
			names = `[{"name":"c"}]`
		}
		_, _ = io.WriteString(w, `{"result":{"collections":`+names+`},"status":"ok","time":0}`)
	default:
		http.NotFound(w, r)
	}
}

func TestTargetCreateWaitsForEveryPeer(t *testing.T) {
	cases := map[string]struct {
		reason    string
		seenAfter int
		down      bool
		wantErr   string
		wantLists int32
	}{
		"Lagging": {
			reason:    "A peer that applies the creation late is asked until it lists the collection.",
			seenAfter: 3,
			wantLists: 3,
		},
		"NeverSees": {
			reason:    "A peer that never lists it fails the creation after the settle timeout, naming the peer.",
			seenAfter: 1 << 30,
			wantErr:   "peer 2 does not see collection \"c\"",
		},
		"Down": {
			reason: "A peer that cannot be reached is not waited for: it is reported when a shard needs it.",
			down:   true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			leader := httptest.NewServer(&follower{seenAfter: 1})
			defer leader.Close()
			f := &follower{seenAfter: tc.seenAfter}
			other := httptest.NewServer(f)
			defer other.Close()
			if tc.down {
				other.Close()
			}
			clients := map[uint64]*qdrant.Client{}
			for id, u := range map[uint64]string{1: leader.URL, 2: other.URL} {
				cl, err := qdrant.New(qdrant.Config{URL: u, Retry: qdrant.RetryPolicy{MaxAttempts: 1}})
				if err != nil {
					t.Fatal(err)
				}
				clients[id] = cl
			}
			tg := NewTarget(&Cluster{entry: clients[1], peers: clients, known: []uint64{1, 2}})
			tg.SettleTimeout = 500 * time.Millisecond
			err := tg.Create(t.Context(), "c", json.RawMessage(`{}`))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("%s\nCreate: want error %q, got %v", tc.reason, tc.wantErr, err)
			}
			if tc.wantLists > 0 && f.listings.Load() != tc.wantLists {
				t.Errorf("%s\nthe lagging peer was asked %d times, want %d", tc.reason, f.listings.Load(), tc.wantLists)
			}
		})
	}
}

func TestTargetWritesOnceOnAReachableNode(t *testing.T) {
	cases := map[string]struct {
		reason     string
		first      http.HandlerFunc // nil: the first node is down
		wantErr    bool
		wantSecond int32 // PUTs the second node receives
	}{
		"FirstDown": {
			reason:     "A change goes to the next node when the first cannot be reached.",
			wantSecond: 1,
		},
		"FirstFails": {
			reason: "A node that answered with an error may have applied the change: it is not sent to another, where it would run twice.",
			first: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, `{"status":{"error":"Service internal error: x"},"time":0}`)
			},
			wantErr: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			first := httptest.NewServer(tc.first)
			defer first.Close()
			if tc.first == nil {
				first.Close()
			}
			var puts atomic.Int32
			f := &follower{seenAfter: 1}
			second := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPut {
					puts.Add(1)
				}
				f.ServeHTTP(w, r)
			}))
			defer second.Close()
			var cls []*qdrant.Client
			for _, u := range []string{first.URL, second.URL} {
				cl, err := qdrant.New(qdrant.Config{URL: u, Retry: qdrant.RetryPolicy{MaxAttempts: 1}})
				if err != nil {
					t.Fatal(err)
				}
				cls = append(cls, cl)
			}
			tg := NewTarget(&Cluster{entry: cls[0], peers: map[uint64]*qdrant.Client{2: cls[1]}, known: []uint64{1, 2}})
			err := tg.Create(t.Context(), "c", json.RawMessage(`{}`))
			if (err != nil) != tc.wantErr {
				t.Errorf("%s\nCreate: want an error %t, got %v", tc.reason, tc.wantErr, err)
			}
			if got := puts.Load(); got != tc.wantSecond {
				t.Errorf("%s\nthe second node received %d PUTs, want %d", tc.reason, got, tc.wantSecond)
			}
		})
	}
}

// s3Store starts the S3 test server and returns a store on a new bucket.
func s3Store(t *testing.T, budget *s3store.Budget) *s3store.Store {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the S3 server")
	}
	if why := s3server.Available(); why != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("the S3 server cannot run in CI: %s", why)
		}
		t.Skipf("no S3 server: %s", why)
	}
	srv, err := s3server.Start(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	if err := srv.CreateBucket(t.Context(), "backups"); err != nil {
		t.Fatal(err)
	}
	s, err := s3store.New(s3store.Config{
		Bucket: "backups", Endpoint: srv.Endpoint, Region: srv.Region, UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""), Budget: budget,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTargetRestoresShardsFromTheObjectStore(t *testing.T) {
	data, sum := shardSnapshot(t, 40, 1<<20)
	budget, err := s3store.NewBudget(s3store.DefaultPartSize, s3store.DefaultPartSize)
	if err != nil {
		t.Fatal(err)
	}
	store := s3Store(t, budget)
	ctx := t.Context()
	if _, _, err := store.PutStream(ctx, "b1/c/0.snapshot", func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}); err != nil {
		t.Fatal(err)
	}
	emu, tg := emulated(t, qdrantemu.Options{Nodes: 2})
	peer := emu.Nodes()[1].ID
	create := func(t *testing.T, name string) {
		t.Helper()
		if err := tg.Create(ctx, name, json.RawMessage(`{"vectors":`+vectors+`,"shard_number":1,"replication_factor":2}`)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("PresignedURL", func(t *testing.T) {
		// Qdrant pulls the object from the store itself.
		create(t, "by-url")
		url, err := store.Presign(ctx, "b1/c/0.snapshot", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := tg.RecoverFromURL(ctx, peer, "by-url", 0, url, sum); err != nil {
			t.Fatal(err)
		}
		waitActive(t, tg, "by-url")
		if n, err := tg.Count(ctx, "by-url"); err != nil || n != 40 {
			t.Errorf("Count: want 40, got %d, %v", n, err)
		}
	})

	t.Run("WrongSignature", func(t *testing.T) {
		// The store refuses Qdrant's GET with a 403: an upload through the
		// provider, with its own credentials, may still work.
		create(t, "bad-signature")
		url, err := store.Presign(ctx, "b1/c/0.snapshot", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(url, "X-Amz-Signature=") + len("X-Amz-Signature=")
		sig := url[i : i+64]
		forged := strings.Replace(url, sig, strings.Repeat("0", 64), 1)
		err = tg.RecoverFromURL(ctx, peer, "bad-signature", 0, forged, sum)
		var rerr *RecoverError
		if !errors.As(err, &rerr) || !rerr.CannotFetch() {
			t.Fatalf("a URL the store refuses: want a *RecoverError that cannot fetch, got %v", err)
		}
		for _, secret := range []string{forged, "X-Amz-Credential", sig, strings.Repeat("0", 64)} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error %q contains %q of the presigned URL", err, secret)
			}
		}
	})

	t.Run("Upload", func(t *testing.T) {
		// The provider streams the object from the store into the peer,
		// within one buffer of the transfer budget.
		create(t, "by-upload")
		body, err := store.Open(ctx, "b1/c/0.snapshot")
		if err != nil {
			t.Fatal(err)
		}
		err = tg.Upload(ctx, peer, "by-upload", 0, body, sum)
		_ = body.Close()
		if err != nil {
			t.Fatal(err)
		}
		waitActive(t, tg, "by-upload")
		if n, err := tg.Count(ctx, "by-upload"); err != nil || n != 40 {
			t.Errorf("Count: want 40, got %d, %v", n, err)
		}
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		shards, err := store.Open(octx, "b1/c/0.snapshot")
		if err != nil {
			t.Fatalf("the budget's one buffer must be back after Close: %v", err)
		}
		_ = shards.Close()
	})
}

func TestTargetExistsWhereQdrantResolvesAliases(t *testing.T) {
	// Qdrant versions whose exists endpoint looks the name up as any other
	// call does (TableOfContent::get_collection, through aliases) answer
	// true for an alias. It is still no collection a restore may replace.
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/collections/current/exists", "/collections/c/exists":
			_, _ = io.WriteString(w, `{"result":{"exists":true},"status":"ok","time":0}`)
		case "/aliases":
			_, _ = io.WriteString(w, `{"result":{"aliases":[{"alias_name":"current","collection_name":"c"}]},"status":"ok","time":0}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer node.Close()
	cl, err := qdrant.New(qdrant.Config{URL: node.URL})
	if err != nil {
		t.Fatal(err)
	}
	tg := NewTarget(&Cluster{entry: cl, peers: map[uint64]*qdrant.Client{1: cl}, known: []uint64{1}})
	for name, want := range map[string]bool{"c": true, "current": false} {
		if got, err := tg.Exists(t.Context(), name); err != nil || got != want {
			t.Errorf("Exists(%s): want %t, got %t, %v", name, want, got, err)
		}
	}
}

func TestTargetUploadsWhereQdrantCannotFetch(t *testing.T) {
	// What Auto's fallback rests on: where a node does not fetch the URL,
	// the same snapshot uploaded to the same node restores the shard.
	data, sum := shardSnapshot(t, 25, 0)
	url := serve(t, http.StatusOK, data)
	host := url[len("http://"):strings.Index(url, "/backups")]
	cases := map[string]struct {
		reason string
		opts   qdrantemu.Options
	}{
		"URLRecoveryDisabled": {
			reason: "service.enable_snapshot_url_recovery: false refuses every http(s) location with a 403.",
			opts:   qdrantemu.Options{Nodes: 2, DisableURLRecovery: true},
		},
		"StoreUnreachableFromTheNodes": {
			reason: "A network policy keeps the nodes, not the provider, from the object store.",
			opts:   qdrantemu.Options{Nodes: 2, UnreachableHosts: []string{host}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			emu, tg := emulated(t, tc.opts)
			ctx := t.Context()
			if err := tg.Create(ctx, "c", json.RawMessage(`{"vectors":`+vectors+`,"shard_number":1,"replication_factor":2}`)); err != nil {
				t.Fatal(err)
			}
			peer := emu.Nodes()[1].ID
			err := tg.RecoverFromURL(ctx, peer, "c", 0, url, sum)
			var rerr *RecoverError
			if !errors.As(err, &rerr) || !rerr.CannotFetch() {
				t.Fatalf("%s\nwant a *RecoverError that cannot fetch, got %v", tc.reason, err)
			}
			if strings.Contains(err.Error(), signature) {
				t.Errorf("%s\nthe error quotes the URL's signature: %v", tc.reason, err)
			}
			if err := tg.Upload(ctx, peer, "c", 0, bytes.NewReader(data), sum); err != nil {
				t.Fatalf("%s\nthe upload to the same node: %v", tc.reason, err)
			}
			waitActive(t, tg, "c")
			if n, err := tg.Count(ctx, "c"); err != nil || n != 25 {
				t.Errorf("%s\nCount after the upload: want 25, got %d, %v", tc.reason, n, err)
			}
		})
	}
}
