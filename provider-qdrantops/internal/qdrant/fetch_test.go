package qdrant

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIsFetchFailure(t *testing.T) {
	// A presigned URL as Qdrant echoes it: reqwest prints the whole URL,
	// query included.
	const presigned = "http://127.0.0.1:9000/backups/b1/collections/c/shards/0.snapshot?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260804%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=0123456789abcdef0123456789abcdef"
	cases := map[string]struct {
		reason string
		status int
		msg    string
		want   bool
	}{
		"URLRecoveryDisabled": {
			reason: "service.enable_snapshot_url_recovery: false (1.18+): Qdrant refuses before any download; an upload is allowed.",
			status: http.StatusForbidden,
			msg:    "Forbidden: Snapshot recovery from remote URLs is disabled in the configuration",
			want:   true,
		},
		"URLRecoveryDisabledAs400": {
			reason: "The same refusal under a 400 is the same: the node cannot fetch URLs.",
			status: http.StatusBadRequest,
			msg:    "Bad request: Snapshot recovery from remote URLs is disabled in the configuration",
			want:   true,
		},
		"StoreSaysForbidden": {
			reason: "An expired or wrong signature: the store answered 403 to Qdrant's GET.",
			status: http.StatusBadRequest,
			msg:    "Wrong input: Failed to download tar from " + presigned + ": status - 403 Forbidden",
			want:   true,
		},
		"StoreSaysNotFound": {
			reason: "Any error status of the store is a failed fetch.",
			status: http.StatusBadRequest,
			msg:    "Wrong input: Failed to download tar from " + presigned + ": status - 404 Not Found",
			want:   true,
		},
		"StoreSaysForbiddenBefore117": {
			reason: "Qdrant 1.13 to 1.16 downloaded to a file first and said so differently.",
			status: http.StatusBadRequest,
			msg:    "Wrong input: Failed to download snapshot from " + presigned + ": status - 403 Forbidden",
			want:   true,
		},
		"ConnectionRefused": {
			reason: "reqwest's send error (refused, DNS, TLS, connect timeout) becomes a 500 Http request error.",
			status: http.StatusInternalServerError,
			msg:    "Service internal error: Http request error: error sending request for url (" + presigned + ")",
			want:   true,
		},
		"StreamReadTimeout": {
			reason: "The store stopped sending for 60 s (named in debug builds).",
			status: http.StatusInternalServerError,
			msg:    "Service internal error: Failed to unpack tar archive: Malformed tar archive, reached unknown entry: stream read timeout: no data received within timeout period",
			want:   true,
		},
		"ChecksumMismatch": {
			reason: "Qdrant fetched the file and its sha256 differs: an upload of the same bytes would fail the same way.",
			status: http.StatusBadRequest,
			msg:    "Wrong input: Snapshot checksum mismatch: expected 1111111111111111111111111111111111111111111111111111111111111111, got 2222222222222222222222222222222222222222222222222222222222222222",
		},
		"BadArchive": {
			reason: "Qdrant fetched something that is no tar archive.",
			status: http.StatusInternalServerError,
			msg:    "Service internal error: Failed to unpack tar archive: Malformed tar archive, reached unknown entry",
		},
		"ShardNotFound": {
			reason: "The shard does not exist: nothing to do with fetching.",
			status: http.StatusNotFound,
			msg:    "Not found: shard 7 not found",
		},
		"ManageAccessMissing": {
			reason: "A key without manage access cannot upload either.",
			status: http.StatusForbidden,
			msg:    "Forbidden: Global manage access is required",
		},
		"FileSchemeRefused": {
			reason: "A file:// location on the shard endpoint is the caller's mistake.",
			status: http.StatusBadRequest,
			msg:    "Wrong input: Invalid snapshot URL file:///x: URLs with file scheme are not supported",
		},
		"OtherInternalError": {
			reason: "A 500 that is not a request error (out of disk, say) is not a fetch failure.",
			status: http.StatusInternalServerError,
			msg:    "Service internal error: No space left on device (os error 28)",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			// Through the client, as RecoverShardSnapshot returns it: the
			// typed error, wrapped, with the URL's query scrubbed.
			c, _ := newFake(t, func(w http.ResponseWriter, _ *http.Request) { writeError(w, tc.status, tc.msg) })
			err := c.RecoverShardSnapshot(context.Background(), "c", 0, ShardSnapshotRecover{Location: presigned, Priority: PrioritySnapshot}, true)
			if err == nil {
				t.Fatal("recover succeeded, want an error")
			}
			if diff := cmp.Diff(tc.want, IsFetchFailure(fmt.Errorf("shard 0: %w", err))); diff != "" {
				t.Errorf("%s\nIsFetchFailure(%v): -want, +got:\n%s", tc.reason, err, diff)
			}
			if strings.Contains(err.Error(), "X-Amz-Signature") || strings.Contains(err.Error(), presigned) {
				t.Errorf("the error quotes the presigned URL's query: %v", err)
			}
		})
	}
}

func TestIsFetchFailureNeedsQdrantsAnswer(t *testing.T) {
	// A request that never reached Qdrant says nothing about Qdrant's own
	// fetch: an upload to the same node would not reach it either.
	for _, err := range []error{nil, errors.New("Http request error: error sending request"), context.DeadlineExceeded} {
		if IsFetchFailure(err) {
			t.Errorf("IsFetchFailure(%v) = true, want false", err)
		}
	}
}
