package qdrant

import (
	"errors"
	"net/http"
	"strings"
)

// IsFetchFailure reports whether err is Qdrant's answer to a snapshot
// recovery from an http(s) URL that it could not download, as opposed to a
// download it made and refused (a checksum mismatch, an archive it cannot
// unpack, a shard that does not exist). Only then can streaming the same
// bytes to Qdrant through the upload endpoint do better.
//
// Qdrant 1.19 answers (src/common/snapshots.rs, lib/storage/src/content_manager/
// snapshots/download_tar.rs, errors.rs):
//   - 403 "Forbidden: Snapshot recovery from remote URLs is disabled in the
//     configuration" when service.enable_snapshot_url_recovery is false (since
//     1.18; a 400 is accepted too for proxies and forks that say it so);
//   - 400 "Wrong input: Failed to download tar from <url>: status - 403
//     Forbidden" when the store answered with an error status: an expired or
//     wrong signature, a missing object (1.13 to 1.16: "Failed to download
//     snapshot from <url>");
//   - 500 "Service internal error: Http request error: error sending request
//     for url (<url>)" when the store could not be reached: connection
//     refused, DNS, TLS, a connect timeout (reqwest's errors);
//   - "stream read timeout" inside an unpack error when the store stopped
//     sending for 60 s (debug builds name it; release builds hide it behind
//     "Malformed tar archive", which is then not told apart from a bad file).
func IsFetchFailure(err error) bool {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	msg := apiErr.Message
	switch apiErr.StatusCode {
	case http.StatusForbidden, http.StatusBadRequest:
		if strings.Contains(msg, "recovery from remote URLs is disabled") {
			return true
		}
	}
	switch {
	case apiErr.StatusCode == http.StatusBadRequest &&
		(strings.Contains(msg, "Failed to download tar from") || strings.Contains(msg, "Failed to download snapshot from")):
		return true
	case apiErr.StatusCode == http.StatusInternalServerError && strings.Contains(msg, "Http request error:"):
		return true
	case strings.Contains(msg, "stream read timeout"):
		return true
	}
	return false
}
