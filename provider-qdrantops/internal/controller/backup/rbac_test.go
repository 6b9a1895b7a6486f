package backup_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	qdrantv1alpha1 "github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/testenv"
)

// providerAccount is the ServiceAccount the provider runs as in these tests,
// as a provider pod runs as the one Crossplane makes for it.
var providerAccount = testenv.ServiceAccount{Namespace: "crossplane-system", Name: "provider-qdrantops"}

// bindProvider binds the provider's ServiceAccount to exactly the ClusterRole
// Crossplane's RBAC manager grants the package in package/provider, so that
// the provider's tests fail on a permission a real install would not have.
func bindProvider() (func(), error) {
	role, err := testenv.ProviderRole(filepath.Join(env.Root, "package", "provider"))
	if err != nil {
		return nil, err
	}
	return func() {}, env.BindServiceAccount(context.Background(), providerAccount, role)
}

// TestProviderHasOnlyWhatCrossplaneGrants checks the harness itself: the
// provider's requests are authorized as its ServiceAccount's, which may use
// the package's kinds, Secrets, Events and Leases, and nothing else.
func TestProviderHasOnlyWhatCrossplaneGrants(t *testing.T) {
	fixtures(t)
	c, err := client.New(env.As(providerAccount), client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := map[string]struct {
		reason    string
		do        func() error
		forbidden bool
	}{
		"OwnKinds": {
			reason: "A provider manages the kinds its package defines.",
			do:     func() error { return c.List(ctx, &v1alpha1.BackupList{}, client.InNamespace(ns)) },
		},
		"Secrets": {
			reason: "A provider reads credentials and connection Secrets.",
			do: func() error {
				return c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "s3-credentials"}, &corev1.Secret{})
			},
		},
		"QdrantCluster": {
			reason: "The QdrantCluster kind belongs to the Configuration, not to the provider's package.",
			do: func() error {
				return c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "search"}, &qdrantv1alpha1.QdrantCluster{})
			},
			forbidden: true,
		},
		"Pods": {
			reason:    "Nothing outside the package and Crossplane's extras.",
			do:        func() error { return c.List(ctx, &corev1.PodList{}, client.InNamespace(ns)) },
			forbidden: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.do()
			if err != nil && !kerrors.IsForbidden(err) {
				t.Fatalf("%s\nunexpected error: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.forbidden, kerrors.IsForbidden(err)); diff != "" {
				t.Errorf("%s\nforbidden: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
