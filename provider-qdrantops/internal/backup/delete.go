package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
)

// Deleter is what deleting a backup needs of the object store.
type Deleter interface {
	Store
	ListKeys(ctx context.Context, prefix string) ([]string, error)
	DeleteKeys(ctx context.Context, keys []string) (int, error)
}

// ownedKeys are the objects under a root that a Backup can prove are its own.
type ownedKeys struct {
	manifest string
	objects  []string
	// samples are the sample files that name the Backup.
	samples  []string
	sidecars []string
	// claimed are the shard keys whose sidecar names the Backup, stored or
	// not (an upload may be incomplete).
	claimed map[string]bool
}

func (o ownedKeys) all() []string {
	var keys []string
	if o.manifest != "" {
		keys = append(keys, o.manifest)
	}
	return append(append(append(keys, o.objects...), o.samples...), o.sidecars...)
}

// findOwned lists the root and keeps what belongs to the Backup with uid: its
// manifest if the manifest names it, each shard object whose sidecar names
// it, with the sidecar, and each sample file that names it. With firstOnly it stops at the first thing it
// finds: enough to know whether anything is left, without reading every
// sidecar of a large backup.
func findOwned(ctx context.Context, s Deleter, l manifest.Layout, uid string, firstOnly bool) (ownedKeys, error) {
	if err := l.Validate(); err != nil {
		return ownedKeys{}, &Error{Reason: ReasonInvalidLocation, Message: "the backup's location is invalid: " + err.Error(), Permanent: true, Err: err}
	}
	if uid == "" {
		return ownedKeys{}, &Error{Reason: ReasonInvalidLocation, Message: "the backup has no uid", Permanent: true}
	}
	root := l.Root()
	keys, err := s.ListKeys(ctx, root)
	if err != nil {
		return ownedKeys{}, fmt.Errorf("cannot list the backup's objects: %w", err)
	}
	present := map[string]bool{}
	for _, k := range keys {
		present[k] = true
	}
	o := ownedKeys{claimed: map[string]bool{}}
	if present[l.ManifestKey()] {
		m, err := readManifest(ctx, s, l)
		if err != nil && !isNotFound(err) && !errors.Is(err, errForeignManifest) {
			return ownedKeys{}, fmt.Errorf("cannot read the manifest: %w", err)
		}
		if err == nil && m.Backup.UID == uid {
			o.manifest = l.ManifestKey()
			if firstOnly {
				return o, nil
			}
		}
	}
	for _, k := range keys {
		if manifest.IsSampleObject(strings.TrimPrefix(k, root)) {
			owner, err := sampleOwner(ctx, s, k)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return ownedKeys{}, fmt.Errorf("cannot read the sample file %s: %w", k, err)
			}
			if owner != uid {
				continue
			}
			o.samples = append(o.samples, k)
			if firstOnly {
				return o, nil
			}
			continue
		}
		obj, ok := strings.CutSuffix(strings.TrimPrefix(k, root), sidecarSuffix)
		if !ok || !manifest.IsShardObject(obj) {
			continue
		}
		sc, err := readSidecar(ctx, s, l.Key(obj))
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return ownedKeys{}, fmt.Errorf("cannot read the sidecar of %s: %w", obj, err)
		}
		if sc.BackupUID != uid {
			continue
		}
		o.claimed[l.Key(obj)] = true
		if present[l.Key(obj)] {
			o.objects = append(o.objects, l.Key(obj))
		}
		o.sidecars = append(o.sidecars, k)
		if firstOnly {
			return o, nil
		}
	}
	return o, nil
}

// AnyOwned says whether anything that belongs to the Backup with uid is left
// under its root.
func AnyOwned(ctx context.Context, s Deleter, l manifest.Layout, uid string) (bool, error) {
	o, err := findOwned(ctx, s, l, uid, true)
	if err != nil {
		return false, err
	}
	return len(o.all()) > 0, nil
}

// Delete removes the objects of the Backup with uid, and only those: its
// manifest if the manifest names it, each shard object whose sidecar names
// it, and each sample file that names it. Whatever else lies under the root (another Backup's objects, a
// root nested beneath this one) stays. The manifest goes first, so that a
// deletion cut short never leaves something that looks like a whole backup,
// and the sidecars last, so that a second try still knows what is whose. It
// returns how many objects it deleted.
func Delete(ctx context.Context, s Deleter, l manifest.Layout, uid string) (int, error) {
	o, err := findOwned(ctx, s, l, uid, false)
	if err != nil {
		return 0, err
	}
	deleted := 0
	if o.manifest != "" {
		n, err := s.DeleteKeys(ctx, []string{o.manifest})
		deleted += n
		if err != nil {
			return deleted, fmt.Errorf("cannot delete the manifest: %w", err)
		}
	}
	if _, err := s.AbortUploads(ctx, l.Root(), func(k string) bool { return o.claimed[k] }); err != nil {
		return deleted, fmt.Errorf("cannot abort the backup's incomplete uploads: %w", err)
	}
	for _, batch := range [][]string{o.objects, o.samples, o.sidecars} {
		n, err := s.DeleteKeys(ctx, batch)
		deleted += n
		if err != nil {
			return deleted, fmt.Errorf("cannot delete the backup's objects: %w", err)
		}
	}
	return deleted, nil
}
