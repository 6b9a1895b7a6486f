package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backupplan"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
)

// maxManifestBytes bounds what is read of a manifest: one of 100,000 shards
// is about 30 MB.
const maxManifestBytes = 64 << 20

// cleanupTimeout bounds the deletion of what a failed restore created, which
// runs after the restore's own context may have ended.
const cleanupTimeout = 2 * time.Minute

// Run restores a backup into a target cluster and returns its final status.
// On failure, the collections it created are deleted again, so that none is
// left looking restored; when ctx ends first (the provider stops), they are
// kept, and a run with the journal resumes them.
func Run(ctx context.Context, t Target, s Store, req Request) (Status, error) {
	req = withDefaults(req)
	r := &run{t: t, s: s, req: req, journal: copyRecord(req.Resume)}
	st, err := r.run(ctx)
	if err != nil && ctx.Err() == nil {
		r.cleanup()
	}
	return st, err
}

func withDefaults(req Request) Request {
	if req.Parallelism <= 0 {
		req.Parallelism = 2
	}
	if req.Attempts <= 0 {
		req.Attempts = 3
	}
	if req.RetryDelay <= 0 {
		req.RetryDelay = time.Second
	}
	if req.URLTTL <= 0 {
		req.URLTTL = 15 * time.Minute
	}
	if req.ShardGrace <= 0 {
		req.ShardGrace = 10 * time.Minute
	}
	if req.MinRate <= 0 {
		req.MinRate = 1 << 20
	}
	if req.OpTimeout <= 0 {
		req.OpTimeout = 10 * time.Minute
	}
	if req.ActiveTimeout <= 0 {
		req.ActiveTimeout = 30 * time.Minute
	}
	if req.PollInterval <= 0 {
		req.PollInterval = time.Second
	}
	if req.Method == "" {
		req.Method = MethodAuto
	}
	if req.Policy == "" {
		req.Policy = PolicyFail
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
	t   Target
	s   Store
	req Request

	mu      sync.Mutex
	st      Status
	journal Record
	// created are the collections that exist because of this restore,
	// by this run or an earlier one.
	created []string
	// keepAliases are aliases, and their collections, that Replace deleted
	// with the collections they pointed at.
	keepAliases [][2]string
	// fellBack is set once Qdrant could not fetch a URL under MethodAuto.
	fellBack atomic.Bool
}

func copyRecord(r Record) Record {
	out := Record{Created: slices.Clone(r.Created), Replaced: slices.Clone(r.Replaced), Recovered: map[string][]uint32{}}
	for k, v := range r.Recovered {
		out.Recovered[k] = slices.Clone(v)
	}
	return out
}

func (r *run) run(ctx context.Context) (Status, error) {
	m, err := r.manifest(ctx)
	if err != nil {
		return r.status(), err
	}
	version, err := r.t.Version(ctx)
	if err != nil {
		return r.status(), &Error{Reason: ReasonQdrantUnreachable, Message: "cannot reach the target Qdrant: " + err.Error(), Err: err}
	}
	r.update(func(st *Status) {
		st.SourceVersion, st.TargetVersion, st.Phase = m.QdrantVersion, version, PhaseInProgress
	})
	if err := CheckVersion(m.QdrantVersion, version); err != nil {
		return r.status(), &Error{Reason: ReasonVersionTooOld, Message: err.Error(), Permanent: true, Err: err}
	}
	items, err := Select(m, r.req.Collections, r.req.Mappings)
	if err != nil {
		return r.status(), &Error{Reason: ReasonUnknownCollection, Message: err.Error() + "; fix spec.forProvider.collections or collectionMappings", Permanent: true, Err: err}
	}
	peers, err := r.t.Peers(ctx)
	if err != nil {
		return r.status(), &Error{Reason: ReasonQdrantUnreachable, Message: "cannot list the target's peers: " + err.Error(), Err: err}
	}
	r.update(func(st *Status) {
		for _, it := range items {
			st.Collections = append(st.Collections, CollectionStatus{Name: it.Target, Source: it.Source.Name, ShardsTotal: len(it.Source.Shards), ExpectedPoints: it.Source.Points})
			st.ShardsTotal += len(it.Source.Shards)
		}
	})
	if err := r.claim(ctx, items); err != nil {
		return r.status(), err
	}
	for _, it := range items {
		if err := r.restoreCollection(ctx, it, len(peers)); err != nil {
			return r.status(), err
		}
	}
	r.update(func(st *Status) { st.Phase = PhaseVerifying })
	for _, it := range items {
		if err := r.verify(ctx, m, it); err != nil {
			return r.status(), err
		}
	}
	r.update(func(st *Status) { st.Phase = PhaseCompleted })
	return r.status(), nil
}

// manifest reads and checks the backup's manifest.
func (r *run) manifest(ctx context.Context) (manifest.Manifest, error) {
	root := r.req.Root
	if root == "" || !strings.HasSuffix(root, "/") {
		return manifest.Manifest{}, &Error{Reason: ReasonInvalidSource, Permanent: true, Message: fmt.Sprintf("the backup's location %q is not a folder", root)}
	}
	key := root + manifest.ManifestName
	body, _, err := r.s.Get(ctx, key)
	if isNotFound(err) {
		return manifest.Manifest{}, &Error{Reason: ReasonManifestNotFound, Permanent: true, Err: err,
			Message: fmt.Sprintf("%s holds no manifest: it is not a complete backup (a backup without its manifest was never finished); check the path", key)}
	}
	if err != nil {
		return manifest.Manifest{}, &Error{Reason: ReasonStorageFailed, Message: "cannot read the manifest: " + err.Error(), Err: err}
	}
	defer body.Close() //nolint:errcheck // Read-only.
	b, err := io.ReadAll(io.LimitReader(body, maxManifestBytes+1))
	if err != nil {
		return manifest.Manifest{}, &Error{Reason: ReasonStorageFailed, Message: "cannot read the manifest: " + err.Error(), Err: err}
	}
	if len(b) > maxManifestBytes {
		return manifest.Manifest{}, &Error{Reason: ReasonInvalidManifest, Permanent: true, Message: fmt.Sprintf("the manifest at %s is larger than %d bytes", key, maxManifestBytes)}
	}
	m, err := manifest.Decode(b)
	if err != nil {
		return manifest.Manifest{}, &Error{Reason: ReasonInvalidManifest, Permanent: true, Err: err, Message: fmt.Sprintf("the manifest at %s cannot be restored: %v", key, err)}
	}
	if r.req.BackupUID != "" && m.Backup.UID != r.req.BackupUID {
		return manifest.Manifest{}, &Error{Reason: ReasonInvalidManifest, Permanent: true,
			Message: fmt.Sprintf("the manifest at %s belongs to backup %s/%s (uid %s), not to the Backup named in backupRef", key, m.Backup.Namespace, m.Backup.Name, m.Backup.UID)}
	}
	return m, nil
}

// claim decides, before anything is touched, what happens to each target
// collection: one that exists and is not this restore's own fails the
// restore under the Fail policy, and is deleted under Replace (journalled
// first, so that a failure can report it lost). A collection is this
// restore's own once the journal says it created it; the journal says so
// only after Qdrant created it, so that a collection someone else made in
// the meantime is never taken for its own.
func (r *run) claim(ctx context.Context, items []Item) error {
	aliases, err := r.t.Aliases(ctx)
	if err != nil {
		return &Error{Reason: ReasonQdrantUnreachable, Message: "cannot list the target's aliases: " + err.Error(), Err: err}
	}
	var exist, aliased []string
	for _, it := range items {
		if r.owns(it.Target) {
			r.created = append(r.created, it.Target)
			continue
		}
		if c, ok := aliases[it.Target]; ok {
			aliased = append(aliased, fmt.Sprintf("%s (an alias of %s)", it.Target, c))
			continue
		}
		ok, err := r.t.Exists(ctx, it.Target)
		if err != nil {
			return &Error{Reason: ReasonQdrantUnreachable, Message: fmt.Sprintf("cannot check whether collection %s exists: %v", it.Target, err), Err: err}
		}
		if ok {
			exist = append(exist, it.Target)
		}
	}
	if len(aliased) > 0 {
		return &Error{Reason: ReasonCollectionExists, Permanent: true,
			Message: fmt.Sprintf("the target already has an alias named %s; nothing was changed: delete the alias or restore under another name with collectionMappings", joinFew(aliased))}
	}
	if len(exist) > 0 && r.req.Policy != PolicyReplace {
		return &Error{Reason: ReasonCollectionExists, Permanent: true,
			Message: fmt.Sprintf("collection %s already exists in the target and was left untouched; set existingCollectionPolicy: Replace to replace it, or restore under another name with collectionMappings", joinFew(exist))}
	}
	if len(exist) == 0 {
		return nil
	}
	// Aliases of a replaced collection go with it in Qdrant; they are put
	// back on the restored one.
	for a, c := range aliases {
		if slices.Contains(exist, c) {
			r.keepAliases = append(r.keepAliases, [2]string{a, c})
		}
	}
	r.mu.Lock()
	for _, name := range exist {
		if !slices.Contains(r.journal.Replaced, name) {
			r.journal.Replaced = append(r.journal.Replaced, name)
		}
	}
	r.mu.Unlock()
	if err := r.save(ctx); err != nil {
		return err
	}
	for _, name := range exist {
		if err := r.t.Delete(ctx, name); err != nil {
			return &Error{Reason: ReasonQdrantUnreachable, Message: fmt.Sprintf("cannot delete collection %s to replace it: %v", name, err), Err: err}
		}
	}
	return nil
}

// owns says whether the journal records that this restore created the
// collection.
func (r *run) owns(target string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.journal.Created, target)
}

