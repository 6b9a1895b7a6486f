package backup_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backup"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

// A stream that goes wrong, as a dying node, a dropped proxy or a bad peer
// makes it go wrong, never becomes a backup: the try fails, the next try
// stores the real snapshot, and what is stored matches its manifest. When
// every try goes wrong the backup fails and leaves nothing that looks whole.
func TestBrokenStreamsNeverBecomeBackups(t *testing.T) {
	for _, tc := range []struct {
		fault qdrantemu.StreamFault
		after int64
	}{
		{qdrantemu.CutMidChunk, 1000},              // within the first part: a single PUT
		{qdrantemu.CutMidChunk, 6<<20 + 17},        // mid-way through a multipart upload
		{qdrantemu.CutAtChunkBoundary, 5 << 20},    // exactly on a part boundary
		{qdrantemu.CutAtChunkBoundary, 10<<20 + 1}, // after two whole parts
		{qdrantemu.NoEndOfArchive, 0},
		{qdrantemu.EmptyBody, 0},
		{qdrantemu.NotTar, 0},
	} {
		name := fmt.Sprintf("%s/After%d", tc.fault, tc.after)
		t.Run(name, func(t *testing.T) {
			f := setup(t, nil)
			f.emu.SetSnapshotPadding("reviews", 12<<20)
			f.emu.InjectStreamFault(qdrantemu.StreamFaultSpec{Fault: tc.fault, Node: -1, Collection: "reviews", Shard: 0, After: tc.after, Times: 1})
			var retried string
			req := request("once", "reviews")
			req.Report = func(s backup.Status) {
				if s.Retrying != "" {
					retried = s.Retrying
				}
			}
			m, err := backup.Run(context.Background(), f.qc, f.store, req)
			if err != nil {
				t.Fatalf("a fault on the first try only: %v", err)
			}
			if retried == "" {
				t.Error("the broken try was not reported as retried")
			}
			sh := m.Collections[0].Shards[0]
			objs := f.objects(t, "prod/team-a/search/once/")
			if objs["prod/team-a/search/once/"+sh.Object] != sh.SHA256 || sh.SizeBytes < 12<<20 {
				t.Errorf("stored shard does not match its manifest entry %+v", sh)
			}

			// Every try broken: Failed, no manifest, no object, no upload.
			f.emu.InjectStreamFault(qdrantemu.StreamFaultSpec{Fault: tc.fault, Node: -1, Collection: "reviews", Shard: 0, After: tc.after})
			req = request("always", "reviews")
			req.Attempts = 2
			_, err = backup.Run(context.Background(), f.qc, f.store, req)
			var be *backup.Error
			if !errors.As(err, &be) || be.Reason != backup.ReasonShardFailed {
				t.Fatalf("want ShardFailed, got %v", err)
			}
			for _, k := range []string{"prod/team-a/search/always/manifest.json", "prod/team-a/search/always/" + manifest.ShardObject("reviews", 0)} {
				if _, err := f.store.Head(context.Background(), k); !s3store.IsNotFound(err) {
					t.Errorf("%s exists after every try broke: %v", k, err)
				}
			}
			if n := f.incompleteUploads(t); n != 0 {
				t.Errorf("%d incomplete multipart uploads left", n)
			}
		})
	}
}

// An empty snapshot from one holder of a shard is retried from another.
func TestEmptySnapshotIsTakenFromAnotherHolder(t *testing.T) {
	f := setup(t, nil)
	first, err := backup.Run(context.Background(), f.qc, f.store, request("first", "products"))
	if err != nil {
		t.Fatal(err)
	}
	planned := shardOf(t, first, 0).SourcePeer
	node := -1
	for i, n := range f.emu.Nodes() {
		if n.ID == planned {
			node = i
		}
	}
	f.emu.InjectStreamFault(qdrantemu.StreamFaultSpec{Fault: qdrantemu.EmptyBody, Node: node, Collection: "products", Shard: 0})
	m, err := backup.Run(context.Background(), f.qc, f.store, request("second", "products"))
	if err != nil {
		t.Fatal(err)
	}
	if got := shardOf(t, m, 0).SourcePeer; got == planned || got == 0 {
		t.Errorf("shard 0 came from peer %d, which served an empty snapshot", got)
	}
}

