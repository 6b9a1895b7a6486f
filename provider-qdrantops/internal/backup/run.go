package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backupplan"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
)

// A Request is one backup to run.
type Request struct {
	Layout      manifest.Layout
	Backup      manifest.BackupRef
	Cluster     string
	Collections []string // empty: all
	Parallelism int
	// Attempts bounds the tries of each shard, across its sources.
	Attempts int
	// RetryDelay is the first wait between tries; it doubles up to a minute.
	RetryDelay time.Duration
	Now        func() time.Time
	// Report receives the progress after every change, one call at a time;
	// it must not block.
	Report func(Status)
}

// Status is a backup's progress.
type Status struct {
	StartedAt   time.Time
	ShardsTotal int
	ShardsDone  int
	// ShardsReused counts shards kept from an earlier, interrupted run.
	ShardsReused int
	BytesDone    int64
	Collections  map[string][]manifest.Shard
	// ShardNumbers is each selected collection's number of shards.
	ShardNumbers map[string]int
	// Retrying explains the latest failed try that will be retried.
	Retrying string
	// CompletedAt is when the manifest was written.
	CompletedAt time.Time
}

// Error is a failure with a message fit for a condition: what failed and
// what to do. Permanent errors are not worth retrying the backup for.
type Error struct {
	Reason    string
	Message   string
	Permanent bool
	Err       error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Reasons of Error, CamelCase as condition reasons are.
const (
	ReasonQdrantUnreachable = "QdrantUnreachable"
	ReasonUnknownCollection = "UnknownCollection"
	ReasonNoActiveReplica   = "NoActiveReplica"
	ReasonShardFailed       = "ShardFailed"
	ReasonStorageFailed     = "StorageFailed"
)

// sidecar records a finished shard object beside it, so that a later run can
// keep it without reading it again.
type sidecar struct {
	SHA256     string `json:"sha256"`
	SizeBytes  int64  `json:"sizeBytes"`
	SourcePeer uint64 `json:"sourcePeer"`
}

const sidecarSuffix = ".sha256.json"

// Run runs a backup to its end and returns its manifest, written last.
func Run(ctx context.Context, c Cluster, s Store, req Request) (manifest.Manifest, error) {
	req = withDefaults(req)
	r := &run{c: c, s: s, req: req, st: Status{StartedAt: req.Now().UTC(), Collections: map[string][]manifest.Shard{}}}
	return r.run(ctx)
}

func withDefaults(req Request) Request {
	if req.Parallelism <= 0 {
		req.Parallelism = 4
	}
	if req.Attempts <= 0 {
		req.Attempts = 4
	}
	if req.RetryDelay <= 0 {
		req.RetryDelay = time.Second
	}
	if req.Now == nil {
		req.Now = time.Now
	}
	if req.Report == nil {
		req.Report = func(Status) {}
	}
	return req
}

type run struct {
	c   Cluster
	s   Store
	req Request

	mu sync.Mutex
	st Status
}

func (r *run) run(ctx context.Context) (manifest.Manifest, error) {
	version, err := r.c.Version(ctx)
	if err != nil {
		return manifest.Manifest{}, &Error{Reason: ReasonQdrantUnreachable, Message: "cannot reach Qdrant: " + err.Error(), Err: err}
	}
	all, err := r.c.Collections(ctx)
	if err != nil {
		return manifest.Manifest{}, &Error{Reason: ReasonQdrantUnreachable, Message: "cannot list collections: " + err.Error(), Err: err}
	}
	names, err := backupplan.Select(all, r.req.Collections)
	if err != nil {
		return manifest.Manifest{}, &Error{Reason: ReasonUnknownCollection, Message: err.Error() + "; fix spec.forProvider.collections", Permanent: true, Err: err}
	}
	cols, placement, err := r.describe(ctx, names)
	if err != nil {
		return manifest.Manifest{}, err
	}
	tasks, err := backupplan.Plan(placement, r.c.Down(ctx))
	if err != nil {
		return manifest.Manifest{}, &Error{Reason: ReasonNoActiveReplica, Message: err.Error() + "; bring the peers holding them back, or wait for their replicas to become Active", Err: err}
	}
	// Leftovers of an interrupted run: incomplete uploads are never reused.
	if _, err := r.s.AbortUploads(ctx, r.req.Layout.Root()); err != nil {
		return manifest.Manifest{}, &Error{Reason: ReasonStorageFailed, Message: "cannot clean up incomplete uploads: " + err.Error(), Err: err}
	}
	perCollection := map[string]int{}
	for _, t := range tasks {
		perCollection[t.Collection]++
	}
	// ShardNumbers is set once and never changed, so reports may share it.
	r.update(func(st *Status) { st.ShardsTotal, st.ShardNumbers = len(tasks), perCollection })

	if err := r.transfer(ctx, tasks); err != nil {
		return manifest.Manifest{}, err
	}
	m := manifest.Manifest{
		FormatVersion: manifest.FormatVersion,
		Backup:        r.req.Backup,
		Cluster:       r.req.Cluster,
		QdrantVersion: version,
		StartedAt:     r.st.StartedAt,
	}
	for _, col := range cols {
		r.mu.Lock()
		col.Shards = append([]manifest.Shard(nil), r.st.Collections[col.Name]...)
		r.mu.Unlock()
		m.Collections = append(m.Collections, col)
	}
	m.CompletedAt = r.req.Now().UTC()
	b, err := manifest.Encode(m)
	if err != nil {
		return manifest.Manifest{}, &Error{Reason: ReasonShardFailed, Message: "the backup is incomplete: " + err.Error(), Err: err}
	}
	// The manifest is written last: without it, the objects are not a backup.
	if err := r.s.PutBytes(ctx, r.req.Layout.ManifestKey(), b, "application/json"); err != nil {
		return manifest.Manifest{}, &Error{Reason: ReasonStorageFailed, Message: "cannot write the manifest: " + err.Error(), Err: err}
	}
	r.update(func(st *Status) { st.CompletedAt = m.CompletedAt })
	return m, nil
}

func (r *run) describe(ctx context.Context, names []string) ([]manifest.Collection, []backupplan.Collection, error) {
	aliases, err := r.c.Aliases(ctx)
	if err != nil {
		return nil, nil, &Error{Reason: ReasonQdrantUnreachable, Message: "cannot list aliases: " + err.Error(), Err: err}
	}
	var cols []manifest.Collection
	var placement []backupplan.Collection
	for _, n := range names {
		d, err := r.c.Describe(ctx, n)
		if err != nil {
			return nil, nil, &Error{Reason: ReasonQdrantUnreachable, Message: fmt.Sprintf("cannot read collection %s: %v", n, err), Err: err}
		}
		shards, err := r.c.Placement(ctx, n)
		if err != nil {
			return nil, nil, &Error{Reason: ReasonQdrantUnreachable, Message: fmt.Sprintf("cannot read the shard placement of %s: %v", n, err), Err: err}
		}
		points, err := r.c.Count(ctx, n)
		if err != nil {
			return nil, nil, &Error{Reason: ReasonQdrantUnreachable, Message: fmt.Sprintf("cannot count the points of %s: %v", n, err), Err: err}
		}
		idx := map[string]manifest.PayloadIndex{}
		for f, pi := range d.PayloadIndexes {
			idx[f] = manifest.PayloadIndex{DataType: pi.DataType, Params: pi.Params}
		}
		as := append([]string(nil), aliases[n]...)
		sort.Strings(as)
		method := d.ShardingMethod
		if method == "" {
			method = "auto"
		}
		cols = append(cols, manifest.Collection{
			Name: n, ShardNumber: d.ShardNumber, ReplicationFactor: d.ReplicationFactor, ShardingMethod: method,
			Config: d.Config, ShardKeys: d.ShardKeys, PayloadIndexes: idx, Aliases: as, Points: points,
		})
		placement = append(placement, backupplan.Collection{Name: n, Shards: shards})
	}
	return cols, placement, nil
}

// update changes the status and reports it. Reports are made under the lock:
// shards finish concurrently, and Report sees one change at a time, in order.
func (r *run) update(f func(*Status)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.st)
	st := r.st
	st.Collections = map[string][]manifest.Shard{}
	for k, v := range r.st.Collections {
		st.Collections[k] = append([]manifest.Shard(nil), v...)
	}
	r.req.Report(st)
}