// joinFew lists at most ten names, so that a message stays short whatever
// the backup holds.
func joinFew(names []string) string {
	if len(names) > 10 {
		return strings.Join(names[:10], ", ") + fmt.Sprintf(" and %d more", len(names)-10)
	}
	return strings.Join(names, ", ")
}

func (r *run) save(ctx context.Context) error {
	if r.req.Journal == nil {
		return nil
	}
	r.mu.Lock()
	j := copyRecord(r.journal)
	r.mu.Unlock()
	if err := r.req.Journal.Save(ctx, j); err != nil {
		return &Error{Reason: ReasonJournalFailed, Message: "cannot record the restore's progress: " + err.Error(), Err: err}
	}
	return nil
}

// restoreCollection creates one collection, recovers its shards, waits for
// every replica to be Active and recreates its indexes and aliases. A
// collection this restore created before is resumed when shards were
// recovered into it, and made again when none were.
func (r *run) restoreCollection(ctx context.Context, it Item, peers int) error {
	c := it.Source
	resumed := false
	if r.owns(it.Target) {
		exists, err := r.t.Exists(ctx, it.Target)
		if err != nil {
			return &Error{Reason: ReasonQdrantUnreachable, Message: fmt.Sprintf("cannot check whether collection %s exists: %v", it.Target, err), Err: err}
		}
		resumed = exists && r.isRecovering(it.Target)
		if exists && !resumed {
			if err := r.t.Delete(ctx, it.Target); err != nil {
				return &Error{Reason: ReasonQdrantUnreachable, Message: fmt.Sprintf("cannot delete collection %s left by an earlier try: %v", it.Target, err), Err: err}
			}
		}
	}
	if !resumed {
		if err := r.create(ctx, it, peers); err != nil {
			return err
		}
	}
	r.update(func(st *Status) { r.collection(st, it.Target).Created = true })
	placement, err := r.t.Placement(ctx, it.Target)
	if err != nil {
		return &Error{Reason: ReasonQdrantUnreachable, Message: fmt.Sprintf("cannot read the shard placement of %s: %v", it.Target, err), Err: err}
	}
	keys := map[uint32]json.RawMessage{}
	for _, s := range placement {
		keys[s.ID] = s.Key
	}
	if err := CheckShardLayout(c, keys); err != nil {
		return &Error{Reason: ReasonShardLayoutMismatch, Permanent: true, Message: err.Error(), Err: err}
	}
	if err := r.recoverShards(ctx, it, placement); err != nil {
		return err
	}
	if err := r.waitActive(ctx, it); err != nil {
		return err
	}
	return r.indexesAndAliases(ctx, it)
}

