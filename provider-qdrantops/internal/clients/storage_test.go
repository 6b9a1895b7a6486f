package clients

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
)

// objects is a hand-written client.Reader over objects keyed by their Go
// type, namespace and name.
type objects map[string]client.Object

func key(o client.Object, namespace, name string) string {
	return fmt.Sprintf("%T/%s/%s", o, namespace, name)
}

func (os objects) add(o client.Object) objects {
	os[key(o, o.GetNamespace(), o.GetName())] = o
	return os
}

func (os objects) Get(_ context.Context, k client.ObjectKey, o client.Object, _ ...client.GetOption) error {
	found, ok := os[key(o, k.Namespace, k.Name)]
	if !ok {
		return kerrors.NewNotFound(schema.GroupResource{Resource: fmt.Sprintf("%T", o)}, k.Name)
	}
	reflect.ValueOf(o).Elem().Set(reflect.ValueOf(found.DeepCopyObject()).Elem())
	return nil
}

func (os objects) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("List is not used")
}

const (
	ns       = "team-a"
	adminNS  = "crossplane-system"
	bucket   = "backups"
	endpoint = "http://s3.internal:9000"
)

func keys(namespace, name, rv string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, ResourceVersion: rv},
		Data:       map[string][]byte{"AWS_ACCESS_KEY_ID": []byte("id"), "AWS_SECRET_ACCESS_KEY": []byte("secret")},
	}
}

func cpc(gen int64, t *v1alpha1.Tenancy) *v1alpha1.ClusterProviderConfig {
	return &v1alpha1.ClusterProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "shared", Generation: gen},
		Spec: v1alpha1.ClusterProviderConfigSpec{
			ProviderConfigSpec: v1alpha1.ProviderConfigSpec{
				S3:          v1alpha1.S3Defaults{Endpoint: endpoint, Region: "eu-west-1"},
				Credentials: v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceSecret, SecretRef: &v1alpha1.CredentialsSecretRef{S3CredentialsSecretRef: v1alpha1.S3CredentialsSecretRef{Name: "admin-keys"}, Namespace: adminNS}},
			},
			Tenancy: t,
		},
	}
}

var cpcRef = &xpv2.ProviderConfigReference{Kind: v1alpha1.ClusterProviderConfigKind, Name: "shared"}

