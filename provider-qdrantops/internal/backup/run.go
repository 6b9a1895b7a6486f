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
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

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
	// StartedAt is when the backup first started; a resumed run keeps it.
	// Zero means now.
	StartedAt time.Time
	// ShardGrace and MinRate bound each shard's transfer: it may take
	// ShardGrace plus one second per MinRate bytes moved, so that a peer
	// that trickles cannot hold the backup for ever while a large shard
	// moving at a healthy rate is never cut.
	ShardGrace time.Duration
	MinRate    int64
	// Report receives the progress after every change, one call at a time;
	// it must not block.
	Report func(Status)
	// SamplePoints is how many points of each collection are recorded, by
	// id and digest, for a restore to compare: 0 means
	// DefaultSamplePoints, a negative number none.
	SamplePoints int
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
	ReasonLocationTaken     = "LocationTaken"
	ReasonInvalidLocation   = "InvalidLocation"
	ReasonSampleFailed      = "SampleFailed"
)

// sidecar records a shard object beside it. It is written twice: as a claim,
// naming the Backup, before the object is streamed, and with the object's
// checksum once it is stored. A later run of the same Backup keeps a shard
// whose sidecar is complete and names it; a deletion removes only objects
// whose sidecar names the Backup. An object without such a sidecar is
// never this Backup's.
type sidecar struct {
	BackupUID  string `json:"backupUID"`
	SHA256     string `json:"sha256,omitempty"`
	SizeBytes  int64  `json:"sizeBytes,omitempty"`
	SourcePeer uint64 `json:"sourcePeer,omitempty"`
}

const sidecarSuffix = ".sha256.json"

