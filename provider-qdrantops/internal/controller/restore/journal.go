package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	usecase "github.com/qdrantops/qdrantops/provider-qdrantops/internal/restore"
)

// journal keeps a restore's journal in its Restore's status, written through
// the API server before the use case goes on, so that a provider killed at
// any moment finds, on restart, which collections the restore created and
// which shards it recovered.
type journal struct {
	kube client.Client
	key  types.NamespacedName
	uid  types.UID
	// view renders the restored collections with a journal: the last
	// progress the job reported, over the status it started from.
	view func(usecase.Record) []v1alpha1.RestoredCollection
	// saved tells the job a journal is persisted, so that the reconciler's
	// own status writes carry it from then on.
	saved func(usecase.Record)
	// stop ends the job's run as if the provider stopped: a run whose
	// Restore is gone or going must leave what it restored as it is, not
	// delete it as a failed run would.
	stop func()
}

var _ usecase.Journal = &journal{}

// Save writes status.atProvider.restoredCollections with a JSON merge patch.
// A merge patch replaces the whole list, so it carries every entry, each
// with its progress. The patch is conditional on the resourceVersion of the
// Restore read just before, whose uid is checked: the status subresource
// ignores a uid in a patch, and a journal must never land on another
// Restore that took the same name. A conflict (the reconciler wrote in
// between) is retried.
func (j *journal) Save(ctx context.Context, rec usecase.Record) error {
	err := retry.OnError(journalBackoff(), kerrors.IsConflict, func() error {
		r := &v1alpha1.Restore{}
		err := j.kube.Get(ctx, j.key, r)
		switch {
		case kerrors.IsNotFound(err), err == nil && r.UID != j.uid, err == nil && meta.WasDeleted(r):
			// Deleting a Restore never touches data: stop here, before the
			// reconciler does, rather than fail and clean up.
			j.stop()
			return errors.New("the Restore was deleted")
		case err != nil:
			return fmt.Errorf("cannot read the Restore: %w", err)
		}
		patch := map[string]any{
			"metadata": map[string]any{"resourceVersion": r.ResourceVersion},
			"status":   map[string]any{"atProvider": map[string]any{"restoredCollections": j.view(rec)}},
		}
		b, err := json.Marshal(patch)
		if err != nil {
			return fmt.Errorf("cannot encode the journal: %w", err)
		}
		return j.kube.Status().Patch(ctx, r, client.RawPatch(types.MergePatchType, b))
	})
	if err != nil {
		return fmt.Errorf("cannot write the journal to the Restore's status: %w", err)
	}
	j.saved(rec)
	return nil
}

// journalBackoff spaces the tries of a journal write that conflicts with
// the reconciler's own status writes: about five seconds in all.
func journalBackoff() wait.Backoff {
	return wait.Backoff{Steps: 8, Duration: 20 * time.Millisecond, Factor: 2, Jitter: 0.1}
}

// resumeRecord reads the journal of earlier runs from a Restore's status.
func resumeRecord(cols []v1alpha1.RestoredCollection) usecase.Record {
	r := usecase.Record{Recovered: map[string][]uint32{}}
	for _, c := range cols {
		if c.Created {
			r.Created = append(r.Created, c.Name)
		}
		if c.Replaced {
			r.Replaced = append(r.Replaced, c.Name)
		}
		if len(c.RecoveredShards) > 0 {
			r.Recovered[c.Name] = slices.Clone(c.RecoveredShards)
		}
	}
	return r
}

// collections renders status.atProvider.restoredCollections: the entries of
// base (the status so far), the progress of st over them, and the journal of
// rec, which is the whole truth of created, replaced and recovered shards.
// Entries are never dropped: one the journal names must stay to be resumed.
func collections(base []v1alpha1.RestoredCollection, st usecase.Status, rec usecase.Record) []v1alpha1.RestoredCollection {
	var order []string
	byName := map[string]*v1alpha1.RestoredCollection{}
	add := func(name string) *v1alpha1.RestoredCollection {
		if c, ok := byName[name]; ok {
			return c
		}
		order = append(order, name)
		byName[name] = &v1alpha1.RestoredCollection{Name: name}
		return byName[name]
	}
	for _, c := range st.Collections {
		p := add(c.Name)
		p.SourceName = c.Source
		p.ShardsRestored = int32(c.ShardsRestored)
		p.ShardsTotal = int32(c.ShardsTotal)
		exp := int64(c.ExpectedPoints)
		p.ExpectedPoints = &exp
		if c.Points != nil {
			n := int64(*c.Points)
			p.Points = &n
		}
		p.Verified = c.Verified
		p.SampledPoints = int32(c.SampledPoints)
		p.UploadedShards = int32(c.UploadedShards)
	}
	for _, c := range base {
		if _, ok := byName[c.Name]; ok {
			continue
		}
		cp := c.DeepCopy()
		order = append(order, c.Name)
		byName[c.Name] = cp
	}
	for _, n := range rec.Created {
		add(n)
	}
	for _, n := range rec.Replaced {
		add(n)
	}
	recovered := make([]string, 0, len(rec.Recovered))
	for n := range rec.Recovered {
		recovered = append(recovered, n)
	}
	sort.Strings(recovered)
	for _, n := range recovered {
		add(n)
	}
	out := make([]v1alpha1.RestoredCollection, 0, len(order))
	for _, n := range order {
		c := byName[n]
		c.Created = slices.Contains(rec.Created, n)
		c.Replaced = slices.Contains(rec.Replaced, n)
		c.RecoveredShards = nil
		if ids := rec.Recovered[n]; len(ids) > 0 {
			c.RecoveredShards = slices.Clone(ids)
			sort.Slice(c.RecoveredShards, func(i, j int) bool { return c.RecoveredShards[i] < c.RecoveredShards[j] })
			c.RecoveredShards = slices.Compact(c.RecoveredShards)
		}
		out = append(out, *c)
	}
	return out
}
