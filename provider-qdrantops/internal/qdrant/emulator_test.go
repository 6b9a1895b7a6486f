package qdrant_test

// These tests run the client against the multi-node Qdrant emulator, whose
// every exchange can be checked against Qdrant's own OpenAPI schema. The unit
// tests next to them pin the wire format against a fake; these prove that the
// client's calls compose into working backups and restores, and that the
// client and the emulator agree with Qdrant's contract rather than only with
// each other.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu/openapicheck"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrant"
)

// startEmulator starts an emulated cluster in a folder the test removes, and
// stops it when the test ends.
func startEmulator(tb testing.TB, opts qdrantemu.Options) *qdrantemu.Cluster {
	tb.Helper()
	opts.Dir = tb.TempDir()
	c, err := qdrantemu.Start(opts)
	if err != nil {
		tb.Fatalf("cannot start the emulator: %v", err)
	}
	tb.Cleanup(c.Close)
	return c
}

// maybeCheckContract installs the OpenAPI checker when the schema is
// available, for tests whose main subject is not the contract: they still run
// without it.
func maybeCheckContract(t *testing.T, opts *qdrantemu.Options) {
	t.Helper()
	p := os.Getenv(openapicheck.EnvVar)
	if p == "" {
		return
	}
	chk, err := openapicheck.Load(p)
	if err != nil {
		t.Fatalf("cannot load the OpenAPI schema: %v", err)
	}
	opts.Observe = chk.Observe
	t.Cleanup(func() { chk.Verify(t) })
}

func newClient(tb testing.TB, url string) *qdrant.Client {
	tb.Helper()
	c, err := qdrant.New(qdrant.Config{URL: url})
	if err != nil {
		tb.Fatalf("qdrant.New(%q): %v", url, err)
	}
	return c
}

func clients(tb testing.TB, c *qdrantemu.Cluster) []*qdrant.Client {
	tb.Helper()
	out := make([]*qdrant.Client, 0, len(c.URLs()))
	for _, u := range c.URLs() {
		out = append(out, newClient(tb, u))
	}
	return out
}

func u32(n uint32) *uint32 { return &n }

// collectionSpec is a 4-dimensional collection with the given layout.
func collectionSpec(shards, replicas uint32) qdrant.CreateCollection {
	return qdrant.CreateCollection{
		Vectors:           json.RawMessage(`{"size":4,"distance":"Dot"}`),
		ShardNumber:       u32(shards),
		ReplicationFactor: u32(replicas),
	}
}

// vector is point i's vector. Quarters are exact in float32 and float64, so a
// vector reads back equal whatever precision the server keeps.
func vector(i int) []float64 {
	return []float64{float64(i%512) / 4, float64(i%7) / 4, 1, -float64(i%3) / 4}
}

// payload is point i's payload, typed as encoding/json decodes it.
func payload(i int) map[string]any {
	return map[string]any{
		"n":        float64(i),
		"category": []string{"books", "music", "garden"}[i%3],
		"even":     i%2 == 0,
		"meta":     map[string]any{"title": fmt.Sprintf("item %d", i)},
	}
}

// points returns points from..to inclusive.
func points(tb testing.TB, from, to int) []qdrant.Point {
	tb.Helper()
	out := make([]qdrant.Point, 0, to-from+1)
	for i := from; i <= to; i++ {
		v, err := json.Marshal(vector(i))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, qdrant.Point{ID: qdrant.NumericPointID(uint64(i)), Vector: v, Payload: payload(i)})
	}
	return out
}

// upsert writes points from..to in batches, waiting for each.
func upsert(tb testing.TB, ctx context.Context, c *qdrant.Client, collection string, from, to int) {
	tb.Helper()
	const batch = 1000
	for lo := from; lo <= to; lo += batch {
		if err := c.Upsert(ctx, collection, points(tb, lo, min(lo+batch-1, to)), true); err != nil {
			tb.Fatalf("cannot upsert points %d..%d: %v", lo, min(lo+batch-1, to), err)
		}
	}
}

// stored is a point as compared by the tests: the vector decoded, since its
// JSON spelling is the server's business.
type stored struct {
	ID      uint64
	Payload map[string]any
	Vector  []float64
}

func want(i int) stored { return stored{ID: uint64(i), Payload: payload(i), Vector: vector(i)} }

func fromRecord(t *testing.T, r qdrant.Record) stored {
	t.Helper()
	id, ok := r.ID.Num()
	if !ok {
		t.Fatalf("point %s: want a numeric id", r.ID)
	}
	s := stored{ID: id, Payload: r.Payload}
	if len(r.Vector) > 0 {
		if err := json.Unmarshal(r.Vector, &s.Vector); err != nil {
			t.Fatalf("point %d: cannot decode vector %s: %v", id, r.Vector, err)
		}
	}
	return s
}

