package backup

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/crossplane/crossplane-runtime/v2/pkg/resource"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/clients"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

// kube is a hand-written client that reads the objects it holds; Connect
// only reads.
type kube struct {
	client.Client
	objs map[string]client.Object
}

func (k *kube) put(o client.Object) {
	k.objs[fmt.Sprintf("%T/%s/%s", o, o.GetNamespace(), o.GetName())] = o
}

func (k *kube) Get(_ context.Context, key client.ObjectKey, o client.Object, _ ...client.GetOption) error {
	found, ok := k.objs[fmt.Sprintf("%T/%s/%s", o, key.Namespace, key.Name)]
	if !ok {
		return kerrors.NewNotFound(schema.GroupResource{}, key.Name)
	}
	reflect.ValueOf(o).Elem().Set(reflect.ValueOf(found.DeepCopyObject()).Elem())
	return nil
}

func TestConnectReusesStores(t *testing.T) {
	k := &kube{objs: map[string]client.Object{}}
	k.put(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "keys", ResourceVersion: "1"}, Data: map[string][]byte{"AWS_ACCESS_KEY_ID": []byte("id"), "AWS_SECRET_ACCESS_KEY": []byte("secret")}})
	pc := func(gen int64) *v1alpha1.ProviderConfig {
		return &v1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "default", Generation: gen}, Spec: v1alpha1.ProviderConfigSpec{
			S3:          v1alpha1.S3Defaults{Endpoint: "http://s3.internal:9000"},
			Credentials: v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceSecret, SecretRef: &v1alpha1.CredentialsSecretRef{S3CredentialsSecretRef: v1alpha1.S3CredentialsSecretRef{Name: "keys"}}},
		}}
	}
	k.put(pc(1))
	var built []s3store.Config
	c := &connector{
		kube:   k,
		usage:  resource.ModernTrackerFn(func(context.Context, resource.ModernManaged) error { return nil }),
		stores: clients.NewCache[store](4),
		newStore: func(cfg s3store.Config) (store, error) {
			built = append(built, cfg)
			return nil, nil
		},
	}
	b := &v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "b"}}
	b.Spec.ProviderConfigReference = &xpv2.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKind, Name: "default"}
	b.Spec.ForProvider.Storage.S3 = v1alpha1.S3Location{Bucket: "backups", Prefix: "p/"}
	connect := func() {
		t.Helper()
		if _, err := c.Connect(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}

	connect()
	connect()
	if len(built) != 1 {
		t.Errorf("two Connects of an unchanged config built %d stores; want 1", len(built))
	}
	// An edited ProviderConfig has a new generation: its store is built
	// anew, with the new settings.
	edited := pc(2)
	edited.Spec.S3.Region = "eu-west-1"
	k.put(edited)
	connect()
	if len(built) != 2 || built[1].Region != "eu-west-1" {
		t.Errorf("after an edit: %d stores built, last region %q; want 2, eu-west-1", len(built), built[len(built)-1].Region)
	}
}