// transfer moves every shard with bounded parallelism; the first shard that
// fails for good stops the others.
func (r *run) transfer(ctx context.Context, tasks []backupplan.Task) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, r.req.Parallelism)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for _, t := range tasks {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(t backupplan.Task) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := r.shard(ctx, t); err != nil {
				once.Do(func() { firstErr = err; cancel() })
			}
		}(t)
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func (r *run) shard(ctx context.Context, t backupplan.Task) error {
	object := manifest.ShardObject(t.Collection, t.ShardID)
	key := r.req.Layout.Key(object)
	if sc, ok := r.finished(ctx, key); ok {
		r.done(t, object, sc, true)
		return nil
	}
	var errs []string
	delay := r.req.RetryDelay
	for attempt := 0; attempt < r.req.Attempts; attempt++ {
		// Rotate through the shard's Active holders: a peer that fails is
		// not tried again before the others.
		peer := t.Sources[attempt%len(t.Sources)]
		size, sum, err := r.copyShard(ctx, peer, t, key)
		if err == nil {
			sc := sidecar{SHA256: sum, SizeBytes: size, SourcePeer: peer}
			b, _ := json.Marshal(sc)
			if err := r.s.PutBytes(ctx, key+sidecarSuffix, b, "application/json"); err != nil {
				return &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("cannot record shard %s/%d: %v", t.Collection, t.ShardID, err), Err: err}
			}
			r.done(t, object, sc, false)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		errs = append(errs, fmt.Sprintf("peer %d: %v", peer, err))
		r.update(func(st *Status) {
			st.Retrying = fmt.Sprintf("shard %s/%d from peer %d failed (try %d of %d): %v", t.Collection, t.ShardID, peer, attempt+1, r.req.Attempts, err)
		})
		if attempt+1 < r.req.Attempts {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return ctx.Err()
			}
			delay = min(delay*2, time.Minute)
		}
	}
	return &Error{
		Reason:  ReasonShardFailed,
		Message: fmt.Sprintf("shard %d of collection %s failed after %d tries: %s", t.ShardID, t.Collection, r.req.Attempts, strings.Join(dedupe(errs), "; ")),
	}
}

