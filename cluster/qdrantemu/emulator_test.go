package qdrantemu_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

func TestCollectionSnapshotOfOneNodeHoldsOnlyItsShards(t *testing.T) {
	// The pitfall a backup must avoid: a collection snapshot taken through one
	// node (what a load-balanced Service gives) carries only that node's shards.
	c := start(t, qdrantemu.Options{Nodes: 3})
	u := c.URLs()
	createCollection(t, u[0], "docs", 6, 1, 3000)

	snap := mustOK(t, call(t, "POST", u[0]+"/collections/docs/snapshots?wait=true", nil))["result"].(map[string]any)
	name := snap["name"].(string)
	if !strings.HasPrefix(name, fmt.Sprintf("docs-%d-", c.Nodes()[0].ID)) || !strings.HasSuffix(name, ".snapshot") {
		t.Errorf("snapshot name %q does not follow {collection}-{peer_id}-{timestamp}.snapshot", name)
	}
	dl := call(t, "GET", u[0]+"/collections/docs/snapshots/"+name, nil)
	if dl.status != http.StatusOK {
		t.Fatalf("download: %d %s", dl.status, dl.body)
	}
	sum := sha256.Sum256(dl.body)
	if got := hex.EncodeToString(sum[:]); got != snap["checksum"] {
		t.Errorf("checksum: listed %v, downloaded bytes hash to %s", snap["checksum"], got)
	}
	perShard := archivePoints(t, dl.body)
	// Six shards on three nodes, one replica each: node 0 holds shards 0 and 3.
	want := map[string]int{}
	total := 0
	for dir, n := range perShard {
		total += n
		want[dir] = n
	}
	if diff := cmp.Diff([]string{"0/", "3/"}, keys(perShard)); diff != "" {
		t.Errorf("shards with data in node 0's snapshot: -want, +got:\n%s", diff)
	}
	if total >= 3000 || total == 0 {
		t.Errorf("node 0's snapshot holds %d of 3000 points; want only its own shards' share", total)
	}

	// Recovered into a fresh collection, it really restores only that share.
	mustOK(t, call(t, "DELETE", u[0]+"/collections/docs", nil))
	mustOK(t, call(t, "PUT", u[0]+"/collections/docs/snapshots/recover", map[string]any{
		"location": "file://" + c.Nodes()[0].SnapshotsDir() + "/docs/" + name, "priority": "snapshot",
	}))
	if got := count(t, u[1], "docs"); got != total {
		t.Errorf("count after recovering node 0's snapshot: want %d, got %d", total, got)
	}
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestAuth(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1, APIKey: "rw-key", ReadOnlyAPIKey: "ro-key"})
	u := c.URLs()[0]
	createCollection(t, u, "c", 1, 1, 10, "api-key", "rw-key")
	cases := map[string]struct {
		reason       string
		method, path string
		header       []string
		wantStatus   int
		wantBody     string
	}{
		"NoKey":            {"Without a key a protected path is refused in plain text.", "GET", "/collections", nil, 401, "Must provide an API key or an Authorization bearer token"},
		"WrongKey":         {"A wrong key is refused.", "GET", "/collections", []string{"api-key", "nope"}, 401, "Invalid API key or JWT"},
		"Bearer":           {"The key works as a bearer token.", "GET", "/collections", []string{"Authorization", "Bearer rw-key"}, 200, ""},
		"ReadOnlyReads":    {"The read-only key reads.", "GET", "/collections/c/cluster", []string{"api-key", "ro-key"}, 200, ""},
		"ReadOnlyNoCreate": {"The read-only key cannot create snapshots.", "POST", "/collections/c/snapshots", []string{"api-key", "ro-key"}, 403, `"Forbidden: Global manage access is required"`},
		"ReadOnlyNoStream": {"Streaming a shard snapshot needs write access.", "GET", "/collections/c/shards/0/snapshot", []string{"api-key", "ro-key"}, 403, "Forbidden: Global manage access is required"},
		"RootIsOpen":       {"GET / needs no key.", "GET", "/", nil, 200, `"title":"qdrant - vector search engine"`},
		"HealthzIsOpen":    {"Health checks need no key.", "GET", "/healthz", nil, 200, "healthz check passed"},
		"ReadyzIsOpen":     {"Readiness needs no key.", "GET", "/readyz", nil, 200, "all shards are ready"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := call(t, tc.method, u+tc.path, nil, tc.header...)
			if r.status != tc.wantStatus || !strings.Contains(string(r.body), tc.wantBody) {
				t.Errorf("%s\n%s %s: want %d containing %q, got %d %q", tc.reason, tc.method, tc.path, tc.wantStatus, tc.wantBody, r.status, r.body)
			}
		})
	}
}

