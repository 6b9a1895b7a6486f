package qdrantemu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func (n *Node) uploadSnapshot(w http.ResponseWriter, r *http.Request) {
	n.upload(w, r, false)
}

func (n *Node) uploadShardSnapshot(w http.ResponseWriter, r *http.Request) {
	n.upload(w, r, true)
}

// upload spools a multipart upload to <snapshots>/tmp/upload, checks the
// checksum and recovers from it.
func (n *Node) upload(w http.ResponseWriter, r *http.Request, shardLevel bool) {
	wait, ok := queryBool(w, r, "wait", true)
	if !ok {
		return
	}
	q := r.URL.Query()
	var priority, checksum *string
	if q.Has("priority") {
		v := q.Get("priority")
		priority = &v
	}
	if q.Has("checksum") {
		v := q.Get("checksum")
		checksum = &v
	}
	prio, sum, err := recoverArgs(priority, checksum)
	if err != nil {
		var he *httpError
		errors.As(err, &he)
		writeError(w, r, false, he.code, strings.Replace(he.msg, "JSON body", "query parameters", 1))
		return
	}
	col, shardID := r.PathValue("collection_name"), r.PathValue("shard_id")
	if shardLevel {
		// The path's shard id is parsed before the body is read.
		if _, err := strconv.ParseUint(shardID, 10, 32); err != nil {
			writeError(w, r, false, http.StatusBadRequest, "Deserialize error in path parameters: can not parse \""+shardID+"\" to a u32")
			return
		}
	} else if !validCollectionName(col) {
		writeError(w, r, false, http.StatusUnprocessableEntity, "Validation error in path parameters: [collection_name: invalid name]")
		return
	}
	// The whole body is received before the handler runs, even with
	// wait=false (API.md 1.7).
	spooled, filename, got, err := n.spool(r)
	if err != nil {
		writeError(w, r, false, http.StatusBadRequest, "Bad request: "+err.Error())
		return
	}
	// Everything else runs in the handler's future: with wait=false a
	// checksum mismatch or a missing collection or shard is only logged
	// (src/actix/api/snapshot_api.rs, upload_snapshot and
	// upload_shard_snapshot).
	n.answer(w, r, false, wait, func(context.Context) error {
		if sum != "" && got != sum {
			_ = os.Remove(spooled)
			return fail(http.StatusBadRequest, "Checksum mismatch: expected %s, actual %s", got, sum)
		}
		if shardLevel {
			// A shard upload is recovered from the spooled temporary file,
			// which is removed afterwards: nothing stays in the shard's
			// snapshot folder.
			defer os.Remove(spooled) //nolint:errcheck // Best effort, as Qdrant's TempFile drop.
			if _, err := n.c.checkShard(col, shardID); err != nil {
				return err
			}
			return n.recoverFile(spooled, prio, col, shardID, true)
		}
		// A collection upload is moved next to the collection's snapshots
		// and stays there (do_save_uploaded_snapshot; API.md 1.7).
		dir := n.collectionDir(col)
		final := filepath.Join(dir, filename)
		if err := os.MkdirAll(dir, 0o750); err != nil || os.Rename(spooled, final) != nil {
			_ = os.Remove(spooled)
			return fail(http.StatusInternalServerError, "Service internal error: cannot store upload")
		}
		return n.recoverFile(final, prio, col, "", false)
	})
}

func (n *Node) recoverFile(p, prio, col, shardID string, shardLevel bool) error {
	f, err := os.Open(p) //nolint:gosec // Inside the node's snapshots folder.
	if err != nil {
		return err
	}
	defer f.Close() //nolint:errcheck // Read-only file.
	return n.recoverStream(f, "", prio, col, shardID, shardLevel)
}

// spool streams the multipart field "snapshot" to a temporary file, hashing it.
func (n *Node) spool(r *http.Request) (path, filename, sum string, err error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return "", "", "", err
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			return "", "", "", errors.New("multipart form has no field `snapshot`")
		}
		if part.FormName() != "snapshot" {
			continue
		}
		dir := filepath.Join(n.snapshotsDir, "tmp", "upload")
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return "", "", "", err
		}
		f, err := os.CreateTemp(dir, "upload-*")
		if err != nil {
			return "", "", "", err
		}
		h := sha256.New()
		_, cerr := io.Copy(io.MultiWriter(f, h), part)
		ferr := f.Close()
		if cerr != nil || ferr != nil {
			_ = os.Remove(f.Name())
			return "", "", "", errors.Join(cerr, ferr)
		}
		name := filepath.Base(part.FileName())
		if name == "." || name == "/" || name == "" {
			name = randomName()
		}
		return f.Name(), name, hex.EncodeToString(h.Sum(nil)), nil
	}
}
