package backup_test

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
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backup"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrant"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/sample"
)

// readSample reads a collection's sample file as the manifest records it,
// checking its size and checksum.
func (f *fixture) readSample(t *testing.T, l manifest.Layout, c manifest.Collection) sample.File {
	t.Helper()
	if c.Sample == nil {
		t.Fatalf("%s: the manifest records no sample", c.Name)
	}
	body, _, err := f.store.Get(context.Background(), l.Key(c.Sample.Object))
	if err != nil {
		t.Fatalf("%s: sample object: %v", c.Name, err)
	}
	b, err := io.ReadAll(body)
	_ = body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if int64(len(b)) != c.Sample.SizeBytes || hex.EncodeToString(sum[:]) != c.Sample.SHA256 {
		t.Errorf("%s: the sample object has %d bytes, sha256 %x; the manifest says %d, %s", c.Name, len(b), sum, c.Sample.SizeBytes, c.Sample.SHA256)
	}
	sf, err := sample.Decode(b)
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	return sf
}

// rawDigests reads points from a node straight over HTTP, with their vectors
// and payloads exactly as the node prints them, and digests each: a check
// that does not go through the adapter the backup used.
func rawDigests(t *testing.T, node, collection string, ids []json.RawMessage) map[string]string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"ids": ids, "with_payload": true, "with_vector": true})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, node+"/collections/"+collection+"/points", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // Read-only.
	var out struct {
		Result []struct {
			ID      json.RawMessage `json:"id"`
			Vector  json.RawMessage `json:"vector"`
			Payload json.RawMessage `json:"payload"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	digests := map[string]string{}
	for _, p := range out.Result {
		d, err := sample.Digest(p.Vector, p.Payload)
		if err != nil {
			t.Fatal(err)
		}
		digests[string(p.ID)] = d
	}
	return digests
}

func TestBackupRecordsCountsAndSamples(t *testing.T) {
	f := setup(t, nil)
	req := request("sampled")
	m, err := backup.Run(context.Background(), f.qc, f.store, req)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"products": 3000, "reviews": 400}
	for _, c := range m.Collections {
		if c.PointsAfter == nil || *c.PointsAfter != uint64(want[c.Name]) || c.WrittenDuring() {
			t.Errorf("%s: want %d points after and not written during, got %v", c.Name, want[c.Name], c.PointsAfter)
		}
		sf := f.readSample(t, req.Layout, c)
		if sf.BackupUID != req.Backup.UID || sf.Collection != c.Name {
			t.Errorf("%s: the sample names backup %q and collection %q", c.Name, sf.BackupUID, sf.Collection)
		}
		// The ids are the default number of smallest ranks of every id the
		// collection holds (the emulator's are 1..N), whatever shard holds
		// them.
		all := sample.NewSelector(backup.DefaultSamplePoints)
		for i := 1; i <= want[c.Name]; i++ {
			if err := all.Add(json.RawMessage(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		var got []json.RawMessage
		for _, p := range sf.Points {
			got = append(got, p.ID)
		}
		if diff := cmp.Diff(all.IDs(), got); diff != "" {
			t.Errorf("%s: sampled ids: -want, +got:\n%s", c.Name, diff)
		}
		if c.Sample.Points != min(want[c.Name], backup.DefaultSamplePoints) || c.Sample.Points != len(sf.Points) {
			t.Errorf("%s: the manifest says %d sampled points, the file lists %d", c.Name, c.Sample.Points, len(sf.Points))
		}
		digests := rawDigests(t, f.emu.URLs()[2], c.Name, got)
		for _, p := range sf.Points {
			if digests[string(p.ID)] != p.SHA256 {
				t.Errorf("%s: point %s: the sample says %s, the point read now digests to %s", c.Name, p.ID, p.SHA256, digests[string(p.ID)])
			}
		}
	}
	v, err := backup.Verify(context.Background(), f.store, req.Layout, req.Backup.UID, backup.VerifyContent)
	if err != nil || v.Samples != 2 {
		t.Errorf("Verify: want both samples checked, got %+v, %v", v, err)
	}
}

// A collection written to while it is backed up says so in the manifest.
func TestWritesDuringTheBackupAreRecorded(t *testing.T) {
	f := setup(t, nil)
	writer, err := qdrant.New(qdrant.Config{URL: f.emu.URLs()[0]})
	if err != nil {
		t.Fatal(err)
	}
	req := request("busy", "products")
	req.Parallelism = 1
	var wrote atomic.Bool
	req.Report = func(s backup.Status) {
		if s.ShardsDone == 1 && !wrote.Swap(true) {
			pts := []qdrant.Point{}
			for i := range 5 {
				pts = append(pts, qdrant.Point{ID: qdrant.NumericPointID(uint64(100000 + i)), Vector: json.RawMessage(`[1,0,0,0,0,0,0,0]`)})
			}
			if err := writer.Upsert(context.Background(), "products", pts, true); err != nil {
				t.Error(err)
			}
		}
	}
	m, err := backup.Run(context.Background(), f.qc, f.store, req)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Collections[0]
	if c.Points != 3000 || c.PointsAfter == nil || *c.PointsAfter != 3005 || !c.WrittenDuring() {
		t.Errorf("want 3000 points before, 3005 after, written during; got %d, %v, %v", c.Points, c.PointsAfter, c.WrittenDuring())
	}

	// Points written while the sample is read, after every shard was
	// stored, are in the sample's reach but not in the shards: that counts
	// as written during the backup too.
	cl := &faulty{Cluster: f.qc, retrieve: func(call int, ids []json.RawMessage) ([]json.RawMessage, error) {
		if call == 1 {
			pt := qdrant.Point{ID: qdrant.NumericPointID(200000), Vector: json.RawMessage(`[1,0,0,0]`)}
			if err := writer.Upsert(context.Background(), "reviews", []qdrant.Point{pt}, true); err != nil {
				return nil, err
			}
		}
		return ids, nil
	}}
	m, err = backup.Run(context.Background(), cl, f.store, request("sampling", "reviews"))
	if err != nil {
		t.Fatal(err)
	}
	c = m.Collections[0]
	if c.Points != 400 || c.PointsAfter == nil || *c.PointsAfter != 401 || !c.WrittenDuring() {
		t.Errorf("written while sampled: want 400 points before, 401 after, written during; got %d, %v, %v", c.Points, c.PointsAfter, c.WrittenDuring())
	}
}

// What a deletion cut short leaves, a sample file alone, is still found and
// deleted.
func TestALeftoverSampleIsOwned(t *testing.T) {
	f := setup(t, nil)
	ctx := context.Background()
	req := request("cut", "reviews")
	m, err := backup.Run(ctx, f.qc, f.store, req)
	if err != nil {
		t.Fatal(err)
	}
	sh := req.Layout.Key(m.Collections[0].Shards[0].Object)
	if _, err := f.store.DeleteKeys(ctx, []string{req.Layout.ManifestKey(), sh, sh + ".sha256.json"}); err != nil {
		t.Fatal(err)
	}
	if left, err := backup.AnyOwned(ctx, f.store, req.Layout, "someone-else"); err != nil || left {
		t.Errorf("another Backup: want nothing of its own found, got %v, %v", left, err)
	}
	if left, err := backup.AnyOwned(ctx, f.store, req.Layout, req.Backup.UID); err != nil || !left {
		t.Errorf("want the sample file found as the Backup's, got %v, %v", left, err)
	}
	if n, err := backup.Delete(ctx, f.store, req.Layout, req.Backup.UID); err != nil || n != 1 {
		t.Errorf("Delete: want the sample file deleted, got %d, %v", n, err)
	}
	if left, err := backup.AnyOwned(ctx, f.store, req.Layout, req.Backup.UID); err != nil || left {
		t.Errorf("after Delete: want nothing left, got %v, %v", left, err)
	}
}

// faulty is a Cluster whose id scrolls and point reads can be made to fail
// or to lose points.
type faulty struct {
	backup.Cluster
	scroll   func(call int) error
	retrieve func(call int, ids []json.RawMessage) ([]json.RawMessage, error)
	scrolls  atomic.Int32
	reads    atomic.Int32
}

func (c *faulty) ScrollIDs(ctx context.Context, collection string, page func([]json.RawMessage) error) error {
	if c.scroll != nil {
		if err := c.scroll(int(c.scrolls.Add(1))); err != nil {
			return err
		}
	}
	return c.Cluster.ScrollIDs(ctx, collection, page)
}

func (c *faulty) Retrieve(ctx context.Context, collection string, ids []json.RawMessage) ([]sample.Record, error) {
	if c.retrieve != nil {
		var err error
		if ids, err = c.retrieve(int(c.reads.Add(1)), ids); err != nil {
			return nil, err
		}
	}
	return c.Cluster.Retrieve(ctx, collection, ids)
}

func TestSampleFailures(t *testing.T) {
	f := setup(t, nil)
	errDown := errors.New("connection refused")

	t.Run("RetriedOnce", func(t *testing.T) {
		cl := &faulty{Cluster: f.qc, retrieve: func(call int, ids []json.RawMessage) ([]json.RawMessage, error) {
			if call == 1 {
				return nil, errDown
			}
			return ids, nil
		}}
		req := request("retried", "reviews")
		var retried string
		req.Report = func(s backup.Status) {
			if s.Retrying != "" {
				retried = s.Retrying
			}
		}
		m, err := backup.Run(context.Background(), cl, f.store, req)
		if err != nil {
			t.Fatalf("a sample that fails once: %v", err)
		}
		if !strings.Contains(retried, "the count and sample of collection reviews failed (try 1 of 4)") {
			t.Errorf("the failed try was not reported: %q", retried)
		}
		if m.Collections[0].Sample == nil || m.Collections[0].Sample.Points != 400 {
			t.Errorf("want a whole sample after the retry, got %+v", m.Collections[0].Sample)
		}
	})

	t.Run("FailsForGood", func(t *testing.T) {
		cl := &faulty{Cluster: f.qc, scroll: func(int) error { return errDown }}
		req := request("broken", "reviews")
		req.Attempts = 2
		_, err := backup.Run(context.Background(), cl, f.store, req)
		var be *backup.Error
		if !errors.As(err, &be) || be.Reason != backup.ReasonSampleFailed || !strings.Contains(be.Message, "sample of collection reviews after 2 tries") || !strings.Contains(be.Message, "connection refused") {
			t.Errorf("want SampleFailed naming the collection and the cause, got %v", err)
		}
		if _, err := f.store.Head(context.Background(), req.Layout.ManifestKey()); !s3store.IsNotFound(err) {
			t.Errorf("a backup whose sample failed has a manifest: %v", err)
		}
	})

	t.Run("PointsVanish", func(t *testing.T) {
		// Every page loses its first point between the scroll and the read:
		// deleted meanwhile, they are left out, not failed.
		var lost []string
		cl := &faulty{Cluster: f.qc, retrieve: func(_ int, ids []json.RawMessage) ([]json.RawMessage, error) {
			lost = append(lost, string(ids[0]))
			return ids[1:], nil
		}}
		req := request("vanish", "reviews")
		m, err := backup.Run(context.Background(), cl, f.store, req)
		if err != nil {
			t.Fatal(err)
		}
		sf := f.readSample(t, req.Layout, m.Collections[0])
		if len(lost) == 0 || len(sf.Points) != 400-len(lost) || m.Collections[0].Sample.Points != len(sf.Points) {
			t.Errorf("want %d points, %d lost of 400, got %d (manifest says %d)", 400-len(lost), len(lost), len(sf.Points), m.Collections[0].Sample.Points)
		}
		for _, p := range sf.Points {
			for _, l := range lost {
				if string(p.ID) == l {
					t.Errorf("vanished point %s is in the sample", l)
				}
			}
		}
	})
}

func TestSamplingCanBeTurnedOff(t *testing.T) {
	f := setup(t, nil)
	req := request("nosample", "reviews")
	req.SamplePoints = -1
	m, err := backup.Run(context.Background(), f.qc, f.store, req)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Collections[0]
	if c.Sample != nil || c.PointsAfter == nil || *c.PointsAfter != 400 {
		t.Errorf("want no sample and 400 points after, got %+v, %v", c.Sample, c.PointsAfter)
	}
	if _, err := f.store.Head(context.Background(), req.Layout.Key(manifest.SampleObject("reviews"))); !s3store.IsNotFound(err) {
		t.Errorf("a backup without samples stored one: %v", err)
	}

	req = request("small", "reviews")
	req.SamplePoints = 7
	m, err = backup.Run(context.Background(), f.qc, f.store, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(f.readSample(t, req.Layout, m.Collections[0]).Points); got != 7 {
		t.Errorf("SamplePoints 7: the sample lists %d points", got)
	}
}

// Verify checks the sample file as it checks shards.
func TestVerifyChecksTheSample(t *testing.T) {
	f := setup(t, nil)
	ctx := context.Background()
	req := request("nightly", "reviews")
	m, err := backup.Run(ctx, f.qc, f.store, req)
	if err != nil {
		t.Fatal(err)
	}
	key := req.Layout.Key(m.Collections[0].Sample.Object)
	body, _, err := f.store.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(body)
	_ = body.Close()
	// One hex digit of a point's digest changed: same size, other content.
	bad := append([]byte(nil), b...)
	i := bytes.Index(bad, []byte(`"sha256": "`)) + len(`"sha256": "`)
	if bad[i] == '0' {
		bad[i] = 'a'
	} else {
		bad[i] = '0'
	}
	if err := f.store.PutBytes(ctx, key, bad, "application/json"); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Verify(ctx, f.store, req.Layout, req.Backup.UID, backup.VerifySizes); err != nil {
		t.Errorf("Verify of sizes: same size, want it to pass, got %v", err)
	}
	if _, err := backup.Verify(ctx, f.store, req.Layout, req.Backup.UID, backup.VerifyContent); err == nil || !strings.Contains(err.Error(), "the sample of reviews does not match the manifest") {
		t.Errorf("Verify of content: want the sample's mismatch, got %v", err)
	}
	if err := f.store.PutBytes(ctx, key, b[:len(b)-1], "application/json"); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Verify(ctx, f.store, req.Layout, req.Backup.UID, backup.VerifySizes); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("the sample of reviews has %d bytes in the bucket, the manifest says %d", len(b)-1, len(b))) {
		t.Errorf("Verify of sizes: want the sample's size mismatch, got %v", err)
	}
}