func TestEnvelopesAndErrors(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 2})
	u := c.URLs()[0]
	createCollection(t, u, "c", 2, 1, 10)
	cases := map[string]struct {
		reason       string
		method, path string
		body         any
		wantStatus   int
		wantText     string // plain-text body, or the JSON envelope's error
		plainText    bool
	}{
		"UnknownCollectionJSON":   {"JSON endpoints answer 404 in the envelope.", "GET", "/collections/nope", nil, 404, "Not found: Collection `nope` doesn't exist!", false},
		"UnknownCollectionFile":   {"File endpoints answer errors in plain text.", "GET", "/collections/nope/snapshots/x.snapshot", nil, 404, "Not found: Collection `nope` doesn't exist!", true},
		"UnknownSnapshot":         {"A missing snapshot is a plain-text 404.", "GET", "/collections/c/snapshots/x.snapshot", nil, 404, "Not found: Snapshot x.snapshot not found", true},
		"ExistingCollection":      {"Creating an existing collection is a 409.", "PUT", "/collections/c", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Dot"}}, 409, "Wrong input: Collection `c` already exists!", false},
		"UnknownShard":            {"An unknown shard id is a 404.", "GET", "/collections/c/shards/9/snapshots", nil, 404, "Not found: shard 9 not found", false},
		"ShardNotLocal":           {"Shard snapshots need a local replica.", "POST", "/collections/c/shards/1/snapshots", nil, 400, "Wrong input: Shard 1 is not a local or queue proxy shard", false},
		"BadChecksum":             {"A checksum that is not 64 hex characters is a 422.", "PUT", "/collections/c/snapshots/recover", map[string]any{"location": "http://127.0.0.1:1/x", "checksum": "abc"}, 422, "Validation error in JSON body", false},
		"BadPriority":             {"An unknown priority is a 400.", "PUT", "/collections/c/snapshots/recover", map[string]any{"location": "http://127.0.0.1:1/x", "priority": "now"}, 400, "unknown variant `now`", false},
		"FileOutsideSnapshotsDir": {"file:// must stay inside the snapshots directory.", "PUT", "/collections/c/snapshots/recover", map[string]any{"location": "file:///etc/passwd"}, 403, "Forbidden: Snapshot file path must be inside the snapshots directory", false},
		"ShardFileScheme":         {"Shard recovery refuses file:// URLs.", "PUT", "/collections/c/shards/0/snapshots/recover", map[string]any{"location": "file:///tmp/x.snapshot"}, 400, "URLs with file scheme are not supported", false},
		"UnknownScheme":           {"Only http, https and file are accepted.", "PUT", "/collections/c/snapshots/recover", map[string]any{"location": "s3://bucket/key"}, 400, "with scheme s3 is not supported", false},
		"RemoteNotFound":          {"A non-2xx remote is a 400.", "PUT", "/collections/c/snapshots/recover", map[string]any{"location": u + "/collections/c/snapshots/missing.snapshot"}, 400, "status - 404 Not Found", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := call(t, tc.method, u+tc.path, tc.body)
			if r.status != tc.wantStatus {
				t.Fatalf("%s\nwant status %d, got %d: %s", tc.reason, tc.wantStatus, r.status, r.body)
			}
			got := string(r.body)
			if tc.plainText {
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("%s\nwant text/plain, got %q", tc.reason, ct)
				}
			} else {
				got = r.errorText(t)
			}
			if !strings.Contains(got, tc.wantText) {
				t.Errorf("%s\nwant error containing %q, got %q", tc.reason, tc.wantText, got)
			}
		})
	}

	t.Run("DeleteMissingIsFalse", func(t *testing.T) {
		r := mustOK(t, call(t, "DELETE", u+"/collections/nope", nil))
		if r["result"] != false {
			t.Errorf("DELETE of a missing collection: want result false, got %v", r["result"])
		}
	})
	t.Run("WaitFalseIsAccepted", func(t *testing.T) {
		r := call(t, "POST", u+"/collections/c/snapshots?wait=false", nil)
		if r.status != http.StatusAccepted {
			t.Fatalf("want 202, got %d", r.status)
		}
		if diff := cmp.Diff(map[string]any{"status": "accepted", "time": 0.000123}, r.json(t)); diff != "" {
			t.Errorf("202 body: -want, +got:\n%s", diff)
		}
	})
}

