package qdrantemu

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// httpError is a failure with the status and message Qdrant would answer.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func fail(code int, format string, args ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

var hex64 = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

type recoverRequest struct {
	Location string  `json:"location"`
	Priority *string `json:"priority"`
	Checksum *string `json:"checksum"`
	APIKey   *string `json:"api_key"`
}

// recoverArgs validates priority and checksum as Qdrant's deserializer and
// validator do: a bad enum is a 400, a bad checksum a 422.
func recoverArgs(priority, checksum *string) (string, string, error) {
	p := "snapshot" // The default since 1.10.
	if priority != nil {
		switch *priority {
		case "snapshot", "replica", "no_sync":
			p = *priority
		default:
			return "", "", fail(http.StatusBadRequest, "Format error in JSON body: unknown variant `%s`, expected one of `no_sync`, `snapshot`, `replica`", *priority)
		}
	}
	sum := ""
	if checksum != nil {
		if !hex64.MatchString(*checksum) {
			return "", "", fail(http.StatusUnprocessableEntity, "Validation error in JSON body: [checksum: value must be a 64-character hex string]")
		}
		sum = strings.ToLower(*checksum)
	}
	return p, sum, nil
}

func (n *Node) answer(w http.ResponseWriter, r *http.Request, file bool, wait bool, run func(context.Context) error) {
	if !wait {
		// Qdrant runs the work in a spawned task and reports errors only in
		// its log.
		// Outlives the request on purpose, as Qdrant's spawned task does.
		n.c.spawn(func() { _ = run(context.Background()) })
		writeAccepted(w)
		return
	}
	if err := run(r.Context()); err != nil {
		var he *httpError
		if errors.As(err, &he) {
			writeError(w, r, file, he.code, he.msg)
			return
		}
		writeError(w, r, file, http.StatusInternalServerError, "Service internal error: "+err.Error())
		return
	}
	writeResult(w, true)
}

func (n *Node) recoverSnapshot(w http.ResponseWriter, r *http.Request) {
	n.recoverFromLocation(w, r, false)
}

func (n *Node) recoverShardSnapshot(w http.ResponseWriter, r *http.Request) {
	n.recoverFromLocation(w, r, true)
}

func (n *Node) recoverFromLocation(w http.ResponseWriter, r *http.Request, shardLevel bool) {
	wait, ok := queryBool(w, r, "wait", true)
	if !ok {
		return
	}
	var req recoverRequest
	if !decodeBody(w, r, &req) {
		return
	}
	priority, sum, err := recoverArgs(req.Priority, req.Checksum)
	if err != nil {
		var he *httpError
		errors.As(err, &he)
		writeError(w, r, false, he.code, he.msg)
		return
	}
	u, err := url.Parse(req.Location)
	isURL := err == nil && u.Scheme != "" && u.Host+u.Path != ""
	if !isURL && !shardLevel {
		writeError(w, r, false, http.StatusBadRequest, "Format error in JSON body: location: relative URL without a base")
		return
	}
	if isURL && (u.Scheme == "http" || u.Scheme == "https") && n.c.opts.DisableURLRecovery {
		writeError(w, r, false, http.StatusForbidden, "Forbidden: Snapshot recovery from remote URLs is disabled in the configuration")
		return
	}
	col := r.PathValue("collection_name")
	shardID := r.PathValue("shard_id")
	n.answer(w, r, false, wait, func(ctx context.Context) error {
		if shardLevel {
			// The collection and the shard must exist before anything is read.
			if _, err := n.c.checkShard(col, shardID); err != nil {
				return err
			}
		}
		body, err := n.open(ctx, req, u, isURL, shardLevel, col, shardID)
		if err != nil {
			return err
		}
		defer body.Close() //nolint:errcheck // Read-only stream.
		return n.recoverStream(body, sum, priority, col, shardID, shardLevel)
	})
}