func shardOf(t *testing.T, m manifest.Manifest, id uint32) manifest.Shard {
	t.Helper()
	for _, s := range m.Collections[0].Shards {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no shard %d in the manifest", id)
	return manifest.Shard{}
}

// A Backup never reuses, or writes over, what another Backup left: not a
// finished backup (a Backup deleted as orphan and applied again has a new
// uid), nor the shards of an interrupted one. A resumed run of the same
// Backup keeps its first start time.
func TestObjectsBelongToOneBackup(t *testing.T) {
	f := setup(t, nil)
	ctx := context.Background()
	monday := request("nightly", "reviews")
	monday.Backup.UID = "monday"
	mondayStart := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	monday.StartedAt = mondayStart
	m, err := backup.Run(ctx, f.qc, f.store, monday)
	if err != nil {
		t.Fatal(err)
	}
	if !m.StartedAt.Equal(mondayStart) {
		t.Errorf("manifest start time: want the first start %v, got %v", mondayStart, m.StartedAt)
	}
	before := f.objects(t, "prod/team-a/search/nightly/")

	friday := request("nightly", "reviews")
	friday.Backup.UID = "friday"
	_, err = backup.Run(ctx, f.qc, f.store, friday)
	var be *backup.Error
	if !errors.As(err, &be) || be.Reason != backup.ReasonLocationTaken || !backup.IsPermanent(err) || !strings.Contains(be.Message, "uid monday") {
		t.Fatalf("a new Backup where another's manifest lies: want a permanent LocationTaken naming it, got %v", err)
	}
	if diff := cmp.Diff(before, f.objects(t, "prod/team-a/search/nightly/")); diff != "" {
		t.Errorf("the refused Backup changed the objects: -before, +after:\n%s", diff)
	}
	if _, err := backup.Verify(ctx, f.store, monday.Layout, "friday", backup.VerifySizes); err == nil {
		t.Error("Verify accepted a manifest that belongs to another Backup")
	}

	// The same Backup run again finds its own manifest: done, nothing redone.
	requests := len(f.emu.Requests())
	again, err := backup.Run(ctx, f.qc, f.store, monday)
	if err != nil || !again.CompletedAt.Equal(m.CompletedAt) {
		t.Errorf("rerun of a completed Backup: want its manifest back, got %v, %v", again.CompletedAt, err)
	}
	if n := len(f.emu.Requests()) - requests; n != 0 {
		t.Errorf("rerun of a completed Backup made %d requests to Qdrant; want none", n)
	}

	// An interrupted Backup's shards are not reused by a different one.
	f.emu.SetSnapshotPadding("products", 6<<20)
	f.emu.SlowStreams(40 << 20)
	cctx, cancel := context.WithCancel(ctx)
	cut := request("weekly", "products")
	cut.Backup.UID = "old"
	cut.Parallelism = 1
	cut.Report = func(s backup.Status) {
		if s.ShardsDone >= 2 {
			cancel()
		}
	}
	if _, err := backup.Run(cctx, f.qc, f.store, cut); err == nil {
		t.Fatal("the interrupted backup claims success")
	}
	f.emu.SlowStreams(0)
	var last backup.Status
	fresh := request("weekly", "products")
	fresh.Backup.UID = "new"
	fresh.Report = func(s backup.Status) { last = s }
	nm, err := backup.Run(ctx, f.qc, f.store, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if last.ShardsReused != 0 {
		t.Errorf("a new Backup reused %d shards of an interrupted other one", last.ShardsReused)
	}
	if nm.Backup.UID != "new" {
		t.Errorf("manifest names uid %q, want new", nm.Backup.UID)
	}
}

// Delete removes exactly the objects that are the Backup's own: not another
// Backup's whose root lies beneath it, not an object it did not write.
func TestDeleteRemovesOnlyOwnObjects(t *testing.T) {
	f := setup(t, nil)
	ctx := context.Background()
	outer := request("nightly", "reviews")
	if _, err := backup.Run(ctx, f.qc, f.store, outer); err != nil {
		t.Fatal(err)
	}
	// Another Backup whose prefix puts its root beneath the first one's.
	inner := request("inner", "reviews")
	inner.Layout.Prefix = "prod/team-a/search/nightly/"
	inner.Backup.UID = "uid-inner"
	if _, err := backup.Run(ctx, f.qc, f.store, inner); err != nil {
		t.Fatal(err)
	}
	if err := f.store.PutBytes(ctx, "prod/team-a/search/nightly/README", []byte("not a backup's"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	// A key that looks like a shard of the first backup but was not written by it.
	stranger := "prod/team-a/search/nightly/" + manifest.ShardObject("orders", 0)
	if err := f.store.PutBytes(ctx, stranger, []byte("x"), "application/octet-stream"); err != nil {
		t.Fatal(err)
	}
	// Another Backup's claim on a shard key under this root (what a Backup
	// of the same name before this one leaves when it is interrupted).
	claimed := "prod/team-a/search/nightly/" + manifest.ShardObject("users", 3)
	if err := f.store.PutBytes(ctx, claimed, []byte("y"), "application/octet-stream"); err != nil {
		t.Fatal(err)
	}
	if err := f.store.PutBytes(ctx, claimed+".sha256.json", []byte(`{"backupUID":"uid-of-an-earlier-nightly"}`), "application/json"); err != nil {
		t.Fatal(err)
	}
	// A sample file of another Backup where this one's would be.
	foreignSample := "prod/team-a/search/nightly/" + manifest.SampleObject("users")
	if err := f.store.PutBytes(ctx, foreignSample, []byte(`{"formatVersion":1,"backupUID":"uid-of-an-earlier-nightly","collection":"users","points":[]}`), "application/json"); err != nil {
		t.Fatal(err)
	}
	innerBefore := f.objects(t, inner.Layout.Root())

	n, err := backup.Delete(ctx, f.store, outer.Layout, outer.Backup.UID)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 { // manifest, the shard, its sidecar, the sample
		t.Errorf("Delete: want 4 objects deleted, got %d", n)
	}
	left := f.objects(t, outer.Layout.Root())
	for k := range innerBefore {
		if _, ok := left[k]; !ok {
			t.Errorf("Delete of the outer Backup removed %s of the inner one", k)
		}
	}
	if _, ok := left[outer.Layout.Key(manifest.SampleObject("reviews"))]; ok {
		t.Error("the outer sample file is still there")
	}
	for _, k := range []string{"prod/team-a/search/nightly/README", stranger, claimed, claimed + ".sha256.json", foreignSample} {
		if _, ok := left[k]; !ok {
			t.Errorf("Delete removed %s, which the Backup did not write", k)
		}
	}
	if _, ok := left[outer.Layout.ManifestKey()]; ok {
		t.Error("the outer manifest is still there")
	}
	if left, err := backup.AnyOwned(ctx, f.store, outer.Layout, outer.Backup.UID); err != nil || left {
		t.Errorf("after Delete: want nothing owned left, got %v, %v", left, err)
	}
	if left, err := backup.AnyOwned(ctx, f.store, inner.Layout, inner.Backup.UID); err != nil || !left {
		t.Errorf("the inner Backup: want its objects found, got %v, %v", left, err)
	}
	if _, err := backup.Verify(ctx, f.store, inner.Layout, inner.Backup.UID, backup.VerifyContent); err != nil {
		t.Errorf("the inner backup no longer verifies: %v", err)
	}
}

// Verify of sizes passes a shard rewritten with other bytes of the same
// size; Verify of content does not.
func TestVerifyContentCatchesSameSizeCorruption(t *testing.T) {
	f := setup(t, nil)
	ctx := context.Background()
	req := request("nightly", "reviews")
	m, err := backup.Run(ctx, f.qc, f.store, req)
	if err != nil {
		t.Fatal(err)
	}
	v, err := backup.Verify(ctx, f.store, req.Layout, req.Backup.UID, backup.VerifyContent)
	if err != nil || v.Shards != 1 || v.Bytes != m.SizeBytes() {
		t.Fatalf("Verify of a good backup: %+v, %v", v, err)
	}
	key := req.Layout.Key(m.Collections[0].Shards[0].Object)
	body, _, err := f.store.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(body)
	_ = body.Close()
	b[len(b)/2] ^= 0xff
	if err := f.store.PutBytes(ctx, key, b, "application/octet-stream"); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Verify(ctx, f.store, req.Layout, req.Backup.UID, backup.VerifySizes); err != nil {
		t.Errorf("Verify of sizes: same size, want it to pass, got %v", err)
	}
	sum := sha256.Sum256(b)
	_, err = backup.Verify(ctx, f.store, req.Layout, req.Backup.UID, backup.VerifyContent)
	if err == nil || !strings.Contains(err.Error(), "shard 0 of reviews does not match") || !strings.Contains(err.Error(), hex.EncodeToString(sum[:])) {
		t.Errorf("Verify of content: want a mismatch naming the shard and what the bucket holds, got %v", err)
	}
}

// panicking is a Cluster whose shard streams panic.
type panicking struct{ backup.Cluster }

func (panicking) StreamShard(context.Context, uint64, string, uint32) (io.ReadCloser, error) {
	panic("a bug in an adapter")
}

func TestPanicFailsTheShardNotTheProcess(t *testing.T) {
	f := setup(t, nil)
	req := request("panic", "reviews")
	req.Attempts = 1
	_, err := backup.Run(context.Background(), panicking{f.qc}, f.store, req)
	var be *backup.Error
	if !errors.As(err, &be) || be.Reason != backup.ReasonShardFailed || !strings.Contains(be.Message, "internal error: a bug in an adapter") {
		t.Errorf("want ShardFailed naming the panic, got %v", err)
	}
}

// A peer that trickles bytes cannot hold a shard for ever: past its grace, a
// transfer must keep up the minimum rate.
func TestSlowShardIsCut(t *testing.T) {
	f := setup(t, nil)
	f.emu.SetSnapshotPadding("reviews", 12<<20)
	f.emu.SlowStreams(1 << 20)
	req := request("slow", "reviews")
	req.Attempts = 1
	req.ShardGrace = 300 * time.Millisecond
	req.MinRate = 64 << 20
	_, err := backup.Run(context.Background(), f.qc, f.store, req)
	if err == nil || !strings.Contains(err.Error(), "the transfer is too slow") {
		t.Errorf("want the shard cut as too slow, got %v", err)
	}
	if n := f.incompleteUploads(t); n != 0 {
		t.Errorf("%d incomplete multipart uploads left", n)
	}
}

// Names that would leave their place in a key, or keys too long for S3, are
// refused before anything is written.
func TestInvalidLocationsAreRefused(t *testing.T) {
	f := setup(t, nil)
	cases := map[string]struct {
		reason string
		layout manifest.Layout
	}{
		"DotDotCluster": {"A clusterRef of .. would put the root in another namespace.", manifest.Layout{Prefix: "prod/", Namespace: "a", Cluster: "..", Backup: "b"}},
		"SlashInName":   {"A slash adds a segment.", manifest.Layout{Namespace: "a", Cluster: "x/y", Backup: "b"}},
		"KeyTooLong":    {"S3 keys are at most 1024 bytes.", manifest.Layout{Prefix: strings.Repeat("p", 250) + "/" + strings.Repeat("q", 250) + "/" + strings.Repeat("r", 250) + "/", Namespace: "team-a", Cluster: "search", Backup: strings.Repeat("b", 250)}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			req := request("bad", "reviews")
			req.Layout = tc.layout
			_, err := backup.Run(context.Background(), f.qc, f.store, req)
			var be *backup.Error
			if !errors.As(err, &be) || be.Reason != backup.ReasonInvalidLocation || !be.Permanent {
				t.Errorf("%s\nwant a permanent InvalidLocation, got %v", tc.reason, err)
			}
			if objs := f.objects(t, ""); len(objs) != 0 {
				t.Errorf("%s\nobjects written: %v", tc.reason, objs)
			}
		})
	}
}