func TestDownloadsAreSizedAndRanged(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	createCollection(t, u, "c", 1, 1, 100)
	name := mustOK(t, call(t, "POST", u+"/collections/c/shards/0/snapshots", nil))["result"].(map[string]any)["name"].(string)
	if !strings.HasPrefix(name, "c-shard-0-") {
		t.Errorf("shard snapshot name %q does not follow {collection}-shard-{id}-{timestamp}.snapshot", name)
	}
	full := call(t, "GET", u+"/collections/c/shards/0/snapshots/"+name, nil)
	if full.header.Get("Content-Length") != fmt.Sprint(len(full.body)) || full.header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("download headers: Content-Length %q for %d bytes, Accept-Ranges %q", full.header.Get("Content-Length"), len(full.body), full.header.Get("Accept-Ranges"))
	}
	if got := full.header.Get("Content-Disposition"); got != fmt.Sprintf("attachment; filename=%q", name) {
		t.Errorf("Content-Disposition: got %q", got)
	}
	part := call(t, "GET", u+"/collections/c/shards/0/snapshots/"+name, nil, "Range", "bytes=10-19")
	if part.status != http.StatusPartialContent || string(part.body) != string(full.body[10:20]) {
		t.Errorf("range: want 206 with bytes 10-19, got %d (%d bytes)", part.status, len(part.body))
	}
	bad := call(t, "GET", u+"/collections/c/shards/0/snapshots/"+name, nil, "Range", fmt.Sprintf("bytes=%d-", len(full.body)+10))
	if bad.status != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("unsatisfiable range: want 416, got %d", bad.status)
	}
	stream := call(t, "GET", u+"/collections/c/shards/0/snapshot", nil)
	if stream.status != http.StatusOK || stream.header.Get("Content-Length") != "" {
		t.Errorf("stream: want 200 without Content-Length, got %d with %q", stream.status, stream.header.Get("Content-Length"))
	}
	if got := archivePoints(t, stream.body); got[""] != 100 {
		t.Errorf("streamed shard snapshot holds %v points, want 100", got)
	}
}

func TestRecoverPriorities(t *testing.T) {
	cases := map[string]struct {
		reason     string
		priority   string
		wantCount  int
		wantLocal  qdrantemu.ReplicaState
		wantOthers qdrantemu.ReplicaState
	}{
		"Snapshot": {"The snapshot's data wins; the other replica is set Dead to re-sync.", "snapshot", 50, qdrantemu.Active, qdrantemu.Dead},
		"NoSync":   {"The snapshot's data is activated; others are left alone.", "no_sync", 50, qdrantemu.Active, qdrantemu.Active},
		"Replica":  {"The local replica is set Dead and re-syncs; existing data wins.", "replica", 80, qdrantemu.Dead, qdrantemu.Active},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := start(t, qdrantemu.Options{Nodes: 2, ResyncDelay: time.Hour})
			u := c.URLs()
			createCollection(t, u[0], "c", 1, 2, 50)
			snap := mustOK(t, call(t, "POST", u[0]+"/collections/c/shards/0/snapshots", nil))["result"].(map[string]any)
			createCollection(t, u[0], "other", 1, 1, 0) // keep ids apart
			// More points after the snapshot: the snapshot holds 50 of 80.
			var pts []map[string]any
			for id := 51; id <= 80; id++ {
				pts = append(pts, map[string]any{"id": id, "vector": []float64{1, 2, 3, 4}})
			}
			mustOK(t, call(t, "PUT", u[0]+"/collections/c/points?wait=true", map[string]any{"points": pts}))
			mustOK(t, call(t, "PUT", u[0]+"/collections/c/shards/0/snapshots/recover", map[string]any{
				"location": snap["name"], "priority": tc.priority, "checksum": snap["checksum"],
			}))
			if got := count(t, u[1], "c"); got != tc.wantCount {
				t.Errorf("%s\ncount: want %d, got %d", tc.reason, tc.wantCount, got)
			}
			info := mustOK(t, call(t, "GET", u[0]+"/collections/c/cluster", nil))["result"].(map[string]any)
			local := info["local_shards"].([]any)[0].(map[string]any)["state"]
			other := info["remote_shards"].([]any)[0].(map[string]any)["state"]
			if local != string(tc.wantLocal) || other != string(tc.wantOthers) {
				t.Errorf("%s\nreplica states: want local %s, other %s; got %v, %v", tc.reason, tc.wantLocal, tc.wantOthers, local, other)
			}
		})
	}
}