// isRecovering says whether an earlier run of this restore recovered shards
// of the collection, so that it is resumed rather than recreated.
func (r *run) isRecovering(target string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.journal.Recovered[target]) > 0
}

func (r *run) create(ctx context.Context, it Item, peers int) error {
	c := it.Source
	cr, err := CreationFor(c, peers)
	if err != nil {
		return &Error{Reason: ReasonInvalidManifest, Permanent: true, Message: err.Error(), Err: err}
	}
	if cr.Capped {
		r.warn(fmt.Sprintf("collection %s: replication factor %d capped at %d, the target's number of peers", it.Target, c.ReplicationFactor, cr.ReplicationFactor))
	}
	octx, cancel := context.WithTimeout(ctx, r.req.OpTimeout)
	err = r.t.Create(octx, it.Target, cr.Body)
	cancel()
	if err != nil {
		// Someone may have made the collection since it was checked: it is
		// theirs, and this restore leaves it alone.
		if ok, xerr := r.t.Exists(ctx, it.Target); xerr == nil && ok {
			return &Error{Reason: ReasonCollectionExists, Permanent: true, Err: err,
				Message: fmt.Sprintf("collection %s was created in the target by someone else while the restore ran, and was left untouched; restore under another name with collectionMappings", it.Target)}
		}
		return &Error{Reason: ReasonCreateFailed, Message: fmt.Sprintf("cannot create collection %s: %v", it.Target, err), Err: err}
	}
	// Journalled once Qdrant made it, never before: the journal's word is
	// what lets a resumed run, or a cleanup, touch the collection.
	if !slices.Contains(r.created, it.Target) {
		r.created = append(r.created, it.Target)
	}
	r.mu.Lock()
	if !slices.Contains(r.journal.Created, it.Target) {
		r.journal.Created = append(r.journal.Created, it.Target)
	}
	// A new collection holds no shard yet, whatever an earlier run did.
	delete(r.journal.Recovered, it.Target)
	r.mu.Unlock()
	if err := r.save(ctx); err != nil {
		return err
	}
	if c.ShardingMethod != "custom" {
		return nil
	}
	// Shard ids are given in the order keys are created: the recorded
	// order brings back the backup's ids, which CheckShardLayout confirms.
	perKey, err := ShardsPerKey(c)
	if err != nil {
		return &Error{Reason: ReasonInvalidManifest, Permanent: true, Message: err.Error(), Err: err}
	}
	for _, k := range c.ShardKeys {
		octx, cancel := context.WithTimeout(ctx, r.req.OpTimeout)
		err := r.t.CreateShardKey(octx, it.Target, k, perKey, cr.ReplicationFactor)
		cancel()
		if err != nil {
			return &Error{Reason: ReasonCreateFailed, Message: fmt.Sprintf("cannot create shard key %s of collection %s: %v", k, it.Target, err), Err: err}
		}
	}
	return nil
}