// Run runs a backup to its end and returns its manifest, written last.
func Run(ctx context.Context, c Cluster, s Store, req Request) (manifest.Manifest, error) {
	req = withDefaults(req)
	if err := req.Layout.Validate(); err != nil {
		return manifest.Manifest{}, &Error{Reason: ReasonInvalidLocation, Message: "the backup's location is invalid: " + err.Error(), Permanent: true, Err: err}
	}
	if req.Backup.UID == "" {
		return manifest.Manifest{}, &Error{Reason: ReasonInvalidLocation, Message: "the backup has no uid", Permanent: true}
	}
	r := &run{c: c, s: s, req: req, st: Status{StartedAt: req.StartedAt.UTC(), Collections: map[string][]manifest.Shard{}}}
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
	if req.StartedAt.IsZero() {
		req.StartedAt = req.Now()
	}
	if req.ShardGrace <= 0 {
		req.ShardGrace = 10 * time.Minute
	}
	if req.MinRate <= 0 {
		req.MinRate = 1 << 20
	}
	if req.SamplePoints == 0 {
		req.SamplePoints = DefaultSamplePoints
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
	done, err := r.owned(ctx)
	if err != nil || done != nil {
		if done != nil {
			r.update(func(st *Status) { st.CompletedAt = done.CompletedAt })
			return *done, nil
		}
		return manifest.Manifest{}, err
	}
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
	for _, t := range tasks {
		if key := r.req.Layout.Key(manifest.ShardObject(t.Collection, t.ShardID)) + sidecarSuffix; len(key) > manifest.MaxKeyBytes {
			return manifest.Manifest{}, &Error{Reason: ReasonInvalidLocation, Permanent: true,
				Message: fmt.Sprintf("the object key of shard %d of %s would be %d bytes, over S3's %d: shorten the prefix or the names", t.ShardID, t.Collection, len(key), manifest.MaxKeyBytes)}
		}
	}
	// Leftovers of an interrupted run: incomplete uploads are never reused.
	// Only this layout's shard keys are touched: a root may hold the roots
	// of other backups beneath it.
	root := r.req.Layout.Root()
	mine := func(key string) bool { return manifest.IsShardObject(strings.TrimPrefix(key, root)) }
	if _, err := r.s.AbortUploads(ctx, root, mine); err != nil {
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
	// Every shard is stored: what the collections hold now, against what
	// they held at the start, says whether they were written to meanwhile.
	if err := r.sampleAll(ctx, cols); err != nil {
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
		sort.Slice(col.Shards, func(i, j int) bool { return col.Shards[i].ID < col.Shards[j].ID })
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
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.req.Parallelism)
	for _, t := range tasks {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return r.safeShard(gctx, t) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// safeShard turns a panic while moving a shard into the shard's failure: one
// bad shard must not take the provider, and every other tenant's backup,
// down with it.
func (r *run) safeShard(ctx context.Context, t backupplan.Task) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &Error{Reason: ReasonShardFailed, Message: fmt.Sprintf("shard %d of collection %s failed: internal error: %v", t.ShardID, t.Collection, p)}
		}
	}()
	return r.shard(ctx, t)
}

func (r *run) shard(ctx context.Context, t backupplan.Task) error {
	object := manifest.ShardObject(t.Collection, t.ShardID)
	key := r.req.Layout.Key(object)
	if sc, ok := r.finished(ctx, key); ok {
		r.done(t, object, sc, true)
		return nil
	}
	// Claim the key before writing it, so that a deletion can tell this
	// Backup's objects, finished or not, from anyone else's.
	if err := r.putSidecar(ctx, key, sidecar{BackupUID: r.req.Backup.UID}); err != nil {
		return &Error{Reason: ReasonStorageFailed, Message: fmt.Sprintf("cannot claim shard %s/%d: %v", t.Collection, t.ShardID, err), Err: err}
	}
	var errs []string
	delay := r.req.RetryDelay
	for attempt := 0; attempt < r.req.Attempts; attempt++ {
		// Rotate through the shard's Active holders: a peer that fails is
		// not tried again before the others.
		peer := t.Sources[attempt%len(t.Sources)]
		size, sum, err := r.copyShard(ctx, peer, t, key)
		if err == nil {
			sc := sidecar{BackupUID: r.req.Backup.UID, SHA256: sum, SizeBytes: size, SourcePeer: peer}
			if err := r.putSidecar(ctx, key, sc); err != nil {
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
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var counted *counter
	open := func(ctx context.Context) (io.ReadCloser, error) {
		body, err := r.c.StreamShard(ctx, peer, t.Collection, t.ShardID)
		if err != nil {
			return nil, err
		}
		counted = &counter{r: newTarCheck(body), add: func(n int) { r.update(func(st *Status) { st.BytesDone += int64(n) }) }}
		stop := r.watch(counted, cancel)
		return readCloser{Reader: counted, close: func() error { stop(); return body.Close() }}, nil
	}
	size, sum, err := r.s.PutStream(ctx, key, open)
	if err != nil {
		if counted != nil {
			// Bytes of a failed try do not count.
			r.update(func(st *Status) { st.BytesDone -= counted.added.Load() })
		}
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			return 0, "", cause
		}
		return 0, "", err
	}
	return size, sum, nil
}

// watch cancels a shard's transfer once it has run longer than its bytes
// allow: ShardGrace plus one second per MinRate bytes. It returns a function
// that stops watching.
func (r *run) watch(c *counter, cancel context.CancelCauseFunc) func() {
	start := time.Now()
	tick := time.NewTicker(min(r.req.ShardGrace/4, 5*time.Second))
	stop := make(chan struct{})
	go func() {
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-tick.C:
				moved := c.total()
				allowed := r.req.ShardGrace + time.Duration(float64(moved)/float64(r.req.MinRate)*float64(time.Second))
				if elapsed := now.Sub(start); elapsed > allowed {
					cancel(fmt.Errorf("the transfer is too slow: %d bytes in %s, under %d bytes/s after a grace of %s", moved, elapsed.Round(time.Second), r.req.MinRate, r.req.ShardGrace))
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(stop) }) }
}

type readCloser struct {
	io.Reader
	close func() error
}

func (rc readCloser) Close() error { return rc.close() }

func (r *run) putSidecar(ctx context.Context, key string, sc sidecar) error {
	b, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	return r.s.PutBytes(ctx, key+sidecarSuffix, b, "application/json")
}

// finished says whether an earlier run of this same Backup stored this shard
// completely: its sidecar names the Backup and records a checksum, and the
// object has the recorded size. Anything else is written again.
func (r *run) finished(ctx context.Context, key string) (sidecar, bool) {
	sc, err := readSidecar(ctx, r.s, key)
	if err != nil || sc.BackupUID != r.req.Backup.UID || sc.SHA256 == "" {
		return sidecar{}, false
	}
	size, err := r.s.Head(ctx, key)
	if err != nil || size != sc.SizeBytes {
		return sidecar{}, false
	}
	return sc, true
}

func readSidecar(ctx context.Context, s Store, key string) (sidecar, error) {
	body, _, err := s.Get(ctx, key+sidecarSuffix)
	if err != nil {
		return sidecar{}, err
	}
	defer body.Close() //nolint:errcheck // Small read-only object.
	var sc sidecar
	if err := json.NewDecoder(io.LimitReader(body, 4096)).Decode(&sc); err != nil {
		return sidecar{}, fmt.Errorf("cannot parse the sidecar of %s: %w", key, err)
	}
	return sc, nil
}

// owned checks that the backup's root is this Backup's to write: it holds no
// manifest, or this Backup's own. When it holds this Backup's manifest, the
// backup finished before (the provider stopped before recording it) and
// that manifest is returned.
func (r *run) owned(ctx context.Context) (*manifest.Manifest, error) {
	m, err := readManifest(ctx, r.s, r.req.Layout)
	switch {
	case isNotFound(err):
		return nil, nil
	case errors.Is(err, errForeignManifest):
		return nil, &Error{Reason: ReasonLocationTaken, Permanent: true, Err: err,
			Message: fmt.Sprintf("%s already holds a backup that is not this one (%v); a Backup never writes over another: give it another name or prefix", r.req.Layout.Root(), err)}
	case err != nil:
		return nil, &Error{Reason: ReasonStorageFailed, Message: "cannot read the backup's location: " + err.Error(), Err: err}
	}
	if m.Backup.UID != r.req.Backup.UID {
		return nil, &Error{Reason: ReasonLocationTaken, Permanent: true,
			Message: fmt.Sprintf("%s already holds the backup of %s/%s (uid %s); a Backup never writes over another: give it another name or prefix, or delete that backup", r.req.Layout.Root(), m.Backup.Namespace, m.Backup.Name, m.Backup.UID)}
	}
	return &m, nil
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
	added   atomic.Int64
	read    atomic.Int64
	pending int
	add     func(int)
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	c.pending += n
	if c.pending >= 4<<20 || (err != nil && c.pending > 0) {
		c.add(c.pending)
		c.added.Add(int64(c.pending))
		c.pending = 0
	}
	return n, err
}

// total is what was read so far.
func (c *counter) total() int64 { return c.read.Load() }

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