func TestDeadReplicasResync(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 2, ResyncDelay: 50 * time.Millisecond})
	u := c.URLs()
	createCollection(t, u[0], "c", 1, 2, 5)
	snap := mustOK(t, call(t, "POST", u[0]+"/collections/c/shards/0/snapshots", nil))["result"].(map[string]any)
	mustOK(t, call(t, "PUT", u[0]+"/collections/c/shards/0/snapshots/recover", map[string]any{"location": snap["name"], "priority": "snapshot"}))
	deadline := time.Now().Add(5 * time.Second)
	for {
		info := mustOK(t, call(t, "GET", u[0]+"/collections/c/cluster", nil))["result"].(map[string]any)
		if info["remote_shards"].([]any)[0].(map[string]any)["state"] == "Active" {
			if n := len(info["shard_transfers"].([]any)); n != 0 {
				t.Errorf("want no shard transfers once Active, got %d", n)
			}
			return
		}
		if len(info["shard_transfers"].([]any)) != 1 {
			t.Errorf("a Dead replica re-syncing shows one shard transfer, got %v", info["shard_transfers"])
		}
		if time.Now().After(deadline) {
			t.Fatal("the Dead replica never became Active again")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestChecksumMismatchLeavesCollectionUntouched(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	createCollection(t, u, "c", 1, 1, 20)
	snap := mustOK(t, call(t, "POST", u+"/collections/c/snapshots", nil))["result"].(map[string]any)
	mustOK(t, call(t, "PUT", u+"/collections/c/points?wait=true", map[string]any{"points": []map[string]any{{"id": 99, "vector": []float64{1, 1, 1, 1}}}}))
	wrong := strings.Repeat("0", 64)
	r := call(t, "PUT", u+"/collections/c/snapshots/recover", map[string]any{
		"location": u + "/collections/c/snapshots/" + snap["name"].(string), "checksum": wrong,
	})
	if r.status != http.StatusBadRequest || !strings.Contains(r.errorText(t), "Wrong input: Snapshot checksum mismatch: expected "+wrong+", got "+snap["checksum"].(string)) {
		t.Errorf("want 400 checksum mismatch, got %d %s", r.status, r.body)
	}
	if got := count(t, u, "c"); got != 21 {
		t.Errorf("count after a refused recovery: want 21 (untouched), got %d", got)
	}
	// The same recovery with the right checksum goes through.
	mustOK(t, call(t, "PUT", u+"/collections/c/snapshots/recover", map[string]any{
		"location": u + "/collections/c/snapshots/" + snap["name"].(string), "checksum": snap["checksum"],
	}))
	if got := count(t, u, "c"); got != 20 {
		t.Errorf("count after recovery: want 20, got %d", got)
	}
}

func TestIncompatibleSnapshotIsRefused(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	createCollection(t, u, "a", 2, 1, 10)
	snap := mustOK(t, call(t, "POST", u+"/collections/a/snapshots", nil))["result"].(map[string]any)
	createCollection(t, u, "b", 3, 1, 0)
	r := call(t, "PUT", u+"/collections/b/snapshots/recover", map[string]any{"location": "file://" + c.Nodes()[0].SnapshotsDir() + "/a/" + snap["name"].(string)})
	if r.status != 400 || !strings.Contains(r.errorText(t), "Snapshot is not compatible with existing collection: Collection shard number: 3 Snapshot shard number: 2") {
		t.Errorf("want 400 incompatible shard number, got %d %s", r.status, r.body)
	}
}