func fromRecords(t *testing.T, recs []qdrant.Record) []stored {
	t.Helper()
	out := make([]stored, 0, len(recs))
	for _, r := range recs {
		out = append(out, fromRecord(t, r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func count(t *testing.T, ctx context.Context, c *qdrant.Client, collection string) uint64 {
	t.Helper()
	n, err := c.Count(ctx, collection, true)
	if err != nil {
		t.Fatalf("cannot count %q: %v", collection, err)
	}
	return n
}

// readAll reads a download to its end while hashing it, and closes it.
func readAll(t *testing.T, d *qdrant.Download) ([]byte, string) {
	t.Helper()
	defer d.Body.Close() //nolint:errcheck // read-only body
	h := sha256.New()
	var buf bytes.Buffer
	if _, err := io.Copy(io.MultiWriter(&buf, h), d.Body); err != nil {
		t.Fatalf("cannot read snapshot %q: %v", d.Filename, err)
	}
	return buf.Bytes(), hex.EncodeToString(h.Sum(nil))
}

func snapshotNames(list []qdrant.SnapshotDescription) []string {
	out := make([]string, 0, len(list))
	for _, d := range list {
		out = append(out, d.Name)
	}
	return out
}

// placement maps every shard id of a collection to the peers holding a
// replica of it in the wanted state, as the answering node sees them. A nil
// state accepts any.
func placement(t *testing.T, ctx context.Context, c *qdrant.Client, collection string, state *qdrant.ReplicaState) map[uint32][]uint64 {
	t.Helper()
	info, err := c.CollectionCluster(ctx, collection)
	if err != nil {
		t.Fatalf("cannot get the placement of %q: %v", collection, err)
	}
	out := map[uint32][]uint64{}
	add := func(shard uint32, peer uint64, st qdrant.ReplicaState) {
		if state == nil || st == *state {
			out[shard] = append(out[shard], peer)
		}
	}
	for _, s := range info.LocalShards {
		add(s.ShardID, info.PeerID, s.State)
	}
	for _, s := range info.RemoteShards {
		add(s.ShardID, s.PeerID, s.State)
	}
	for _, peers := range out {
		slices.Sort(peers)
	}
	return out
}

// peerClients maps peer ids to clients of their REST API. GET /cluster lists
// peers by their p2p URIs, which are not REST addresses, so each node is
// asked for its own id instead.
func peerClients(t *testing.T, ctx context.Context, cs []*qdrant.Client) map[uint64]*qdrant.Client {
	t.Helper()
	out := map[uint64]*qdrant.Client{}
	for _, c := range cs {
		info, err := c.Cluster(ctx)
		if err != nil {
			t.Fatalf("cannot get cluster info of %s: %v", c.BaseURL(), err)
		}
		if info.Status != qdrant.ClusterStatusEnabled || len(info.Peers) != len(cs) {
			t.Fatalf("%s: want an enabled cluster of %d peers, got %+v", c.BaseURL(), len(cs), info)
		}
		out[info.PeerID] = c
	}
	if len(out) != len(cs) {
		t.Fatalf("want %d distinct peer ids, got %v", len(cs), out)
	}
	return out
}

// waitAllActive polls until every replica of the collection is Active: a
// restore is not done while replicas still re-sync.
func waitAllActive(t *testing.T, ctx context.Context, c *qdrant.Client, collection string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.CollectionCluster(ctx, collection)
		if err != nil {
			t.Fatalf("cannot get the placement of %q: %v", collection, err)
		}
		var notActive []string
		for _, s := range info.LocalShards {
			if s.State != qdrant.ReplicaStateActive {
				notActive = append(notActive, fmt.Sprintf("shard %d on %d: %s", s.ShardID, info.PeerID, s.State))
			}
		}
		for _, s := range info.RemoteShards {
			if s.State != qdrant.ReplicaStateActive {
				notActive = append(notActive, fmt.Sprintf("shard %d on %d: %s", s.ShardID, s.PeerID, s.State))
			}
		}
		if len(notActive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas of %q never became Active: %v", collection, notActive)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exercised records the client methods the contract test called, so that a
// method added to the client without a contract check fails the test.
type exercised map[string]bool

func (e exercised) mark(methods ...string) {
	for _, m := range methods {
		e[m] = true
	}
}

// missing lists the exported methods of *qdrant.Client not marked.
func (e exercised) missing() []string {
	var out []string
	ct := reflect.TypeFor[*qdrant.Client]()
	for i := range ct.NumMethod() {
		if name := ct.Method(i).Name; !e[name] {
			out = append(out, name)
		}
	}
	return out
}

// contractOperations are the Qdrant operations the client uses, by OpenAPI
// operation id: the contract test must see each one answered with a 2xx.
var contractOperations = []string{
	"cluster_status", "collection_cluster_info", "collection_exists", "count_points",
	"create_collection", "create_field_index", "create_shard_key", "create_shard_snapshot",
	"create_snapshot", "delete_collection", "delete_shard_snapshot", "delete_snapshot",
	"get_collection", "get_collection_aliases", "get_collections", "get_collections_aliases",
	"get_point", "get_points", "get_shard_snapshot", "get_snapshot", "healthz",
	"list_shard_snapshots", "list_snapshots", "readyz", "recover_from_snapshot",
	"recover_from_uploaded_snapshot", "recover_shard_from_snapshot",
	"recover_shard_from_uploaded_snapshot", "root", "scroll_points", "stream_shard_snapshot",
	"update_aliases", "upsert_points",
}

// succeeded returns the operation ids the checker saw answered with a 2xx,
// from its "operation status xN" lines.
func succeeded(t *testing.T, ops []string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, line := range ops {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("cannot parse checker operation %q", line)
		}
		if status, err := strconv.Atoi(f[1]); err == nil && status >= 200 && status <= 299 {
			out[f[0]] = true
		}
	}
	return out
}

func TestClientContractWithEmulator(t *testing.T) {
	chk := openapicheck.FromEnv(t)
	emu := startEmulator(t, qdrantemu.Options{Nodes: 3, Observe: chk.Observe})
	ctx := t.Context()
	cs := clients(t, emu)
	c := cs[0]
	nodes := emu.Nodes()
	used := exercised{}

	// Service endpoints.
	used.mark("BaseURL", "Version", "Healthz", "Readyz")
	if got := c.BaseURL(); got != nodes[0].URL() {
		t.Errorf("BaseURL(): want %q, got %q", nodes[0].URL(), got)
	}
	v, err := c.Version(ctx)
	if err != nil || v.Version != "1.19.0" {
		t.Errorf("Version(): want version 1.19.0, got %+v, %v", v, err)
	}
	if err := c.Healthz(ctx); err != nil {
		t.Errorf("Healthz(): %v", err)
	}
	if err := c.Readyz(ctx); err != nil {
		t.Errorf("Readyz(): %v", err)
	}

	// Cluster: every node answers for itself and knows all peers.
	used.mark("Cluster")
	for i, cl := range cs {
		info, err := cl.Cluster(ctx)
		if err != nil {
			t.Fatalf("Cluster() on node %d: %v", i, err)
		}
		type view struct {
			Status string
			PeerID uint64
			Peers  int
		}
		got := view{info.Status, info.PeerID, len(info.Peers)}
		if diff := cmp.Diff(view{qdrant.ClusterStatusEnabled, nodes[i].ID, 3}, got); diff != "" {
			t.Errorf("Cluster() on node %d: -want, +got:\n%s", i, diff)
		}
	}

	// Collections.
	used.mark("ListCollections", "CreateCollection", "Collection", "CollectionExists", "CollectionCluster")
	if got, err := c.ListCollections(ctx); err != nil || len(got) != 0 {
		t.Fatalf("ListCollections() on an empty cluster: want none, got %v, %v", got, err)
	}
	// Three replicas on three nodes: every node holds every shard, so one
	// node's collection snapshot is complete.
	const col = "contract"
	if err := c.CreateCollection(ctx, col, collectionSpec(3, 3)); err != nil {
		t.Fatalf("CreateCollection(): %v", err)
	}
	if err := c.CreateCollection(ctx, col, collectionSpec(3, 3)); !qdrant.IsConflict(err) {
		t.Errorf("CreateCollection() of an existing collection: want a *ConflictError, got %v", err)
	}
	if ok, err := cs[1].CollectionExists(ctx, col); err != nil || !ok {
		t.Errorf("CollectionExists(%q): want true, got %v, %v", col, ok, err)
	}
	if ok, err := c.CollectionExists(ctx, "nope"); err != nil || ok {
		t.Errorf("CollectionExists(nope): want false, got %v, %v", ok, err)
	}
	if _, err := c.Collection(ctx, "nope"); !qdrant.IsNotFound(err) {
		t.Errorf("Collection(nope): want a *NotFoundError, got %v", err)
	}
	cl, err := cs[1].CollectionCluster(ctx, col)
	if err != nil {
		t.Fatalf("CollectionCluster(): %v", err)
	}
	if cl.PeerID != nodes[1].ID || cl.ShardCount != 3 || len(cl.LocalShards) != 3 || len(cl.RemoteShards) != 6 {
		t.Errorf("CollectionCluster() on node 1: want peer %d with 3 shards, 3 local and 6 remote replicas, got %+v", nodes[1].ID, cl)
	}

	// Custom sharding: shard keys create shards, which carry their key.
	used.mark("CreateShardKey")
	custom := collectionSpec(1, 1)
	custom.ShardingMethod = qdrant.ShardingMethodCustom
	if err := c.CreateCollection(ctx, "custom", custom); err != nil {
		t.Fatalf("CreateCollection(custom): %v", err)
	}
	if err := c.CreateShardKey(ctx, "custom", qdrant.StringShardKey("eu"), nil, nil); err != nil {
		t.Fatalf("CreateShardKey(eu): %v", err)
	}
	if err := c.CreateShardKey(ctx, "custom", qdrant.NumericShardKey(7), u32(2), u32(1)); err != nil {
		t.Fatalf("CreateShardKey(7): %v", err)
	}
	if err := c.CreateShardKey(ctx, "custom", qdrant.StringShardKey("eu"), nil, nil); !qdrant.IsBadRequest(err) {
		t.Errorf("CreateShardKey() of an existing key: want a *BadRequestError, got %v", err)
	}
	cl, err = c.CollectionCluster(ctx, "custom")
	if err != nil {
		t.Fatalf("CollectionCluster(custom): %v", err)
	}
	byKey := map[string][]uint32{}
	for _, s := range cl.LocalShards {
		byKey[fmt.Sprint(s.ShardKey)] = append(byKey[fmt.Sprint(s.ShardKey)], s.ShardID)
	}
	for _, s := range cl.RemoteShards {
		byKey[fmt.Sprint(s.ShardKey)] = append(byKey[fmt.Sprint(s.ShardKey)], s.ShardID)
	}
	for _, ids := range byKey {
		slices.Sort(ids)
	}
	if diff := cmp.Diff(map[string][]uint32{"eu": {0}, "7": {1, 2}}, byKey); diff != "" {
		t.Errorf("shards by key of a custom-sharded collection: -want, +got:\n%s", diff)
	}
	if info, err := c.Collection(ctx, "custom"); err != nil || info.Config.Params.ShardingMethod != qdrant.ShardingMethodCustom {
		t.Errorf("Collection(custom): want sharding method custom, got %+v, %v", info.Config.Params, err)
	}

	// Points.
	used.mark("CreatePayloadIndex", "Upsert", "Count", "Retrieve", "Point", "Scroll")
	if err := c.CreatePayloadIndex(ctx, col, "category", json.RawMessage(`"keyword"`), true); err != nil {
		t.Fatalf("CreatePayloadIndex(): %v", err)
	}
	upsert(t, ctx, c, col, 1, 25)
	if got := count(t, ctx, cs[2], col); got != 25 {
		t.Errorf("Count(): want 25, got %d", got)
	}
	info, err := c.Collection(ctx, col)
	if err != nil {
		t.Fatalf("Collection(): %v", err)
	}
	type summary struct {
		Points        uint64
		Shards, RF    uint32
		CategoryIndex string
		HasRawConfig  bool
	}
	gotInfo := summary{orZero(info.PointsCount), info.Config.Params.ShardNumber, info.Config.Params.ReplicationFactor,
		info.PayloadSchema["category"].DataType, len(info.RawConfig) > 0}
	if diff := cmp.Diff(summary{25, 3, 3, "keyword", true}, gotInfo); diff != "" {
		t.Errorf("Collection(): -want, +got:\n%s", diff)
	}
	recs, err := cs[1].Retrieve(ctx, col, []qdrant.PointID{qdrant.NumericPointID(17), qdrant.NumericPointID(3), qdrant.NumericPointID(999)}, true, true)
	if err != nil {
		t.Fatalf("Retrieve(): %v", err)
	}
	if diff := cmp.Diff([]stored{want(3), want(17)}, fromRecords(t, recs)); diff != "" {
		t.Errorf("Retrieve() of 3, 17 and a missing id: -want, +got:\n%s", diff)
	}
	rec, err := c.Point(ctx, col, qdrant.NumericPointID(5))
	if err != nil {
		t.Fatalf("Point(5): %v", err)
	}
	if diff := cmp.Diff(want(5), fromRecord(t, rec)); diff != "" {
		t.Errorf("Point(5): -want, +got:\n%s", diff)
	}
	if _, err := c.Point(ctx, col, qdrant.NumericPointID(999)); !qdrant.IsNotFound(err) {
		t.Errorf("Point() of a missing id: want a *NotFoundError, got %v", err)
	}
	var scrolled []uint64
	pages := 0
	for req := (qdrant.ScrollRequest{Limit: u32(10), WithPayload: true}); ; pages++ {
		page, err := c.Scroll(ctx, col, req)
		if err != nil {
			t.Fatalf("Scroll(): %v", err)
		}
		for _, p := range page.Points {
			s := fromRecord(t, p)
			if s.Vector != nil || s.Payload == nil {
				t.Fatalf("Scroll() with payload, without vector: got point %+v", s)
			}
			scrolled = append(scrolled, s.ID)
		}
		if page.NextPageOffset == nil {
			break
		}
		if pages > 5 {
			t.Fatal("Scroll() never reached the last page")
		}
		req.Offset = page.NextPageOffset
	}
	wantIDs := make([]uint64, 0, 25)
	for i := uint64(1); i <= 25; i++ {
		wantIDs = append(wantIDs, i)
	}
	if diff := cmp.Diff(wantIDs, scrolled); diff != "" || pages != 2 {
		t.Errorf("Scroll() by pages of 10: want 3 pages, got %d; ids -want, +got:\n%s", pages+1, diff)
	}

	// Aliases: create, rename, delete.
	used.mark("UpdateAliases", "Aliases", "CollectionAliases")
	aliasCases := []struct {
		reason  string
		actions []qdrant.AliasAction
		want    []qdrant.Alias
	}{
		{"Creating an alias points it at the collection.", []qdrant.AliasAction{qdrant.CreateAliasAction("latest", col)}, []qdrant.Alias{{AliasName: "latest", CollectionName: col}}},
		{"Renaming an alias keeps its collection.", []qdrant.AliasAction{qdrant.RenameAliasAction("latest", "current")}, []qdrant.Alias{{AliasName: "current", CollectionName: col}}},
		{"Deleting the alias leaves none.", []qdrant.AliasAction{qdrant.DeleteAliasAction("current")}, nil},
	}
	for _, tc := range aliasCases {
		if err := c.UpdateAliases(ctx, tc.actions); err != nil {
			t.Fatalf("%s\nUpdateAliases(): %v", tc.reason, err)
		}
		all, err := cs[2].Aliases(ctx)
		if err != nil {
			t.Fatalf("Aliases(): %v", err)
		}
		if diff := cmp.Diff(tc.want, all, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s\nAliases(): -want, +got:\n%s", tc.reason, diff)
		}
		mine, err := c.CollectionAliases(ctx, col)
		if err != nil {
			t.Fatalf("CollectionAliases(): %v", err)
		}
		if diff := cmp.Diff(tc.want, mine, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s\nCollectionAliases(): -want, +got:\n%s", tc.reason, diff)
		}
		for _, a := range tc.want {
			if got := count(t, ctx, c, a.AliasName); got != 25 {
				t.Errorf("%s\nCount() through alias %q: want 25, got %d", tc.reason, a.AliasName, got)
			}
		}
	}
	if err := c.UpdateAliases(ctx, []qdrant.AliasAction{qdrant.DeleteAliasAction("current")}); !qdrant.IsNotFound(err) {
		t.Errorf("UpdateAliases() deleting a missing alias: want a *NotFoundError, got %v", err)
	}

	// Collection snapshots.
	used.mark("CreateSnapshot", "ListSnapshots", "DownloadSnapshot", "RecoverSnapshot", "UploadSnapshot", "DeleteSnapshot")
	desc, err := c.CreateSnapshot(ctx, col, true)
	if err != nil || desc == nil {
		t.Fatalf("CreateSnapshot(): want a description, got %+v, %v", desc, err)
	}
	if prefix := fmt.Sprintf("%s-%d-", col, nodes[0].ID); !strings.HasPrefix(desc.Name, prefix) || len(desc.Checksum) != 64 {
		t.Errorf("CreateSnapshot(): want a name starting %q and a sha256, got %+v", prefix, desc)
	}
	list, err := c.ListSnapshots(ctx, col)
	if err != nil {
		t.Fatalf("ListSnapshots(): %v", err)
	}
	if diff := cmp.Diff([]qdrant.SnapshotDescription{*desc}, list); diff != "" {
		t.Errorf("ListSnapshots(): -want, +got:\n%s", diff)
	}
	d, err := c.DownloadSnapshot(ctx, col, desc.Name)
	if err != nil {
		t.Fatalf("DownloadSnapshot(): %v", err)
	}
	if d.Filename != desc.Name || d.Size != desc.Size {
		t.Errorf("DownloadSnapshot(): want file %q of %d bytes, got %q of %d", desc.Name, desc.Size, d.Filename, d.Size)
	}
	colSnap, sum := readAll(t, d)
	if sum != desc.Checksum || int64(len(colSnap)) != desc.Size {
		t.Errorf("DownloadSnapshot(): want %d bytes hashing to %s, got %d hashing to %s", desc.Size, desc.Checksum, len(colSnap), sum)
	}
	fromFile := qdrant.SnapshotRecover{
		Location: "file://" + filepath.Join(nodes[0].SnapshotsDir(), col, desc.Name),
		Priority: qdrant.PrioritySnapshot,
		Checksum: desc.Checksum,
	}
	if err := c.RecoverSnapshot(ctx, "from-file", fromFile, true); err != nil {
		t.Fatalf("RecoverSnapshot() from a file:// location: %v", err)
	}
	if got := count(t, ctx, c, "from-file"); got != 25 {
		t.Errorf("Count() after RecoverSnapshot() into a new collection: want 25, got %d", got)
	}
	up := qdrant.UploadOptions{Priority: qdrant.PrioritySnapshot, Checksum: desc.Checksum, Wait: true}
	if err := c.UploadSnapshot(ctx, "from-upload", bytes.NewReader(colSnap), "contract-upload.snapshot", up); err != nil {
		t.Fatalf("UploadSnapshot(): %v", err)
	}
	if got := count(t, ctx, c, "from-upload"); got != 25 {
		t.Errorf("Count() after UploadSnapshot() into a new collection: want 25, got %d", got)
	}
	badSum := up
	badSum.Checksum = strings.Repeat("0", 64)
	if err := c.UploadSnapshot(ctx, "from-upload", bytes.NewReader(colSnap), "bad.snapshot", badSum); !qdrant.IsBadRequest(err) {
		t.Errorf("UploadSnapshot() with a wrong checksum: want a *BadRequestError, got %v", err)
	}
	if err := c.DeleteSnapshot(ctx, col, desc.Name, true); err != nil {
		t.Fatalf("DeleteSnapshot(): %v", err)
	}
	if list, err := c.ListSnapshots(ctx, col); err != nil || slices.Contains(snapshotNames(list), desc.Name) {
		t.Errorf("ListSnapshots() after DeleteSnapshot(): want %q gone, got %v, %v", desc.Name, snapshotNames(list), err)
	}
	if err := c.DeleteSnapshot(ctx, col, desc.Name, true); !qdrant.IsNotFound(err) {
		t.Errorf("DeleteSnapshot() of a deleted snapshot: want a *NotFoundError, got %v", err)
	}

	// Shard snapshots of shard 0, which every node holds.
	used.mark("CreateShardSnapshot", "ListShardSnapshots", "DownloadShardSnapshot", "RecoverShardSnapshot",
		"UploadShardSnapshot", "StreamShardSnapshot", "DeleteShardSnapshot")
	shard0 := func(cl *qdrant.Client) uint64 {
		t.Helper()
		info, err := cl.CollectionCluster(ctx, col)
		if err != nil {
			t.Fatalf("CollectionCluster(): %v", err)
		}
		for _, s := range info.LocalShards {
			if s.ShardID == 0 {
				return s.PointsCount
			}
		}
		t.Fatalf("%s holds no replica of shard 0: %+v", cl.BaseURL(), info)
		return 0
	}
	inShard0 := shard0(c)
	sd, err := c.CreateShardSnapshot(ctx, col, 0, true)
	if err != nil || sd == nil {
		t.Fatalf("CreateShardSnapshot(): want a description, got %+v, %v", sd, err)
	}
	if !strings.HasPrefix(sd.Name, col+"-shard-0-") || len(sd.Checksum) != 64 {
		t.Errorf("CreateShardSnapshot(): want a name starting %q and a sha256, got %+v", col+"-shard-0-", sd)
	}
	slist, err := c.ListShardSnapshots(ctx, col, 0)
	if err != nil {
		t.Fatalf("ListShardSnapshots(): %v", err)
	}
	if diff := cmp.Diff([]qdrant.SnapshotDescription{*sd}, slist); diff != "" {
		t.Errorf("ListShardSnapshots(): -want, +got:\n%s", diff)
	}
	d, err = c.DownloadShardSnapshot(ctx, col, 0, sd.Name)
	if err != nil {
		t.Fatalf("DownloadShardSnapshot(): %v", err)
	}
	shardSnap, sum := readAll(t, d)
	if sum != sd.Checksum || d.Filename != sd.Name {
		t.Errorf("DownloadShardSnapshot(): want %q hashing to %s, got %q hashing to %s", sd.Name, sd.Checksum, d.Filename, sum)
	}
	// Points written after the snapshot must vanish from shard 0 when it is
	// recovered; enough of them that some land in shard 0.
	upsert(t, ctx, c, col, 26, 60)
	if grown := shard0(c); grown == inShard0 {
		t.Fatalf("no point of 26..60 landed in shard 0 (%d points): the recoveries below would prove nothing", grown)
	}
	rec0 := qdrant.ShardSnapshotRecover{Location: sd.Name, Priority: qdrant.PrioritySnapshot, Checksum: sd.Checksum}
	if err := c.RecoverShardSnapshot(ctx, col, 0, rec0, true); err != nil {
		t.Fatalf("RecoverShardSnapshot() from a bare name: %v", err)
	}
	if got := shard0(c); got != inShard0 {
		t.Errorf("shard 0 after RecoverShardSnapshot(): want %d points, got %d", inShard0, got)
	}
	upsert(t, ctx, c, col, 26, 60)
	opts := qdrant.UploadOptions{Priority: qdrant.PrioritySnapshot, Checksum: sd.Checksum, Wait: true}
	if err := cs[1].UploadShardSnapshot(ctx, col, 0, bytes.NewReader(shardSnap), "contract-shard-0-upload.snapshot", opts); err != nil {
		t.Fatalf("UploadShardSnapshot(): %v", err)
	}
	if got := shard0(cs[1]); got != inShard0 {
		t.Errorf("shard 0 after UploadShardSnapshot(): want %d points, got %d", inShard0, got)
	}
	// A streamed snapshot holds the shard as it is now, and restores
	// elsewhere.
	upsert(t, ctx, c, col, 26, 60)
	inShard0 = shard0(c)
	st, err := cs[2].StreamShardSnapshot(ctx, col, 0)
	if err != nil {
		t.Fatalf("StreamShardSnapshot(): %v", err)
	}
	if st.Size != -1 || !strings.HasPrefix(st.Filename, col+"-shard-0-") {
		t.Errorf("StreamShardSnapshot(): want an unsized stream named %q…, got %q of %d bytes", col+"-shard-0-", st.Filename, st.Size)
	}
	streamed, _ := readAll(t, st)
	// A restore creates the collection from its recorded body, as it is.
	used.mark("CreateCollectionRaw")
	raw, err := json.Marshal(collectionSpec(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateCollectionRaw(ctx, "streamed", raw); err != nil {
		t.Fatalf("CreateCollectionRaw(streamed): %v", err)
	}
	if err := c.CreateCollectionRaw(ctx, "streamed", raw); !qdrant.IsConflict(err) {
		t.Errorf("CreateCollectionRaw() of an existing collection: want a *ConflictError, got %v", err)
	}
	if err := c.UploadShardSnapshot(ctx, "streamed", 0, bytes.NewReader(streamed), st.Filename, qdrant.UploadOptions{Priority: qdrant.PrioritySnapshot, Wait: true}); err != nil {
		t.Fatalf("UploadShardSnapshot() of a streamed snapshot: %v", err)
	}
	if got := count(t, ctx, c, "streamed"); got != inShard0 {
		t.Errorf("Count() after restoring the streamed shard 0: want %d, got %d", inShard0, got)
	}
	if err := c.DeleteShardSnapshot(ctx, col, 0, sd.Name, true); err != nil {
		t.Fatalf("DeleteShardSnapshot(): %v", err)
	}
	if list, err := c.ListShardSnapshots(ctx, col, 0); err != nil || slices.Contains(snapshotNames(list), sd.Name) {
		t.Errorf("ListShardSnapshots() after DeleteShardSnapshot(): want %q gone, got %v, %v", sd.Name, snapshotNames(list), err)
	}
	if _, err := c.DownloadShardSnapshot(ctx, col, 0, sd.Name); !qdrant.IsNotFound(err) {
		t.Errorf("DownloadShardSnapshot() of a deleted snapshot: want a *NotFoundError, got %v", err)
	}

	// Deleting collections.
	used.mark("DeleteCollection")
	if existed, err := c.DeleteCollection(ctx, "from-upload"); err != nil || !existed {
		t.Errorf("DeleteCollection(): want existed, got %v, %v", existed, err)
	}
	if existed, err := c.DeleteCollection(ctx, "from-upload"); err != nil || existed {
		t.Errorf("DeleteCollection() of a deleted collection: want not existed, got %v, %v", existed, err)
	}
	names, err := cs[2].ListCollections(ctx)
	if err != nil {
		t.Fatalf("ListCollections(): %v", err)
	}
	if diff := cmp.Diff([]string{col, "custom", "from-file", "streamed"}, names); diff != "" {
		t.Errorf("ListCollections(): -want, +got:\n%s", diff)
	}

	if diff := cmp.Diff([]string(nil), used.missing()); diff != "" {
		t.Errorf("client methods this test never calls: -want, +got:\n%s", diff)
	}
	chk.Verify(t)
	seen := succeeded(t, chk.Operations())
	var unseen []string
	for _, op := range contractOperations {
		if !seen[op] {
			unseen = append(unseen, op)
		}
	}
	if diff := cmp.Diff([]string(nil), unseen); diff != "" {
		t.Errorf("operations the OpenAPI checker never saw succeed: -want, +got:\n%s\nseen: %v", diff, chk.Operations())
	}
}

// orZero reads an optional count.
func orZero(n *uint64) uint64 {
	if n == nil {
		return 0
	}
	return *n
}

// snapshotServer serves files from dir as an object store serves presigned
// URLs: only with the signature in the query. It counts fetches per file.
type snapshotServer struct {
	*httptest.Server
	mu      sync.Mutex
	fetches map[string]int
}

const presignQuery = "X-Amz-Signature=0123456789abcdef&X-Amz-Expires=3600"

func serveSnapshots(t *testing.T, dir string) *snapshotServer {
	t.Helper()
	s := &snapshotServer{fetches: map[string]int{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("X-Amz-Signature") == "" {
			http.Error(w, "missing signature", http.StatusForbidden)
			return
		}
		name := path.Base(r.URL.Path)
		s.mu.Lock()
		s.fetches[name]++
		s.mu.Unlock()
		http.ServeFile(w, r, filepath.Join(dir, name))
	}))
	// Loopback only: the emulator fetches from here like Qdrant from S3.
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cannot listen: %v", err)
	}
	_ = s.Listener.Close()
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *snapshotServer) url(name string) string { return s.URL + "/" + name + "?" + presignQuery }

// savedShard is one shard snapshot streamed to local disk.
type savedShard struct {
	File     string
	Checksum string
	Size     int64
}

// streamToFile streams a shard snapshot from c into dir, hashing it on the
// way, as a backup streams it to S3: never holding it in memory.
func streamToFile(t *testing.T, ctx context.Context, c *qdrant.Client, collection string, shard uint32, dir string) savedShard {
	t.Helper()
	d, err := c.StreamShardSnapshot(ctx, collection, shard)
	if err != nil {
		t.Fatalf("cannot stream shard %d from %s: %v", shard, c.BaseURL(), err)
	}
	defer d.Body.Close() //nolint:errcheck // read-only body
	name := fmt.Sprintf("shard-%d-%s", shard, d.Filename)
	f, err := os.Create(filepath.Join(dir, name)) //nolint:gosec // The test's own temporary folder.
	if err != nil {
		t.Fatalf("cannot create the backup file: %v", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), d.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("cannot save shard %d: %v", shard, err)
	}
	return savedShard{File: name, Checksum: hex.EncodeToString(h.Sum(nil)), Size: n}
}

func TestShardSnapshotRoundTrip(t *testing.T) {
	const (
		col    = "docs"
		shards = 6
		total  = 10_000
	)
	opts := qdrantemu.Options{Nodes: 3}
	maybeCheckContract(t, &opts)
	emu := startEmulator(t, opts)
	ctx := t.Context()
	cs := clients(t, emu)
	peers := peerClients(t, ctx, cs)

	if err := cs[0].CreateCollection(ctx, col, collectionSpec(shards, 2)); err != nil {
		t.Fatalf("cannot create %q: %v", col, err)
	}
	upsert(t, ctx, cs[1], col, 1, total)
	if got := count(t, ctx, cs[2], col); got != total {
		t.Fatalf("count before the backup: want %d, got %d", total, got)
	}

	// Back up: one shard snapshot per shard id, streamed from a peer that
	// holds an Active replica of it.
	active := qdrant.ReplicaStateActive
	holders := placement(t, ctx, cs[0], col, &active)
	if len(holders) != shards {
		t.Fatalf("want Active replicas of %d shards, got %v", shards, holders)
	}
	dir := t.TempDir()
	saved := map[uint32]savedShard{}
	for id := range uint32(shards) {
		if len(holders[id]) == 0 {
			t.Fatalf("shard %d has no Active replica: %v", id, holders)
		}
		saved[id] = streamToFile(t, ctx, peers[holders[id][0]], col, id, dir)
	}

	// Restore into a fresh collection of the same configuration.
	if existed, err := cs[0].DeleteCollection(ctx, col); err != nil || !existed {
		t.Fatalf("cannot drop %q: existed %v, %v", col, existed, err)
	}
	if err := cs[0].CreateCollection(ctx, col, collectionSpec(shards, 2)); err != nil {
		t.Fatalf("cannot recreate %q: %v", col, err)
	}
	if got := count(t, ctx, cs[0], col); got != 0 {
		t.Fatalf("count of the recreated collection: want 0, got %d", got)
	}
	srv := serveSnapshots(t, dir)
	targets := placement(t, ctx, cs[1], col, nil)
	for id := range uint32(shards) {
		if len(targets[id]) == 0 {
			t.Fatalf("shard %d has no replica after recreation: %v", id, targets)
		}
		// The last holder, not the first: the restore must not depend on
		// reaching the peer the backup came from.
		target := peers[targets[id][len(targets[id])-1]]
		rec := qdrant.ShardSnapshotRecover{Location: srv.url(saved[id].File), Priority: qdrant.PrioritySnapshot, Checksum: saved[id].Checksum}
		if err := target.RecoverShardSnapshot(ctx, col, id, rec, true); err != nil {
			t.Fatalf("cannot recover shard %d on %s: %v", id, target.BaseURL(), err)
		}
	}
	waitAllActive(t, ctx, cs[0], col)

	wantFetches := map[string]int{}
	for _, s := range saved {
		wantFetches[s.File] = 1
	}
	srv.mu.Lock()
	if diff := cmp.Diff(wantFetches, srv.fetches); diff != "" {
		t.Errorf("snapshot fetches from the object store: -want, +got:\n%s", diff)
	}
	srv.mu.Unlock()
	for i, c := range cs {
		if got := count(t, ctx, c, col); got != total {
			t.Errorf("count through node %d after the restore: want %d, got %d", i, total, got)
		}
	}
	ids := make([]qdrant.PointID, 0, 100)
	wantPoints := make([]stored, 0, 100)
	for i := 1; i <= total; i += total / 100 {
		ids = append(ids, qdrant.NumericPointID(uint64(i)))
		wantPoints = append(wantPoints, want(i))
	}
	recs, err := cs[2].Retrieve(ctx, col, ids, true, true)
	if err != nil {
		t.Fatalf("cannot retrieve the sample: %v", err)
	}
	if diff := cmp.Diff(wantPoints, fromRecords(t, recs)); diff != "" {
		t.Errorf("sample of 100 restored points: -want, +got:\n%s", diff)
	}
}

func TestCorruptedDownloadIsCaught(t *testing.T) {
	const col = "c"
	cases := map[string]struct {
		reason string
		// corrupt turns on the emulator's byte flip in every snapshot body.
		corrupt     bool
		wantIntact  bool
		wantErr     bool
		wantCountOf uint64
	}{
		"Corrupted": {
			reason:      "A flipped byte changes the sha256 of the download, and Qdrant refuses to recover from it, leaving the collection as it was.",
			corrupt:     true,
			wantIntact:  false,
			wantErr:     true,
			wantCountOf: 60,
		},
		"Intact": {
			reason:      "Without corruption the same download matches its checksum and the same recovery replaces the shard with the snapshot's 50 points.",
			corrupt:     false,
			wantIntact:  true,
			wantErr:     false,
			wantCountOf: 50,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			opts := qdrantemu.Options{Nodes: 1}
			maybeCheckContract(t, &opts)
			emu := startEmulator(t, opts)
			ctx := t.Context()
			c := newClient(t, emu.URLs()[0])
			if err := c.CreateCollection(ctx, col, collectionSpec(1, 1)); err != nil {
				t.Fatalf("cannot create %q: %v", col, err)
			}
			upsert(t, ctx, c, col, 1, 50)
			emu.CorruptDownloads(tc.corrupt)

			desc, err := c.CreateShardSnapshot(ctx, col, 0, true)
			if err != nil || desc == nil {
				t.Fatalf("cannot create a shard snapshot: %+v, %v", desc, err)
			}
			d, err := c.DownloadShardSnapshot(ctx, col, 0, desc.Name)
			if err != nil {
				t.Fatalf("cannot download the shard snapshot: %v", err)
			}
			body, sum := readAll(t, d)
			if int64(len(body)) != desc.Size {
				t.Errorf("%s\ndownload size: want %d, got %d", tc.reason, desc.Size, len(body))
			}
			if got := sum == desc.Checksum; got != tc.wantIntact {
				t.Errorf("%s\nsha256 of the download matches the description's checksum: want %v, got %v (%s vs %s)", tc.reason, tc.wantIntact, got, sum, desc.Checksum)
			}

			// Points written after the snapshot: a recovery that went
			// through would drop them.
			upsert(t, ctx, c, col, 51, 60)
			rec := qdrant.ShardSnapshotRecover{
				Location: emu.URLs()[0] + "/collections/" + col + "/shards/0/snapshots/" + desc.Name,
				Priority: qdrant.PrioritySnapshot,
				Checksum: desc.Checksum,
			}
			err = c.RecoverShardSnapshot(ctx, col, 0, rec, true)
			var bad *qdrant.BadRequestError
			switch {
			case !tc.wantErr && err != nil:
				t.Errorf("%s\nRecoverShardSnapshot(): want success, got %v", tc.reason, err)
			case tc.wantErr && !errors.As(err, &bad):
				t.Errorf("%s\nRecoverShardSnapshot(): want a *qdrant.BadRequestError, got %T %v", tc.reason, err, err)
			case tc.wantErr && !strings.Contains(strings.ToLower(bad.Message), "checksum mismatch"):
				t.Errorf("%s\nRecoverShardSnapshot(): want a message about a checksum mismatch, got %q", tc.reason, bad.Message)
			}
			if got := count(t, ctx, c, col); got != tc.wantCountOf {
				t.Errorf("%s\ncount after the recovery: want %d, got %d", tc.reason, tc.wantCountOf, got)
			}
		})
	}
}

func TestCollectionSnapshotHoldsOnlyItsNodesShards(t *testing.T) {
	// The pitfall backups must avoid (API.md 4.1): a collection snapshot
	// taken through one node, as a load-balanced Service would route it,
	// silently misses the shards other nodes hold.
	const (
		col   = "docs"
		total = 3000
	)
	opts := qdrantemu.Options{Nodes: 3}
	maybeCheckContract(t, &opts)
	emu := startEmulator(t, opts)
	ctx := t.Context()
	cs := clients(t, emu)
	if err := cs[0].CreateCollection(ctx, col, collectionSpec(6, 1)); err != nil {
		t.Fatalf("cannot create %q: %v", col, err)
	}
	upsert(t, ctx, cs[0], col, 1, total)

	// Every node's snapshot, and the points its local shards hold.
	locations := make([]string, len(cs))
	shares := make([]uint64, len(cs))
	for i, c := range cs {
		desc, err := c.CreateSnapshot(ctx, col, true)
		if err != nil || desc == nil {
			t.Fatalf("cannot snapshot %q on node %d: %+v, %v", col, i, desc, err)
		}
		locations[i] = "file://" + filepath.Join(emu.Nodes()[i].SnapshotsDir(), col, desc.Name)
		info, err := c.CollectionCluster(ctx, col)
		if err != nil {
			t.Fatalf("cannot get the placement of %q: %v", col, err)
		}
		for _, s := range info.LocalShards {
			shares[i] += s.PointsCount
		}
	}
	if shares[0] == 0 || shares[0] >= total {
		t.Fatalf("node 0 holds %d of %d points: want a strict share for this test to mean anything", shares[0], total)
	}

	const fresh = "docs-restored"
	recoverOn := func(i int) {
		t.Helper()
		rec := qdrant.SnapshotRecover{Location: locations[i], Priority: qdrant.PrioritySnapshot}
		if err := cs[i].RecoverSnapshot(ctx, fresh, rec, true); err != nil {
			t.Fatalf("cannot recover node %d's snapshot: %v", i, err)
		}
	}
	recoverOn(0)
	if got := count(t, ctx, cs[1], fresh); got >= total || got != shares[0] {
		t.Errorf("count after recovering node 0's snapshot alone: want node 0's %d of %d points, got %d", shares[0], total, got)
	}
	// One snapshot per node, each recovered on its node, restores everything.
	recoverOn(1)
	recoverOn(2)
	if got := count(t, ctx, cs[1], fresh); got != total {
		t.Errorf("count after recovering every node's snapshot: want %d, got %d", total, got)
	}
}
