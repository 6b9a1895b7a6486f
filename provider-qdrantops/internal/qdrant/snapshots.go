package qdrant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
)

// scope is where snapshots live: a collection, or one shard of it. The same
// six operations exist under both paths.
type scope struct {
	path string // escaped /collections/{c} or /collections/{c}/shards/{id}
	desc string // for messages: collection "c" / shard 3 of collection "c"
	err  error  // an invalid collection name, reported by every operation
}

func collectionScope(collection string) scope {
	p, err := collectionPath(collection)
	return scope{path: p, desc: fmt.Sprintf("collection %q", collection), err: err}
}

// CreateSnapshot snapshots the collection's local shards on this node. With
// wait=false Qdrant answers 202 without a name: the description is nil and
// the caller polls ListSnapshots. Not retried: a retry would make a second
// snapshot, since the first keeps being built after a disconnect.
func (c *Client) CreateSnapshot(ctx context.Context, collection string, wait bool) (*SnapshotDescription, error) {
	return c.createSnapshot(ctx, collectionScope(collection), wait)
}

// ListSnapshots lists this node's snapshots of the collection, sorted by name.
func (c *Client) ListSnapshots(ctx context.Context, collection string) ([]SnapshotDescription, error) {
	return c.listSnapshots(ctx, collectionScope(collection))
}

// DownloadSnapshot opens a snapshot file. Filename falls back to name when
// Qdrant sends no Content-Disposition (S3 mode). The caller must Close Body.
func (c *Client) DownloadSnapshot(ctx context.Context, collection, name string) (*Download, error) {
	return c.downloadSnapshot(ctx, collectionScope(collection), name)
}

// DeleteSnapshot deletes a snapshot file and its checksum sidecar.
func (c *Client) DeleteSnapshot(ctx context.Context, collection, name string, wait bool) error {
	return c.deleteSnapshot(ctx, collectionScope(collection), name, wait)
}

// RecoverSnapshot makes Qdrant fetch and restore a collection snapshot from
// rec.Location (http, https or file URL), creating the collection if needed.
// Set rec.Priority explicitly. Not retried.
func (c *Client) RecoverSnapshot(ctx context.Context, collection string, rec SnapshotRecover, wait bool) error {
	return c.recoverSnapshot(ctx, collectionScope(collection), rec, wait)
}

// UploadSnapshot streams a collection snapshot to Qdrant and restores it.
// Qdrant keeps the file under filename in the collection's snapshot
// directory. body is read once and never buffered; it is not closed.
func (c *Client) UploadSnapshot(ctx context.Context, collection string, body io.Reader, filename string, opts UploadOptions) error {
	return c.uploadSnapshot(ctx, collectionScope(collection), body, filename, opts)
}

func (c *Client) createSnapshot(ctx context.Context, s scope, wait bool) (*SnapshotDescription, error) {
	var desc SnapshotDescription
	err := s.err
	accepted := false
	if err == nil {
		r := &request{method: http.MethodPost, path: s.path + "/snapshots", query: waitQuery(wait)}
		accepted, err = c.doJSON(ctx, r, &desc)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot create snapshot of %s: %w", s.desc, err)
	}
	if accepted {
		return nil, nil
	}
	return &desc, nil
}

func (c *Client) listSnapshots(ctx context.Context, s scope) ([]SnapshotDescription, error) {
	var list []SnapshotDescription
	err := s.err
	if err == nil {
		_, err = c.doJSON(ctx, &request{method: http.MethodGet, path: s.path + "/snapshots", idempotent: true}, &list)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot list snapshots of %s: %w", s.desc, err)
	}
	// Qdrant lists in directory order.
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list, nil
}

func (c *Client) downloadSnapshot(ctx context.Context, s scope, name string) (*Download, error) {
	err := s.err
	if err == nil {
		err = checkName("snapshot", name)
	}
	var d *Download
	if err == nil {
		r := &request{method: http.MethodGet, path: s.path + "/snapshots/" + url.PathEscape(name), idempotent: true, stream: true}
		d, err = c.download(ctx, r, name)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot download snapshot %q of %s: %w", name, s.desc, err)
	}
	return d, nil
}

func (c *Client) deleteSnapshot(ctx context.Context, s scope, name string, wait bool) error {
	err := s.err
	if err == nil {
		err = checkName("snapshot", name)
	}
	if err == nil {
		// Deleting twice is harmless (the second gets a 404), so a lost
		// answer may be retried.
		r := &request{method: http.MethodDelete, path: s.path + "/snapshots/" + url.PathEscape(name),
			query: waitQuery(wait), idempotent: true}
		_, err = c.doJSON(ctx, r, nil)
	}
	if err != nil {
		return fmt.Errorf("cannot delete snapshot %q of %s: %w", name, s.desc, err)
	}
	return nil
}

func (c *Client) recoverSnapshot(ctx context.Context, s scope, rec SnapshotRecover, wait bool) error {
	err := s.err
	if err == nil && rec.Location == "" {
		err = errors.New("empty location")
	}
	if err == nil {
		var b []byte
		if b, err = json.Marshal(rec); err == nil { //nolint:gosec // Qdrant's recover API takes the source's API key in the body; locationSecrets keeps it out of errors.
			r := &request{method: http.MethodPut, path: s.path + "/snapshots/recover", query: waitQuery(wait),
				body: b, secrets: locationSecrets(rec)}
			_, err = c.doJSON(ctx, r, nil)
		}
	}
	if err != nil {
		// Never print rec.Location: a presigned URL is a credential.
		return fmt.Errorf("cannot recover %s from snapshot: %w", s.desc, err)
	}
	return nil
}

// locationSecrets lists what Qdrant might echo of a recover request that must
// not reach an error: the whole location, its query in raw and decoded form,
// and the api key for the remote.
func locationSecrets(rec SnapshotRecover) []string {
	secrets := []string{rec.Location, rec.APIKey}
	if u, err := url.Parse(rec.Location); err == nil && u.RawQuery != "" {
		secrets = append(secrets, u.RawQuery)
		if q, err := url.QueryUnescape(u.RawQuery); err == nil {
			secrets = append(secrets, q)
		}
		for _, vs := range u.Query() {
			for _, v := range vs {
				if len(v) >= 8 { // short values like "3600" would scrub unrelated text
					secrets = append(secrets, v)
				}
			}
		}
	}
	return secrets
}

func (c *Client) uploadSnapshot(ctx context.Context, s scope, body io.Reader, filename string, opts UploadOptions) error {
	err := s.err
	if err == nil {
		q := waitQuery(opts.Wait)
		if opts.Priority != "" {
			q.Set("priority", string(opts.Priority))
		}
		if opts.Checksum != "" {
			q.Set("checksum", opts.Checksum)
		}
		err = c.upload(ctx, &request{method: http.MethodPost, path: s.path + "/snapshots/upload", query: q}, body, filename)
	}
	if err != nil {
		return fmt.Errorf("cannot upload snapshot %q to %s: %w", filename, s.desc, err)
	}
	return nil
}
