package qdrantemu_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

func snapshotNames(t *testing.T, url string) []string {
	t.Helper()
	var out []string
	for _, s := range mustOK(t, call(t, "GET", url, nil))["result"].([]any) {
		out = append(out, s.(map[string]any)["name"].(string))
	}
	return out
}

// filesUnder lists the regular files below dir.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestShardUploadLeavesNothingBehind states that Qdrant recovers an uploaded
// shard snapshot from actix's temporary file and drops it afterwards
// (src/actix/api/snapshot_api.rs, upload_shard_snapshot takes a TempFile and
// never moves it): the shard's snapshot listing and the upload spool stay
// empty, whether the recovery worked or not.
func TestShardUploadLeavesNothingBehind(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	createCollection(t, u, "c", 1, 1, 30)
	snap := mustOK(t, call(t, "POST", u+"/collections/c/shards/0/snapshots", nil))["result"].(map[string]any)
	body := call(t, "GET", u+"/collections/c/shards/0/snapshots/"+snap["name"].(string), nil).body
	mustOK(t, call(t, "DELETE", u+"/collections/c/shards/0/snapshots/"+snap["name"].(string), nil))

	mustOK(t, upload(t, u+"/collections/c/shards/0/snapshots/upload?priority=snapshot&checksum="+snap["checksum"].(string), "up.snapshot", body))
	if got := count(t, u, "c"); got != 30 {
		t.Errorf("count after the upload: want 30, got %d", got)
	}
	r := upload(t, u+"/collections/c/shards/0/snapshots/upload?checksum="+strings.Repeat("0", 64), "bad.snapshot", body)
	if r.status != http.StatusBadRequest || !strings.HasPrefix(r.errorText(t), "Checksum mismatch: expected "+snap["checksum"].(string)) {
		t.Errorf("wrong checksum: want 400 Checksum mismatch, got %d %s", r.status, r.body)
	}
	if got := snapshotNames(t, u+"/collections/c/shards/0/snapshots"); len(got) != 0 {
		t.Errorf("uploaded shard snapshots must not be listed, got %v", got)
	}
	if got := filesUnder(t, c.Nodes()[0].SnapshotsDir()); len(got) != 0 {
		t.Errorf("uploads must leave no file in the snapshots folder, got %v", got)
	}
}

// TestCollectionUploadStays states the other side (API.md 1.7,
// do_save_uploaded_snapshot): a collection upload is moved next to the
// collection's snapshots and stays listed, without a checksum.
func TestCollectionUploadStays(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	createCollection(t, u, "c", 1, 1, 5)
	snap := mustOK(t, call(t, "POST", u+"/collections/c/snapshots", nil))["result"].(map[string]any)
	body := call(t, "GET", u+"/collections/c/snapshots/"+snap["name"].(string), nil).body
	mustOK(t, upload(t, u+"/collections/d/snapshots/upload?priority=snapshot", "up.snapshot", body))
	if got := snapshotNames(t, u+"/collections/d/snapshots"); len(got) != 1 || got[0] != "up.snapshot" {
		t.Errorf("want the upload listed as up.snapshot, got %v", got)
	}
}

// TestUploadWaitFalseAnswersAtOnce states that with wait=false Qdrant answers
// 202 as soon as the body is received: the checksum and the collection and
// shard lookups run in the spawned future, whose errors are only logged
// (src/actix/api/snapshot_api.rs; API.md 0.1).
func TestUploadWaitFalseAnswersAtOnce(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	createCollection(t, u, "c", 1, 1, 5)
	snap := mustOK(t, call(t, "POST", u+"/collections/c/shards/0/snapshots", nil))["result"].(map[string]any)
	body := call(t, "GET", u+"/collections/c/shards/0/snapshots/"+snap["name"].(string), nil).body
	wrong := strings.Repeat("0", 64)
	cases := map[string]struct {
		reason string
		path   string
	}{
		"ShardChecksumMismatch":      {"A wrong checksum fails later.", "/collections/c/shards/0/snapshots/upload?wait=false&checksum=" + wrong},
		"MissingShard":               {"A missing shard fails later.", "/collections/c/shards/9/snapshots/upload?wait=false"},
		"MissingCollectionShard":     {"A missing collection fails later.", "/collections/nope/shards/0/snapshots/upload?wait=false"},
		"CollectionChecksumMismatch": {"The same for collection uploads.", "/collections/c/snapshots/upload?wait=false&checksum=" + wrong},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := upload(t, u+tc.path, "x.snapshot", body)
			if r.status != http.StatusAccepted {
				t.Errorf("%s\nwant 202, got %d %s", tc.reason, r.status, r.body)
			}
		})
	}
	// The failures happened in the background and changed nothing.
	deadline := time.Now().Add(5 * time.Second)
	for len(filesUnder(t, filepath.Join(c.Nodes()[0].SnapshotsDir(), "tmp"))) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := count(t, u, "c"); got != 5 {
		t.Errorf("count after failed background recoveries: want 5, got %d", got)
	}
	if got := filesUnder(t, filepath.Join(c.Nodes()[0].SnapshotsDir(), "tmp")); len(got) != 0 {
		t.Errorf("failed uploads must leave no spooled file, got %v", got)
	}
}
