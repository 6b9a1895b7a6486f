package restore

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	usecase "github.com/qdrantops/qdrantops/provider-qdrantops/internal/restore"
)

// SaveJournal saves a journal as a restore job of the Restore key with uid
// does, over no earlier status, for the tests of the external package.
func SaveJournal(ctx context.Context, kube client.Client, key types.NamespacedName, uid types.UID, rec usecase.Record) error {
	j := &journal{
		kube: kube, key: key, uid: uid,
		view:  func(rec usecase.Record) []v1alpha1.RestoredCollection { return collections(nil, usecase.Status{}, rec) },
		saved: func(usecase.Record) {},
		stop:  func() {},
	}
	return j.Save(ctx, rec)
}
