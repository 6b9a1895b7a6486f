package restore_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	restorectl "github.com/qdrantops/qdrantops/provider-qdrantops/internal/controller/restore"
	usecase "github.com/qdrantops/qdrantops/provider-qdrantops/internal/restore"
)

// The journal is written by the provider's ServiceAccount, with only the
// permissions Crossplane grants it, to the Restore it belongs to and to no
// other: a Restore deleted and created again under the same name is not the
// one a running job journals for.
func TestJournalLandsOnItsOwnRestoreOnly(t *testing.T) {
	fixtures(t)
	ctx := context.Background()
	kube, err := client.New(env.As(providerAccount), client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	// No provider runs: nothing else writes the status.
	r := newRestore("journaled", fromBackup("never"), into("nowhere"))
	apply(t, r)
	defer func() { _ = env.Client.Delete(ctx, r) }()
	key := types.NamespacedName{Namespace: ns, Name: "journaled"}
	rec := usecase.Record{Created: []string{"a"}, Recovered: map[string][]uint32{"a": {0, 2}}}
	if err := restorectl.SaveJournal(ctx, kube, key, r.UID, rec); err != nil {
		t.Fatalf("saving the journal of its own Restore: %v", err)
	}
	want := []v1alpha1.RestoredCollection{{Name: "a", Created: true, RecoveredShards: []uint32{0, 2}}}
	if diff := cmp.Diff(want, getRestore(t, "journaled").Status.AtProvider.RestoredCollections); diff != "" {
		t.Errorf("journal in status: -want, +got:\n%s", diff)
	}
	other := usecase.Record{Created: []string{"b"}, Recovered: map[string][]uint32{}}
	if err := restorectl.SaveJournal(ctx, kube, key, "another-uid", other); err == nil {
		t.Error("a journal naming another uid was written")
	}
	if diff := cmp.Diff(want, getRestore(t, "journaled").Status.AtProvider.RestoredCollections); diff != "" {
		t.Errorf("journal after a write for another uid: -want, +got:\n%s", diff)
	}
}