func (r *run) copyShard(ctx context.Context, peer uint64, t backupplan.Task, key string) (int64, string, error) {
	body, err := r.c.StreamShard(ctx, peer, t.Collection, t.ShardID)
	if err != nil {
		return 0, "", err
	}
	defer body.Close() //nolint:errcheck // Read-only stream; errors surface while reading.
	counted := &counter{r: body, add: func(n int) { r.update(func(st *Status) { st.BytesDone += int64(n) }) }}
	size, sum, err := r.s.PutStream(ctx, key, counted)
	if err != nil {
		// Bytes of a failed try do not count.
		r.update(func(st *Status) { st.BytesDone -= counted.added })
		return 0, "", err
	}
	return size, sum, nil
}

// finished says whether an earlier run stored this shard completely: its
// sidecar exists and the object has the recorded size.
func (r *run) finished(ctx context.Context, key string) (sidecar, bool) {
	body, _, err := r.s.Get(ctx, key+sidecarSuffix)
	if err != nil {
		return sidecar{}, false
	}
	defer body.Close() //nolint:errcheck // Small read-only object.
	var sc sidecar
	if err := json.NewDecoder(io.LimitReader(body, 4096)).Decode(&sc); err != nil || sc.SHA256 == "" {
		return sidecar{}, false
	}
	size, err := r.s.Head(ctx, key)
	if err != nil || size != sc.SizeBytes {
		return sidecar{}, false
	}
	return sc, true
}

func (r *run) done(t backupplan.Task, object string, sc sidecar, reused bool) {
	r.update(func(st *Status) {
		st.ShardsDone++
		if reused {
			st.ShardsReused++
		}
		st.Collections[t.Collection] = append(st.Collections[t.Collection], manifest.Shard{
			ID: t.ShardID, ShardKey: t.ShardKey, Object: object, SizeBytes: sc.SizeBytes, SHA256: sc.SHA256, SourcePeer: sc.SourcePeer,
		})
	})
}

// counter reports bytes as they stream, in chunks, to keep reports cheap.
type counter struct {
	r       io.Reader
	added   int64
	pending int
	add     func(int)
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.pending += n
	if c.pending >= 4<<20 || (err != nil && c.pending > 0) {
		c.add(c.pending)
		c.added += int64(c.pending)
		c.pending = 0
	}
	return n, err
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// IsPermanent says whether retrying the same backup cannot help.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}