// open opens a recovery location: an http(s) URL, a file:// inside the
// snapshots directory (collections), or a bare file name (shards).
func (n *Node) open(ctx context.Context, req recoverRequest, u *url.URL, isURL, shardLevel bool, col, shardID string) (io.ReadCloser, error) {
	if !isURL {
		// A bare name: only its file name counts, looked up in this shard's
		// snapshot folder; a missing one is a 404 (src/common/snapshots.rs,
		// check_shard_snapshot_file_exists).
		name := filepath.Base(req.Location)
		f, err := os.Open(filepath.Join(n.snapshotsDir, col, "shards", shardID, name)) //nolint:gosec // A base name inside the node's own folder.
		if err != nil {
			return nil, fail(http.StatusNotFound, "Not found: Snapshot %s not found", name)
		}
		return f, nil
	}
	if shardLevel && u.Scheme != "http" && u.Scheme != "https" {
		return nil, fail(http.StatusBadRequest, "Wrong input: Invalid snapshot URL %s: URLs with %s scheme are not supported", req.Location, u.Scheme)
	}
	switch u.Scheme {
	case "http", "https":
		return n.fetch(ctx, req, u, shardLevel)
	case "file":
		// lib/storage/src/content_manager/snapshots/download.rs: a file that
		// does not exist is a 400, wherever it is; one that exists outside
		// the snapshots directory is refused with 403 (API.md 1.6).
		if u.Host != "" && u.Host != "localhost" {
			return nil, fail(http.StatusBadRequest, "Bad request: Invalid snapshot URI, file path must be absolute or on localhost")
		}
		p := filepath.Clean(u.Path)
		if _, err := os.Stat(p); err != nil { //nolint:gosec // Qdrant checks that the file exists before where it is: only its existence is revealed, never its content.
			return nil, fail(http.StatusBadRequest, "Bad request: Snapshot file %q does not exist", p)
		}
		root := filepath.Clean(n.snapshotsDir) + string(filepath.Separator)
		if !strings.HasPrefix(p, root) {
			return nil, fail(http.StatusForbidden, "Forbidden: Snapshot file path must be inside the snapshots directory %s", n.snapshotsDir)
		}
		return openLocal(p)
	}
	return nil, fail(http.StatusBadRequest, "Bad request: URL %s with scheme %s is not supported", req.Location, u.Scheme)
}

// fetch GETs an http(s) location as Qdrant's reqwest client does. A request
// that gets no answer (connection refused, DNS) is a 500 "Http request error"
// (From<reqwest::Error> for StorageError); a non-2xx answer is a 400.
func (n *Node) fetch(ctx context.Context, req recoverRequest, u *url.URL, shardLevel bool) (io.ReadCloser, error) {
	if n.c.unreachable(u) {
		return nil, fail(http.StatusInternalServerError, "Service internal error: Http request error: error sending request for url (%s)", u)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fail(http.StatusBadRequest, "Bad request: %v", err)
	}
	if req.APIKey != nil {
		hreq.Header.Set("api-key", *req.APIKey)
	}
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		return nil, fail(http.StatusInternalServerError, "Service internal error: Http request error: error sending request for url (%s)", u)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_ = resp.Body.Close()
		what := "tar" // Collections stream into the unpacker (download_tar.rs).
		if shardLevel {
			what = "snapshot" // Shards are downloaded first (download.rs).
		}
		return nil, fail(http.StatusBadRequest, "Wrong input: Failed to download %s from %s: status - %s", what, u, resp.Status)
	}
	return resp.Body, nil
}

// unreachable says whether the nodes cannot connect to the URL's host.
func (c *Cluster) unreachable(u *url.URL) bool {
	for _, h := range c.opts.UnreachableHosts {
		if strings.EqualFold(h, u.Host) || strings.EqualFold(h, u.Hostname()) {
			return true
		}
	}
	return false
}

func openLocal(p string) (io.ReadCloser, error) {
	f, err := os.Open(p) //nolint:gosec // Confined to the snapshots directory by the caller.
	if err != nil {
		return nil, fail(http.StatusBadRequest, "Bad request: Snapshot file %q does not exist", p)
	}
	return f, nil
}

