package schedule

import (
	"context"
	"errors"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/resource"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
)

// orphaningFinalizer releases a deleted BackupSchedule's finalizer, and
// first, when the schedule's management policies leave out Delete, takes its
// owner reference off the Backups it controls: the garbage collector then
// keeps them (and their objects in S3) after the schedule is gone. With
// Delete (the default, "*") the Backups go with the schedule, as dependents
// of an owner that is deleted do. The managed reconciler releases the
// finalizer on either path, observing the schedule or not, so this is the
// one place that sees every deletion.
type orphaningFinalizer struct {
	resource.Finalizer
	kube client.Client
}

func (f *orphaningFinalizer) RemoveFinalizer(ctx context.Context, obj resource.Object) error {
	cr, ok := obj.(*v1alpha1.BackupSchedule)
	if ok && cr.GetDeletionTimestamp() != nil && !deletes(cr.GetManagementPolicies()) {
		if err := f.orphan(ctx, cr); err != nil {
			return err
		}
	}
	return f.Finalizer.RemoveFinalizer(ctx, obj)
}

// deletes says whether management policies include deleting: "*" or Delete.
func deletes(p xpv2.ManagementPolicies) bool {
	return len(p) == 0 || slices.Contains(p, xpv2.ManagementActionAll) || slices.Contains(p, xpv2.ManagementActionDelete)
}

// orphan takes cr's owner reference off every Backup it controls.
func (f *orphaningFinalizer) orphan(ctx context.Context, cr *v1alpha1.BackupSchedule) error {
	l := &v1alpha1.BackupList{}
	if err := f.kube.List(ctx, l, client.InNamespace(cr.Namespace), client.MatchingLabels{v1alpha1.LabelBackupSchedule: cr.Name}); err != nil {
		return fmt.Errorf("cannot list the Backups of the schedule to keep them: %w", err)
	}
	var errs []error
	for i := range l.Items {
		b := &l.Items[i]
		if !metav1.IsControlledBy(b, cr) {
			continue
		}
		orig := b.DeepCopy()
		b.SetOwnerReferences(slices.DeleteFunc(b.GetOwnerReferences(), func(r metav1.OwnerReference) bool { return r.UID == cr.GetUID() }))
		if err := f.kube.Patch(ctx, b, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			errs = append(errs, fmt.Errorf("cannot keep Backup %s after its schedule: %w", b.Name, err))
		}
	}
	return errors.Join(errs...)
}
