package qdrantemu

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

type snapshotDescription struct {
	Name         string  `json:"name"`
	CreationTime *string `json:"creation_time"`
	Size         int64   `json:"size"`
	Checksum     string  `json:"checksum,omitempty"`
}

func (n *Node) collectionDir(col string) string { return filepath.Join(n.snapshotsDir, col) }

func (n *Node) shardDir(col string, id uint32) string {
	return filepath.Join(n.snapshotsDir, col, "shards", strconv.FormatUint(uint64(id), 10))
}

// views copies the shards of a collection as this node sees them. Called with
// the cluster lock held.
func (n *Node) views(col *collection) []shardView {
	out := make([]shardView, 0, len(col.shards))
	keys, all := col.keysInOrder()
	for _, s := range col.shards {
		v := shardView{id: s.id, key: s.key, thisPeer: n.ID, states: map[uint64]ReplicaState{}, padding: n.c.padding[col.name]}
		for p, r := range s.replicas {
			v.states[p] = r.state
		}
		_, v.local = s.replicas[n.ID]
		if v.local {
			for _, k := range keys {
				if _, ok := s.points[k]; ok {
					v.points = append(v.points, all[k])
				}
			}
		}
		out = append(out, v)
	}
	return out
}

// shardArg parses the shard id of the path and finds the shard, answering 400
// or 404 as Qdrant does. Called with the cluster lock held.
func (n *Node) shardArg(w http.ResponseWriter, r *http.Request, col *collection, file bool) (*shard, bool) {
	id, err := strconv.ParseUint(r.PathValue("shard_id"), 10, 32)
	if err != nil {
		writeError(w, r, file, http.StatusBadRequest, "Deserialize error in path parameters: can not parse \""+r.PathValue("shard_id")+"\" to a u32")
		return nil, false
	}
	s := col.shardByID(uint32(id))
	if s == nil {
		writeError(w, r, file, http.StatusNotFound, fmt.Sprintf("Not found: shard %d not found", id))
		return nil, false
	}
	return s, true
}

// writeSnapshot writes an archive under dir as name, then its checksum sidecar,
// so that listings never show a half-written snapshot (API.md 1.2).
func writeSnapshot(dir, name string, write func(io.Writer) error, mod time.Time) (snapshotDescription, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return snapshotDescription{}, err
	}
	f, err := os.CreateTemp(dir, ".tmp-"+name+"-*")
	if err != nil {
		return snapshotDescription{}, err
	}
	defer os.Remove(f.Name()) //nolint:errcheck // Gone after the rename; removed on failure.
	h := sha256.New()
	if err := write(io.MultiWriter(f, h)); err != nil {
		_ = f.Close()
		return snapshotDescription{}, err
	}
	if err := f.Close(); err != nil {
		return snapshotDescription{}, err
	}
	final := filepath.Join(dir, name)
	if err := os.Rename(f.Name(), final); err != nil {
		return snapshotDescription{}, err
	}
	_ = os.Chtimes(final, mod, mod)
	if err := os.WriteFile(final+".checksum", []byte(hex.EncodeToString(h.Sum(nil))), 0o600); err != nil {
		_ = os.Remove(final)
		return snapshotDescription{}, err
	}
	return describe(dir, name)
}

func describe(dir, name string) (snapshotDescription, error) {
	fi, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		return snapshotDescription{}, err
	}
	ts := fi.ModTime().UTC().Format("2006-01-02T15:04:05")
	d := snapshotDescription{Name: name, Size: fi.Size(), CreationTime: &ts}
	if b, err := os.ReadFile(filepath.Join(dir, name+".checksum")); err == nil { //nolint:gosec // Inside the node's own folder.
		d.Checksum = strings.TrimSpace(string(b))
	}
	return d, nil
}