// recoverStream reads a snapshot, checks its checksum, and only then changes
// the cluster: a mismatch leaves the collection untouched.
func (n *Node) recoverStream(body io.Reader, sum, priority, col, shardID string, shardLevel bool) error {
	h := sha256.New()
	a, err := readArchive(io.TeeReader(body, h))
	if err != nil {
		// Unpacking errors are service errors (download_tar.rs).
		return fail(http.StatusInternalServerError, "Service internal error: Failed to unpack tar archive: %v", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); sum != "" && got != sum {
		return fail(http.StatusBadRequest, "Wrong input: Snapshot checksum mismatch: expected %s, got %s", sum, got)
	}
	if shardLevel {
		return n.c.applyShard(n, a, col, shardID, priority)
	}
	return n.c.applyCollection(n, a, col, priority)
}

func (c *Cluster) checkShard(col, shardID string) (*shard, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.shardLocked(col, shardID)
}

func (c *Cluster) shardLocked(col, shardID string) (*shard, error) {
	cl, ok := c.collections[col]
	if !ok {
		return nil, fail(http.StatusNotFound, "%s", notFoundCollection(col))
	}
	var id uint32
	if _, err := fmt.Sscan(shardID, &id); err != nil {
		return nil, fail(http.StatusBadRequest, "Deserialize error in path parameters: can not parse %q to a u32", shardID)
	}
	s := cl.shardByID(id)
	if s == nil {
		return nil, fail(http.StatusNotFound, "Not found: shard %d not found", id)
	}
	return s, nil
}

func (c *Cluster) applyCollection(n *Node, a *archive, name, priority string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a.config == nil {
		return fail(http.StatusBadRequest, "Bad input: snapshot has no config.json")
	}
	col, ok := c.collections[name]
	if !ok {
		// A missing collection is created from the snapshot's config (API.md 1.6).
		col = c.newCollection(name, a.config.Params, a.config.settings)
		for k, v := range a.indexes {
			col.indexes[k] = v
		}
		c.collections[name] = col
	} else {
		if !sameJSON(col.params.Vectors, a.config.Params.Vectors) {
			return fail(http.StatusBadRequest, "Wrong input: Snapshot is not compatible with existing collection: Collection vectors: %s Snapshot Vectors: %s", col.params.Vectors, a.config.Params.Vectors)
		}
		if col.params.ShardNumber != a.config.Params.ShardNumber {
			return fail(http.StatusBadRequest, "Wrong input: Snapshot is not compatible with existing collection: Collection shard number: %d Snapshot shard number: %d", col.params.ShardNumber, a.config.Params.ShardNumber)
		}
	}
	now := c.now()
	for id, pts := range a.shards {
		s := col.shardByID(id)
		if s == nil {
			continue
		}
		local := s.replica(n.ID)
		others := s.activeOthers(n.ID)
		switch {
		case len(others) == 0 || priority == "no_sync":
			s.replace(pts)
			local.state = Active
		case priority == "snapshot":
			s.replace(pts)
			local.state = Active
			// Keep replication_factor replicas: drop the surplus, the rest re-sync.
			surplus := len(others) - (int(col.params.ReplicationFactor) - 1)
			for i, p := range others {
				if i < surplus {
					delete(s.replicas, p)
					continue
				}
				s.replicas[p].kill(now.Add(c.opts.ResyncDelay))
			}
		case priority == "replica":
			// The existing replica's data wins over the snapshot's.
			local.kill(now.Add(c.opts.ResyncDelay))
		}
	}
	return nil
}

func (c *Cluster) applyShard(n *Node, a *archive, col, shardID, priority string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.shardLocked(col, shardID)
	if err != nil {
		return err
	}
	if len(a.shards) != 1 {
		return fail(http.StatusBadRequest, "Bad input: snapshot holds %d shards, want one", len(a.shards))
	}
	var pts []*point
	for _, p := range a.shards {
		pts = p
	}
	now := c.now()
	local := s.replica(n.ID)
	switch priority {
	case "snapshot":
		s.replace(pts)
		local.state = Active
		for _, p := range s.activeOthers(n.ID) {
			s.replicas[p].kill(now.Add(c.opts.ResyncDelay))
		}
	case "no_sync":
		s.replace(pts)
		local.state = Active
	case "replica":
		local.kill(now.Add(c.opts.ResyncDelay))
	}
	return nil
}

// replica returns this peer's replica, creating it as Qdrant does when a
// snapshot is recovered on a node that had none.
func (s *shard) replica(peer uint64) *replica {
	r, ok := s.replicas[peer]
	if !ok {
		r = &replica{state: ManualRecovery}
		s.replicas[peer] = r
	}
	return r
}

func (s *shard) activeOthers(peer uint64) []uint64 {
	var out []uint64
	for _, p := range s.peers() {
		if st := s.replicas[p].state; p != peer && (st == Active || st == ReshardingScaleDown) {
			out = append(out, p)
		}
	}
	return out
}

func (s *shard) replace(pts []*point) {
	s.points = map[string]*point{}
	for _, p := range pts {
		if k, err := pointKey(p.ID); err == nil {
			s.points[k] = p
		}
	}
}

func (r *replica) kill(resyncAt time.Time) {
	r.state = Dead
	r.resyncAt = resyncAt
}

func sameJSON(a, b json.RawMessage) bool {
	var x, y bytes.Buffer
	if json.Compact(&x, a) != nil || json.Compact(&y, b) != nil {
		return false
	}
	var xv, yv any
	_ = json.Unmarshal(x.Bytes(), &xv)
	_ = json.Unmarshal(y.Bytes(), &yv)
	xb, _ := json.Marshal(xv)
	yb, _ := json.Marshal(yv)
	return bytes.Equal(xb, yb)
}

func randomName() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