// recoverShards recovers every shard of a collection not recovered before,
// with bounded parallelism; the first shard that fails for good stops the
// others.
func (r *run) recoverShards(ctx context.Context, it Item, placement []backupplan.Shard) error {
	holders := map[uint32][]uint64{}
	for _, s := range placement {
		for _, rep := range s.Replicas {
			holders[s.ID] = append(holders[s.ID], rep.Peer)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.req.Parallelism)
	for _, sh := range it.Source.Shards {
		if r.recovered(it.Target, sh.ID) {
			r.update(func(st *Status) {
				st.ShardsDone++
				st.ShardsSkipped++
				r.collection(st, it.Target).ShardsRestored++
			})
			continue
		}
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return r.safeShard(gctx, it, sh, holders[sh.ID]) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

func (r *run) recovered(target string, id uint32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.journal.Recovered[target], id)
}

// safeShard turns a panic while recovering a shard into the shard's failure.
func (r *run) safeShard(ctx context.Context, it Item, sh manifest.Shard, peers []uint64) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &Error{Reason: ReasonShardFailed, Message: fmt.Sprintf("shard %d of collection %s failed: internal error: %v", sh.ID, it.Target, p)}
		}
	}()
	return r.shard(ctx, it, sh, peers)
}

func (r *run) shard(ctx context.Context, it Item, sh manifest.Shard, peers []uint64) error {
	if len(peers) == 0 {
		return &Error{Reason: ReasonShardFailed, Message: fmt.Sprintf("shard %d of collection %s has no replica in the target", sh.ID, it.Target)}
	}
	// The object must be what the manifest says before Qdrant sees it; its
	// size also sets how long the shard may take.
	key := r.req.Root + sh.Object
	size, err := r.s.Head(ctx, key)
	if err != nil && ctx.Err() == nil {
		return &Error{Reason: ReasonShardFailed, Permanent: isNotFound(err), Err: err,
			Message: fmt.Sprintf("shard %d of collection %s (from backup collection %s): cannot read its object: %v; the backup is damaged", sh.ID, it.Target, it.Source.Name, err)}
	}
	if err == nil && size != sh.SizeBytes {
		return &Error{Reason: ReasonShardFailed, Permanent: true,
			Message: fmt.Sprintf("shard %d of collection %s (from backup collection %s): its object has %d bytes, the manifest records %d; the backup is damaged", sh.ID, it.Target, it.Source.Name, size, sh.SizeBytes)}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var errs []string
	delay := r.req.RetryDelay
	for attempt := 0; attempt < r.req.Attempts; attempt++ {
		// A replica's peer recovers the shard; Qdrant then marks the
		// others Dead and re-syncs them from it. Peers rotate on failure.
		peer := peers[attempt%len(peers)]
		err := r.recoverOn(ctx, peer, it, sh)
		if err == nil {
			r.mu.Lock()
			r.journal.Recovered[it.Target] = append(r.journal.Recovered[it.Target], sh.ID)
			r.mu.Unlock()
			if err := r.save(ctx); err != nil {
				return err
			}
			r.update(func(st *Status) {
				st.ShardsDone++
				r.collection(st, it.Target).ShardsRestored++
			})
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		errs = append(errs, fmt.Sprintf("peer %d: %v", peer, err))
		r.update(func(st *Status) {
			st.Retrying = fmt.Sprintf("shard %d of collection %s on peer %d failed (try %d of %d): %v", sh.ID, it.Target, peer, attempt+1, r.req.Attempts, err)
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
		Reason: ReasonShardFailed,
		Message: fmt.Sprintf("shard %d of collection %s (from backup collection %s) failed after %d tries: %s",
			sh.ID, it.Target, it.Source.Name, r.req.Attempts, strings.Join(dedupe(errs), "; ")),
	}
}

// recoverOn recovers one shard on one peer by the request's method.
func (r *run) recoverOn(ctx context.Context, peer uint64, it Item, sh manifest.Shard) error {
	key := r.req.Root + sh.Object
	limit := r.req.ShardGrace + time.Duration(float64(sh.SizeBytes)/float64(r.req.MinRate)*float64(time.Second))
	sctx, cancel := context.WithTimeoutCause(ctx, limit, fmt.Errorf("the recovery took longer than %s, the limit for %d bytes", limit.Round(time.Second), sh.SizeBytes))
	defer cancel()
	err := r.recoverBy(sctx, peer, it, sh, key)
	if err != nil && ctx.Err() == nil && sctx.Err() != nil {
		return context.Cause(sctx)
	}
	return err
}

func (r *run) recoverBy(ctx context.Context, peer uint64, it Item, sh manifest.Shard, key string) error {
	if r.req.Method == MethodURL || (r.req.Method == MethodAuto && !r.fellBack.Load()) {
		err := r.byURL(ctx, peer, it, sh, key)
		if err == nil || r.req.Method == MethodURL || !cannotFetch(err) {
			return err
		}
		// Qdrant cannot reach the store: every shard from here on is
		// uploaded, rather than each failing the same way first.
		if r.fellBack.CompareAndSwap(false, true) {
			r.warn(fmt.Sprintf("Qdrant could not fetch shard snapshots from the object store (%v): shards were uploaded through the provider instead", err))
		}
	}
	return r.upload(ctx, peer, it, sh, key)
}

func (r *run) byURL(ctx context.Context, peer uint64, it Item, sh manifest.Shard, key string) error {
	// The URL is made just before use and lives no longer than asked.
	url, err := r.s.Presign(ctx, key, r.req.URLTTL)
	if err != nil {
		return fmt.Errorf("cannot presign the shard's object: %w", err)
	}
	if err := r.t.RecoverFromURL(ctx, peer, it.Target, sh.ID, url, sh.SHA256); err != nil {
		return scrub(err, url)
	}
	r.update(func(st *Status) { st.BytesByURL += sh.SizeBytes })
	return nil
}

func (r *run) upload(ctx context.Context, peer uint64, it Item, sh manifest.Shard, key string) error {
	body, err := r.s.Open(ctx, key)
	if err != nil {
		return fmt.Errorf("cannot read the shard's object: %w", err)
	}
	defer body.Close() //nolint:errcheck // Read-only.
	v := newVerifier(body, sh.SizeBytes, sh.SHA256)
	c := &countingReader{r: v, add: func(n int64) { r.update(func(st *Status) { st.BytesUploaded += n }) }}
	err = r.t.Upload(ctx, peer, it.Target, sh.ID, c, sh.SHA256)
	if err != nil || v.err() != nil {
		// Bytes of a failed try do not count.
		r.update(func(st *Status) { st.BytesUploaded -= c.added })
	}
	if verr := v.err(); verr != nil {
		// The object is not what the manifest says; whatever Qdrant made
		// of it is replaced on the next try or deleted with the restore.
		return verr
	}
	if err != nil {
		return err
	}
	r.update(func(st *Status) { r.collection(st, it.Target).UploadedShards++ })
	return nil
}

// cannotFetch says whether Qdrant failed to fetch a URL, as opposed to
// refusing what it fetched: only then can an upload do better.
func cannotFetch(err error) bool {
	var f interface{ CannotFetch() bool }
	return errors.As(err, &f) && f.CannotFetch()
}

// scrub removes a presigned URL, and its query alone, from an error before
// it can reach a status, an Event or a log: the URL is a credential.
func scrub(err error, url string) error {
	msg := err.Error()
	clean := strings.ReplaceAll(msg, url, "<presigned URL>")
	if i := strings.IndexByte(url, '?'); i >= 0 {
		clean = strings.ReplaceAll(clean, url[i+1:], "<redacted>")
	}
	if clean == msg {
		return err
	}
	return &scrubbed{msg: clean, cause: err}
}

type scrubbed struct {
	msg   string
	cause error
}

func (s *scrubbed) Error() string { return s.msg }

// CannotFetch keeps the cause's classification without exposing its text.
func (s *scrubbed) CannotFetch() bool { return cannotFetch(s.cause) }

// waitActive waits until every replica of every shard of a collection is
// Active: Qdrant re-syncs the other replicas from the recovered one.
func (r *run) waitActive(ctx context.Context, it Item) error {
	deadline := time.Now().Add(r.req.ActiveTimeout)
	for {
		placement, err := r.t.Placement(ctx, it.Target)
		if err != nil {
			return &Error{Reason: ReasonQdrantUnreachable, Message: fmt.Sprintf("cannot read the shard placement of %s: %v", it.Target, err), Err: err}
		}
		waiting := notActive(placement)
		if len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return &Error{Reason: ReasonReplicasNotActive,
				Message: fmt.Sprintf("collection %s: replicas still not Active after %s: %s; check the target's peers and shard transfers", it.Target, r.req.ActiveTimeout, strings.Join(waiting, ", "))}
		}
		select {
		case <-time.After(r.req.PollInterval):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func notActive(placement []backupplan.Shard) []string {
	var out []string
	for _, s := range placement {
		for _, rep := range s.Replicas {
			if rep.State != backupplan.Active {
				out = append(out, fmt.Sprintf("shard %d on peer %d is %s", s.ID, rep.Peer, rep.State))
			}
		}
	}
	sort.Strings(out)
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("and %d more", len(out)-10))
	}
	return out
}

// indexesAndAliases recreates payload indexes and aliases. An alias that
// points at another collection in the target is left alone, with a warning.
func (r *run) indexesAndAliases(ctx context.Context, it Item) error {
	fields := make([]string, 0, len(it.Source.PayloadIndexes))
	for f := range it.Source.PayloadIndexes {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		idx := it.Source.PayloadIndexes[f]
		schema, err := indexSchema(idx)
		if err != nil {
			return &Error{Reason: ReasonInvalidManifest, Permanent: true, Message: fmt.Sprintf("collection %s: payload index %s: %v", it.Target, f, err), Err: err}
		}
		octx, cancel := context.WithTimeout(ctx, r.req.OpTimeout)
		err = r.t.CreatePayloadIndex(octx, it.Target, f, schema)
		cancel()
		if err != nil {
			return &Error{Reason: ReasonQdrantUnreachable, Message: fmt.Sprintf("cannot create payload index %s of collection %s: %v", f, it.Target, err), Err: err}
		}
	}
	if len(it.Source.Aliases) == 0 {
		return nil
	}
	existing, err := r.t.Aliases(ctx)
	if err != nil {
		return &Error{Reason: ReasonQdrantUnreachable, Message: "cannot list the target's aliases: " + err.Error(), Err: err}
	}
	want := slices.Clone(it.Source.Aliases)
	for _, ka := range r.keepAliases {
		if ka[1] == it.Target && !slices.Contains(want, ka[0]) {
			want = append(want, ka[0])
		}
	}
	for _, a := range want {
		switch other, ok := existing[a]; {
		case ok && other == it.Target:
		case ok:
			r.warn(fmt.Sprintf("alias %s was not restored: it points at collection %s in the target", a, other))
		default:
			if err := r.alias(ctx, a, it.Target); err != nil {
				return err
			}
		}
	}
	return nil
}

// alias creates an alias. One made meanwhile by someone else is theirs: it
// is left alone, with a warning.
func (r *run) alias(ctx context.Context, alias, target string) error {
	octx, cancel := context.WithTimeout(ctx, r.req.OpTimeout)
	defer cancel()
	err := r.t.CreateAlias(octx, alias, target)
	if err == nil {
		return nil
	}
	if now, lerr := r.t.Aliases(ctx); lerr == nil {
		if other, ok := now[alias]; ok {
			if other != target {
				r.warn(fmt.Sprintf("alias %s was not restored: it points at collection %s in the target", alias, other))
			}
			return nil
		}
	}
	return &Error{Reason: ReasonQdrantUnreachable, Message: fmt.Sprintf("cannot create alias %s of collection %s: %v", alias, target, err), Err: err}
}

// cleanup deletes the collections a failed restore created, so that none is
// left looking restored, then clears them from the journal. A replaced
// collection's data is gone: the failure says so.
func (r *run) cleanup() {
	if len(r.created) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	var kept []string
	for _, name := range r.created {
		if err := r.t.Delete(ctx, name); err != nil {
			kept = append(kept, name)
		}
	}
	r.mu.Lock()
	r.journal.Created = kept
	r.journal.Recovered = map[string][]uint32{}
	r.mu.Unlock()
	_ = r.save(ctx)
}

// Lost lists the collections a failed restore replaced: their earlier data
// was deleted before the restore failed.
func Lost(j Record) []string { return slices.Clone(j.Replaced) }

func (r *run) warn(w string) {
	r.update(func(st *Status) {
		if !slices.Contains(st.Warnings, w) {
			st.Warnings = append(st.Warnings, w)
			sort.Strings(st.Warnings)
		}
	})
}

func (r *run) collection(st *Status, target string) *CollectionStatus {
	for i := range st.Collections {
		if st.Collections[i].Name == target {
			return &st.Collections[i]
		}
	}
	st.Collections = append(st.Collections, CollectionStatus{Name: target})
	return &st.Collections[len(st.Collections)-1]
}

// update changes the status and reports it, one change at a time, in order.
func (r *run) update(f func(*Status)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.st)
	r.req.Report(cloneStatus(r.st))
}

func (r *run) status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return cloneStatus(r.st)
}

func cloneStatus(st Status) Status {
	st.Collections = slices.Clone(st.Collections)
	st.Warnings = slices.Clone(st.Warnings)
	return st
}

// IsPermanent says whether retrying the same restore cannot help.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}