func listSnapshots(dir string) ([]snapshotDescription, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return []snapshotDescription{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []snapshotDescription{}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".snapshot") {
			d, err := describe(dir, e.Name())
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02-15-04-05") }

// create runs a snapshot creation, honouring wait=false and the hang fault.
func (n *Node) create(w http.ResponseWriter, r *http.Request, snapshot func() (snapshotDescription, error)) {
	wait, ok := queryBool(w, r, "wait", true)
	if !ok {
		return
	}
	if n.c.hanging() {
		<-r.Context().Done()
		return
	}
	if !wait {
		n.c.spawn(func() { _, _ = snapshot() })
		writeAccepted(w)
		return
	}
	d, err := snapshot()
	if err != nil {
		writeError(w, r, false, http.StatusInternalServerError, "Service internal error: "+err.Error())
		return
	}
	writeResult(w, d)
}

func (n *Node) createSnapshot(w http.ResponseWriter, r *http.Request) {
	c := n.c
	c.mu.Lock()
	col := n.lookup(w, r, false)
	if col == nil {
		c.mu.Unlock()
		return
	}
	name, cfg, views := col.name, configFile{Params: col.params, settings: col.settings}, n.views(col)
	indexes := map[string]payloadIndex{}
	for k, v := range col.indexes {
		indexes[k] = v
	}
	now := c.now()
	c.mu.Unlock()
	file := fmt.Sprintf("%s-%d-%s.snapshot", name, n.ID, stamp(now))
	n.create(w, r, func() (snapshotDescription, error) {
		return writeSnapshot(n.collectionDir(name), file, func(w io.Writer) error {
			return writeCollectionArchive(w, cfg, indexes, views, now)
		}, now)
	})
}

func (n *Node) createShardSnapshot(w http.ResponseWriter, r *http.Request) {
	c := n.c
	c.mu.Lock()
	view, name, ok := n.localShard(w, r, false, "is not a local or queue proxy shard")
	now := c.now()
	c.mu.Unlock()
	if !ok {
		return
	}
	file := fmt.Sprintf("%s-shard-%d-%s.snapshot", name, view.id, stamp(now))
	n.create(w, r, func() (snapshotDescription, error) {
		return writeSnapshot(n.shardDir(name, view.id), file, func(w io.Writer) error {
			return writeShardArchive(w, view, now, true)
		}, now)
	})
}

// localShard finds the path's shard and copies it, answering 400 when this
// node holds no replica of it. Called with the cluster lock held.
func (n *Node) localShard(w http.ResponseWriter, r *http.Request, file bool, notLocal string) (shardView, string, bool) {
	col := n.lookup(w, r, file)
	if col == nil {
		return shardView{}, "", false
	}
	s, ok := n.shardArg(w, r, col, file)
	if !ok {
		return shardView{}, "", false
	}
	for _, v := range n.views(col) {
		if v.id == s.id && v.local {
			return v, col.name, true
		}
	}
	writeError(w, r, file, http.StatusBadRequest, fmt.Sprintf("Wrong input: Shard %d %s", s.id, notLocal))
	return shardView{}, "", false
}

func (n *Node) listSnapshots(w http.ResponseWriter, r *http.Request) {
	n.c.mu.Lock()
	col := n.lookup(w, r, false)
	n.c.mu.Unlock()
	if col == nil {
		return
	}
	n.writeList(w, r, n.collectionDir(col.name))
}

func (n *Node) listShardSnapshots(w http.ResponseWriter, r *http.Request) {
	n.c.mu.Lock()
	view, name, ok := n.localShard(w, r, false, "is not a local shard")
	n.c.mu.Unlock()
	if ok {
		n.writeList(w, r, n.shardDir(name, view.id))
	}
}

func (n *Node) writeList(w http.ResponseWriter, r *http.Request, dir string) {
	l, err := listSnapshots(dir)
	if err != nil {
		writeError(w, r, false, http.StatusInternalServerError, "Service internal error: "+err.Error())
		return
	}
	writeResult(w, l)
}

func (n *Node) downloadSnapshot(w http.ResponseWriter, r *http.Request) {
	n.c.mu.Lock()
	col := n.lookup(w, r, true)
	n.c.mu.Unlock()
	if col != nil {
		n.serveFile(w, r, n.collectionDir(col.name), col.name, -1)
	}
}

func (n *Node) downloadShardSnapshot(w http.ResponseWriter, r *http.Request) {
	n.c.mu.Lock()
	view, name, ok := n.localShard(w, r, true, "is not a local shard")
	n.c.mu.Unlock()
	if ok {
		n.serveFile(w, r, n.shardDir(name, view.id), name, int(view.id))
	}
}

// serveFile serves a snapshot as actix-files does: sized, with ranges (API.md
// 1.4). shard is -1 for a collection snapshot.
func (n *Node) serveFile(w http.ResponseWriter, r *http.Request, dir, collection string, shard int) {
	name := r.PathValue("snapshot_name")
	if strings.ContainsAny(name, `/\`) || strings.Contains(name, "..") {
		plain(w, http.StatusNotFound, fmt.Sprintf("Not found: Snapshot %s not found", name))
		return
	}
	f, err := os.Open(filepath.Join(dir, name)) //nolint:gosec // Name checked above.
	if err != nil {
		plain(w, http.StatusNotFound, fmt.Sprintf("Not found: Snapshot %s not found", name))
		return
	}
	defer f.Close() //nolint:errcheck // Read-only file.
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		plain(w, http.StatusNotFound, fmt.Sprintf("Not found: Snapshot %s not found", name))
		return
	}
	fault := n.c.streamFault(n, collection, shard, false)
	if fault != nil && fault.Fault == NoHeaders {
		stall(r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	h.Set("ETag", fmt.Sprintf(`"%x:%x"`, fi.Size(), fi.ModTime().UnixNano()))
	http.ServeContent(n.c.faultyBody(w, r, fault), r, name, fi.ModTime(), f)
}

func (n *Node) deleteSnapshot(w http.ResponseWriter, r *http.Request) {
	n.c.mu.Lock()
	col := n.lookup(w, r, false)
	n.c.mu.Unlock()
	if col != nil {
		n.removeFile(w, r, n.collectionDir(col.name))
	}
}

func (n *Node) deleteShardSnapshot(w http.ResponseWriter, r *http.Request) {
	n.c.mu.Lock()
	col := n.lookup(w, r, false)
	var s *shard
	ok := col != nil
	if ok {
		s, ok = n.shardArg(w, r, col, false)
	}
	n.c.mu.Unlock()
	if ok {
		n.removeFile(w, r, n.shardDir(col.name, s.id))
	}
}

func (n *Node) removeFile(w http.ResponseWriter, r *http.Request, dir string) {
	wait, ok := queryBool(w, r, "wait", true)
	if !ok {
		return
	}
	name := r.PathValue("snapshot_name")
	p := filepath.Join(dir, name)
	valid := !strings.ContainsAny(name, `/\`) && !strings.Contains(name, "..")
	if !wait {
		// Always 202, even for a snapshot that does not exist (API.md 1.5).
		if valid {
			n.c.spawn(func() { _ = os.Remove(p); _ = os.Remove(p + ".checksum") })
		}
		writeAccepted(w)
		return
	}
	if !valid || os.Remove(p) != nil {
		writeError(w, r, false, http.StatusNotFound, fmt.Sprintf("Not found: Snapshot %s not found", name))
		return
	}
	_ = os.Remove(p + ".checksum")
	writeResult(w, true)
}

// idleAbort gives every write to a streamed body timeout to go through: a
// consumer that stops reading for that long makes the write fail, which ends
// the handler and cuts the connection, as Qdrant aborts the stream.
func idleAbort(w http.ResponseWriter, body io.Writer, timeout time.Duration) io.Writer {
	return &deadlineWriter{rc: http.NewResponseController(w), w: body, timeout: timeout}
}

type deadlineWriter struct {
	rc      *http.ResponseController
	w       io.Writer
	timeout time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.w.Write(p)
}

// streamShardSnapshot streams a fresh shard snapshot without storing it: no
// Content-Length, no checksum (API.md 3).
func (n *Node) streamShardSnapshot(w http.ResponseWriter, r *http.Request) {
	c := n.c
	c.mu.Lock()
	view, name, ok := n.localShard(w, r, true, "is not a local or queue proxy shard")
	now := c.now()
	c.mu.Unlock()
	if !ok {
		return
	}
	f := c.streamFault(n, name, int(view.id), true)
	if c.hanging() || (f != nil && f.Fault == NoHeaders) {
		stall(r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fmt.Sprintf("%s-shard-%d-%s.snapshot", name, view.id, stamp(now))))
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush() // Forces a chunked body, as Qdrant's stream has.
	}
	body := idleAbort(w, c.wrapBody(w, r, f), c.opts.StreamIdleTimeout)
	defer func() { _ = http.NewResponseController(w).SetWriteDeadline(time.Time{}) }()
	switch {
	case f == nil:
		_ = writeShardArchive(body, view, now, true)
	case f.Fault == EmptyBody:
	case f.Fault == NotTar:
		size := f.After
		if size == 0 {
			size = 64 << 10
		}
		_, _ = io.CopyN(body, newPadding(view.id), size)
	case f.Fault == NoEndOfArchive:
		_ = writeShardArchive(body, view, now, false)
	default:
		_ = writeShardArchive(body, view, now, true)
	}
}
