package restore

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/clients"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
)

// A source is the backup a restore reads: its store, its folder, and, for a
// backupRef, the uid its manifest must name.
type source struct {
	store     store
	root      string
	backupUID string
	// path is s3://bucket/root, for status and Events.
	path string
}

// waitError says that a Restore's Backup cannot be restored yet. The Restore
// waits for it, rather than failing: a Restore applied together with its
// Backup (by GitOps, say) is expected to start once the Backup completes.
type waitError struct{ msg string }

func (e *waitError) Error() string { return e.msg }

// resolveSource finds the backup a Restore reads and the store it is in.
func (c *connector) resolveSource(ctx context.Context, cr *v1alpha1.Restore) (source, error) {
	fp := cr.Spec.ForProvider
	switch {
	case fp.BackupRef != nil:
		return c.fromBackup(ctx, cr.Namespace, fp.BackupRef.Name)
	case fp.Source != nil:
		return c.fromS3(ctx, cr, fp.Source.S3)
	}
	return source{}, &clients.ConfigError{Msg: "neither backupRef nor source is set"}
}

// fromBackup reads a Backup of the Restore's namespace. Its folder is
// computed as the Backup controller computes it, from the Backup's own
// spec and ProviderConfig, never taken from its status.
func (c *connector) fromBackup(ctx context.Context, namespace, name string) (source, error) {
	b := &v1alpha1.Backup{}
	if err := c.kube.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, b); err != nil {
		if kerrors.IsNotFound(err) {
			return source{}, &waitError{msg: fmt.Sprintf("Waiting for Backup %s: it does not exist", name)}
		}
		return source{}, fmt.Errorf("cannot read Backup %s: %w", name, err)
	}
	if err := restorable(b); err != nil {
		return source{}, err
	}
	fp := b.Spec.ForProvider
	rs, err := clients.ResolveStorage(ctx, c.kube, b.Namespace, b.GetProviderConfigReference(), fp.Storage.S3)
	if err != nil {
		return source{}, err
	}
	l := manifest.Layout{Prefix: rs.Prefix, Namespace: b.Namespace, Cluster: clients.TargetName(fp.ClusterRef, fp.Connection), Backup: b.Name}
	if err := l.Validate(); err != nil {
		return source{}, &clients.ConfigError{Msg: fmt.Sprintf("Backup %s has no valid location: %v", name, err)}
	}
	st, err := c.stores.Get(rs.Identity, func() (store, error) { return c.newStore(rs.Config) })
	if err != nil {
		return source{}, err
	}
	return source{store: st, root: l.Root(), backupUID: string(b.UID), path: "s3://" + rs.Config.Bucket + "/" + l.Root()}, nil
}

// restorable says why a Backup cannot be restored yet, if it cannot: it
// must be Completed, verified and Ready (its manifest still in the bucket).
func restorable(b *v1alpha1.Backup) error {
	obs := b.Status.AtProvider
	phase := string(obs.Phase)
	if phase == "" {
		phase = "not started"
	}
	switch {
	case meta.WasDeleted(b):
		return &waitError{msg: fmt.Sprintf("Backup %s is being deleted; restore from another backup", b.Name)}
	case obs.Phase == v1alpha1.BackupFailed || obs.Phase == v1alpha1.BackupExpired:
		return &waitError{msg: fmt.Sprintf("Backup %s is %s and will not complete; restore from another backup", b.Name, obs.Phase)}
	case obs.Phase != v1alpha1.BackupCompleted:
		return &waitError{msg: fmt.Sprintf("Waiting for Backup %s to complete: it is %s", b.Name, phase)}
	case obs.Verification == nil || !obs.Verification.Verified:
		return &waitError{msg: fmt.Sprintf("Waiting for Backup %s to be verified", b.Name)}
	}
	if c := b.GetCondition(xpv2.TypeReady); c.Status != corev1.ConditionTrue {
		msg := c.Message
		if msg == "" {
			msg = "it is not Ready"
		}
		return &waitError{msg: fmt.Sprintf("Waiting for Backup %s to be Ready: %s", b.Name, msg)}
	}
	return nil
}

// fromS3 resolves a raw S3 path with the Restore's own ProviderConfig. A
// ClusterProviderConfig's enforced key prefix comes first, and the path is
// checked segment by segment, so that no path can reach outside it.
func (c *connector) fromS3(ctx context.Context, cr *v1alpha1.Restore, s3 v1alpha1.S3BackupPath) (source, error) {
	rel := manifest.RootOf(s3.Path)
	if rel == "" {
		return source{}, &clients.ConfigError{Msg: fmt.Sprintf("source.s3.path %q names no folder: give the folder that holds manifest.json", s3.Path)}
	}
	for _, seg := range strings.Split(strings.TrimSuffix(rel, "/"), "/") {
		if err := manifest.ValidSegment(seg); err != nil {
			return source{}, &clients.ConfigError{Msg: fmt.Sprintf("source.s3.path %q: %v", s3.Path, err)}
		}
	}
	// The location has no prefix of its own: the path is the whole key
	// below what the config enforces.
	rs, err := clients.ResolveStorage(ctx, c.kube, cr.Namespace, cr.GetProviderConfigReference(), v1alpha1.S3Location{Bucket: s3.Bucket, S3Endpoint: s3.S3Endpoint})
	if err != nil {
		return source{}, err
	}
	root := rs.Prefix
	if root != "" && !strings.HasSuffix(root, "/") {
		root += "/"
	}
	root += rel
	st, err := c.stores.Get(rs.Identity, func() (store, error) { return c.newStore(rs.Config) })
	if err != nil {
		return source{}, err
	}
	return source{store: st, root: root, path: "s3://" + rs.Config.Bucket + "/" + root}, nil
}
