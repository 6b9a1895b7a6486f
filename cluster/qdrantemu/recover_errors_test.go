package qdrantemu_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

// TestRecoverErrorCodes states the status and message Qdrant v1.19 answers
// when a recovery cannot read its snapshot. A client that retries 5xx and
// stops on 4xx depends on them:
//   - an http(s) location that gets no answer is reqwest's send error, a 500
//     "Http request error" (From<reqwest::Error> for StorageError);
//   - bytes that are no tar archive fail the unpacker, a 500
//     (lib/storage/src/content_manager/snapshots/download_tar.rs);
//   - a non-2xx answer is a 400 (download_tar.rs for collections, download.rs
//     for shards);
//   - a shard snapshot named by a bare name that is not there is a 404
//     (src/common/snapshots.rs, check_shard_snapshot_file_exists);
//   - a file:// that does not exist is a 400, wherever it points (download.rs);
//   - shard recovery takes http and https only, a 400 (src/common/snapshots.rs).
func TestRecoverErrorCodes(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	createCollection(t, u, "c", 2, 1, 10)
	noise := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("this is no tar archive ", 100)))
	}))
	t.Cleanup(noise.Close)
	// A port nothing listens on: the listener is closed before use.
	gone := httptest.NewServer(http.NotFoundHandler())
	refused := gone.URL + "/k.snapshot?X-Amz-Signature=abc"
	gone.Close()
	dir := c.Nodes()[0].SnapshotsDir()

	cases := map[string]struct {
		reason     string
		path       string
		location   string
		wantStatus int
		wantPrefix string
	}{
		"CollectionUnreachable": {"Connection refused is a 500.", "/collections/c/snapshots/recover", refused, 500,
			"Service internal error: Http request error: error sending request for url (" + refused + ")"},
		"ShardUnreachable": {"The same for a shard.", "/collections/c/shards/0/snapshots/recover", refused, 500,
			"Service internal error: Http request error: error sending request for url (" + refused + ")"},
		"CollectionNotTar": {"Bytes that are no tar archive are a 500.", "/collections/c/snapshots/recover", noise.URL + "/x.snapshot", 500,
			"Service internal error: Failed to unpack tar archive: "},
		"ShardNotTar": {"The same for a shard.", "/collections/c/shards/0/snapshots/recover", noise.URL + "/x.snapshot", 500,
			"Service internal error: Failed to unpack tar archive: "},
		"CollectionRemote404": {"A non-2xx answer is a 400.", "/collections/c/snapshots/recover", u + "/collections/c/snapshots/missing.snapshot", 400,
			"Wrong input: Failed to download tar from " + u + "/collections/c/snapshots/missing.snapshot: status - 404 Not Found"},
		"ShardRemote404": {"Shards download to a file first and say so.", "/collections/c/shards/0/snapshots/recover", u + "/collections/c/snapshots/missing.snapshot", 400,
			"Wrong input: Failed to download snapshot from " + u + "/collections/c/snapshots/missing.snapshot: status - 404 Not Found"},
		"ShardBareNameMissing": {"A bare name not in the shard's folder is a 404.", "/collections/c/shards/0/snapshots/recover", "nope.snapshot", 404,
			"Not found: Snapshot nope.snapshot not found"},
		"FileMissingInside": {"A file:// that does not exist is a 400.", "/collections/c/snapshots/recover", "file://" + dir + "/c/nope.snapshot", 400,
			"Bad request: Snapshot file \"" + dir + "/c/nope.snapshot\" does not exist"},
		"FileMissingOutside": {"Also outside the snapshots directory: existence is checked first.", "/collections/c/snapshots/recover", "file:///nonexistent/x.snapshot", 400,
			"Bad request: Snapshot file \"/nonexistent/x.snapshot\" does not exist"},
		"ShardOtherScheme": {"Shard recovery takes http(s) only.", "/collections/c/shards/0/snapshots/recover", "s3://bucket/key", 400,
			"Wrong input: Invalid snapshot URL s3://bucket/key: URLs with s3 scheme are not supported"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := call(t, "PUT", u+tc.path, map[string]any{"location": tc.location})
			if r.status != tc.wantStatus || !strings.HasPrefix(r.errorText(t), tc.wantPrefix) {
				t.Errorf("%s\nwant %d %q..., got %d %s", tc.reason, tc.wantStatus, tc.wantPrefix, r.status, r.body)
			}
		})
	}
	t.Run("UploadNotTar", func(t *testing.T) {
		r := upload(t, u+"/collections/c/shards/0/snapshots/upload", "x.snapshot", []byte("no tar"))
		if r.status != 500 || !strings.HasPrefix(r.errorText(t), "Service internal error: Failed to unpack tar archive: ") {
			t.Errorf("an upload that is no tar archive: want 500, got %d %s", r.status, r.body)
		}
	})
	if got := count(t, u, "c"); got != 10 {
		t.Errorf("failed recoveries must not touch the collection: want 10 points, got %d", got)
	}
}