func TestResolveStorage(t *testing.T) {
	tenancy := &v1alpha1.Tenancy{AllowedBuckets: []string{bucket, "archive"}, KeyPrefix: "tenants/{{namespace}}/", AllowedEndpoints: []string{"https://s3.other.example/"}}
	type want struct {
		prefix   string
		endpoint string
		err      string
	}
	cases := map[string]struct {
		reason string
		kube   objects
		ref    *xpv2.ProviderConfigReference
		loc    v1alpha1.S3Location
		want   want
	}{
		"InjectedIdentityInProviderConfig": {
			reason: "A namespaced ProviderConfig cannot use the provider's own identity, even if the API let it in before its rule existed.",
			kube: objects{}.add(&v1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mine"}, Spec: v1alpha1.ProviderConfigSpec{
				Credentials: v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceInjectedIdentity},
			}}),
			ref:  &xpv2.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKind, Name: "mine"},
			loc:  v1alpha1.S3Location{Bucket: bucket},
			want: want{err: "ProviderConfig team-a/mine uses credentials source InjectedIdentity"},
		},
		"InjectedIdentityInClusterProviderConfig": {
			reason: "An administrator's ClusterProviderConfig may use the provider's own identity.",
			kube: objects{}.add(&v1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Spec: v1alpha1.ClusterProviderConfigSpec{ProviderConfigSpec: v1alpha1.ProviderConfigSpec{
				Credentials: v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceInjectedIdentity},
			}}}),
			ref:  cpcRef,
			loc:  v1alpha1.S3Location{Bucket: bucket, Prefix: "p/"},
			want: want{prefix: "p/"},
		},
		"ProviderConfigOwnPrefix": {
			reason: "A namespace's own ProviderConfig enforces no prefix.",
			kube: objects{}.add(keys(ns, "keys", "1")).add(&v1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mine"}, Spec: v1alpha1.ProviderConfigSpec{
				S3:          v1alpha1.S3Defaults{Endpoint: endpoint},
				Credentials: v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceSecret, SecretRef: &v1alpha1.CredentialsSecretRef{S3CredentialsSecretRef: v1alpha1.S3CredentialsSecretRef{Name: "keys"}}},
			}}),
			ref:  &xpv2.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKind, Name: "mine"},
			loc:  v1alpha1.S3Location{Bucket: bucket, Prefix: "p/", S3Endpoint: v1alpha1.S3Endpoint{Endpoint: "http://anywhere:9000"}},
			want: want{prefix: "p/", endpoint: "http://anywhere:9000"},
		},
		"EnforcedPrefix": {
			reason: "The ClusterProviderConfig's prefix, rendered for the namespace, comes before the resource's own.",
			kube:   objects{}.add(keys(adminNS, "admin-keys", "1")).add(cpc(1, tenancy)),
			ref:    cpcRef,
			loc:    v1alpha1.S3Location{Bucket: bucket, Prefix: "prod/"},
			want:   want{prefix: "tenants/team-a/prod/", endpoint: endpoint},
		},
		"BucketNotAllowed": {
			reason: "A bucket the administrator did not list is refused, saying which are allowed.",
			kube:   objects{}.add(keys(adminNS, "admin-keys", "1")).add(cpc(1, tenancy)),
			ref:    cpcRef,
			loc:    v1alpha1.S3Location{Bucket: "someone-elses"},
			want:   want{err: `bucket "someone-elses" is not allowed by ClusterProviderConfig shared; allowed: backups, archive`},
		},
		"AnyBucketWithoutList": {
			reason: "No allowedBuckets allows any bucket.",
			kube:   objects{}.add(keys(adminNS, "admin-keys", "1")).add(cpc(1, nil)),
			ref:    cpcRef,
			loc:    v1alpha1.S3Location{Bucket: "someone-elses"},
			want:   want{endpoint: endpoint},
		},
		"TenantEndpointWithAdminKeys": {
			reason: "An endpoint override would send requests signed with the administrator's keys to a host the tenant chose.",
			kube:   objects{}.add(keys(adminNS, "admin-keys", "1")).add(cpc(1, nil)),
			ref:    cpcRef,
			loc:    v1alpha1.S3Location{Bucket: bucket, S3Endpoint: v1alpha1.S3Endpoint{Endpoint: "http://tenant.example:9000"}},
			want:   want{err: `endpoint "http://tenant.example:9000" is not allowed with the credentials of ClusterProviderConfig shared (allowed: only the ClusterProviderConfig's own)`},
		},
		"ListedEndpoint": {
			reason: "An endpoint the administrator listed is allowed, whatever its trailing slash or case.",
			kube:   objects{}.add(keys(adminNS, "admin-keys", "1")).add(cpc(1, tenancy)),
			ref:    cpcRef,
			loc:    v1alpha1.S3Location{Bucket: bucket, S3Endpoint: v1alpha1.S3Endpoint{Endpoint: "https://S3.other.example"}},
			want:   want{prefix: "tenants/team-a/", endpoint: "https://S3.other.example"},
		},
		"OwnEndpointRepeated": {
			reason: "Naming the config's own endpoint is no override.",
			kube:   objects{}.add(keys(adminNS, "admin-keys", "1")).add(cpc(1, nil)),
			ref:    cpcRef,
			loc:    v1alpha1.S3Location{Bucket: bucket, S3Endpoint: v1alpha1.S3Endpoint{Endpoint: endpoint + "/"}},
			want:   want{endpoint: endpoint + "/"},
		},
		"TenantEndpointWithOwnKeys": {
			reason: "With credentials of its own a resource signs with its own keys, and may name any endpoint.",
			kube:   objects{}.add(keys(ns, "my-keys", "1")).add(cpc(1, tenancy)),
			ref:    cpcRef,
			loc: v1alpha1.S3Location{Bucket: bucket, S3Endpoint: v1alpha1.S3Endpoint{
				Endpoint: "http://tenant.example:9000", CredentialsSecretRef: &v1alpha1.S3CredentialsSecretRef{Name: "my-keys"},
			}},
			want: want{prefix: "tenants/team-a/", endpoint: "http://tenant.example:9000"},
		},
		"ClusterProviderConfigSecretMissing": {
			reason: "A tenant learns that the admin's credentials are missing, not where the admin keeps them.",
			kube:   objects{}.add(cpc(1, nil)),
			ref:    cpcRef,
			loc:    v1alpha1.S3Location{Bucket: bucket},
			want:   want{err: "the credentials Secret of ClusterProviderConfig shared is missing or incomplete; ask its administrator"},
		},
		"ClusterProviderConfigSecretWithoutNamespace": {
			reason: "A ClusterProviderConfig's Secret has no namespace of its own to default to.",
			kube: objects{}.add(func() client.Object {
				c := cpc(1, nil)
				c.Spec.Credentials.SecretRef.Namespace = ""
				return c
			}()),
			ref:  cpcRef,
			loc:  v1alpha1.S3Location{Bucket: bucket},
			want: want{err: "ClusterProviderConfig shared names a credentials Secret without a namespace"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rs, err := ResolveStorage(context.Background(), tc.kube, ns, tc.ref, tc.loc)
			got := want{prefix: rs.Prefix, endpoint: rs.Config.Endpoint}
			if err != nil {
				var ce *ConfigError
				if !errors.As(err, &ce) {
					t.Errorf("%s\nResolveStorage(...): want a ConfigError, got %T %v", tc.reason, err, err)
				}
				got = want{err: err.Error()}
			}
			if tc.want.err != "" && strings.HasPrefix(got.err, tc.want.err) {
				got.err = tc.want.err
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("%s\nResolveStorage(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestResolveStorageIdentity(t *testing.T) {
	loc := v1alpha1.S3Location{Bucket: bucket, Prefix: "p/"}
	identity := func(kube objects, loc v1alpha1.S3Location) string {
		t.Helper()
		rs, err := ResolveStorage(context.Background(), kube, ns, cpcRef, loc)
		if err != nil {
			t.Fatal(err)
		}
		return rs.Identity
	}
	base := identity(objects{}.add(keys(adminNS, "admin-keys", "1")).add(cpc(1, nil)), loc)
	cases := map[string]struct {
		reason string
		kube   objects
		loc    v1alpha1.S3Location
		same   bool
	}{
		"Unchanged": {
			reason: "The same config, Secret and location share a client.",
			kube:   objects{}.add(keys(adminNS, "admin-keys", "1")).add(cpc(1, nil)),
			loc:    loc,
			same:   true,
		},
		"OtherPrefix": {
			reason: "The key prefix is not the client's: resources under other prefixes share it.",
			kube:   objects{}.add(keys(adminNS, "admin-keys", "1")).add(cpc(1, nil)),
			loc:    v1alpha1.S3Location{Bucket: bucket, Prefix: "q/"},
			same:   true,
		},
		"NewGeneration": {
			reason: "An edited config builds a new client.",
			kube:   objects{}.add(keys(adminNS, "admin-keys", "1")).add(cpc(2, nil)),
			loc:    loc,
		},
		"RotatedKeys": {
			reason: "Rotated keys build a new client.",
			kube:   objects{}.add(keys(adminNS, "admin-keys", "2")).add(cpc(1, nil)),
			loc:    loc,
		},
		"OtherBucket": {
			reason: "A client is bound to its bucket.",
			kube:   objects{}.add(keys(adminNS, "admin-keys", "1")).add(cpc(1, nil)),
			loc:    v1alpha1.S3Location{Bucket: "archive"},
		},
		"OtherRegion": {
			reason: "A client is bound to its region.",
			kube:   objects{}.add(keys(adminNS, "admin-keys", "1")).add(cpc(1, nil)),
			loc:    v1alpha1.S3Location{Bucket: bucket, S3Endpoint: v1alpha1.S3Endpoint{Region: "us-east-2"}},
		},
		"OtherAddressing": {
			reason: "A client is bound to its addressing style.",
			kube:   objects{}.add(keys(adminNS, "admin-keys", "1")).add(cpc(1, nil)),
			loc:    v1alpha1.S3Location{Bucket: bucket, S3Endpoint: v1alpha1.S3Endpoint{UsePathStyle: ptr.To(true)}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := identity(tc.kube, tc.loc) == base
			if got != tc.same {
				t.Errorf("%s\nsame identity: want %t, got %t", tc.reason, tc.same, got)
			}
		})
	}
}

func TestRenderKeyPrefix(t *testing.T) {
	type want struct {
		prefix string
		err    bool
	}
	cases := map[string]struct {
		reason    string
		template  string
		namespace string
		want      want
	}{
		"Empty":       {reason: "No template enforces nothing.", namespace: ns},
		"Namespace":   {reason: "The placeholder is the namespace.", template: "{{namespace}}/", namespace: ns, want: want{prefix: "team-a/"}},
		"Nested":      {reason: "The placeholder may appear anywhere.", template: "t/{{namespace}}-backups/", namespace: ns, want: want{prefix: "t/team-a-backups/"}},
		"Fixed":       {reason: "A fixed prefix is the same for every namespace.", template: "shared/", namespace: ns, want: want{prefix: "shared/"}},
		"NoSlash":     {reason: "Without a final slash one namespace's prefix could begin another's.", template: "{{namespace}}", namespace: ns, want: want{err: true}},
		"DotDot":      {reason: "A .. segment would climb out of the prefix.", template: "a/../", namespace: ns, want: want{err: true}},
		"Leading":     {reason: "Keys do not start with a slash.", template: "/{{namespace}}/", namespace: ns, want: want{err: true}},
		"NoNamespace": {reason: "A namespace placeholder needs a namespace.", template: "{{namespace}}/", want: want{err: true}},
		"Unknown":     {reason: "An unknown placeholder is not left in keys.", template: "{{name}}/", namespace: ns, want: want{err: true}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := RenderKeyPrefix(tc.template, tc.namespace)
			if diff := cmp.Diff(tc.want, want{prefix: p, err: err != nil}, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("%s\nRenderKeyPrefix(%q, %q): -want, +got:\n%s", tc.reason, tc.template, tc.namespace, diff)
			}
		})
	}
}
