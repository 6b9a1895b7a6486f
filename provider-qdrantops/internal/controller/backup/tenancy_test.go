package backup_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
)

func adminKeys() *v1alpha1.CredentialsSecretRef {
	return &v1alpha1.CredentialsSecretRef{S3CredentialsSecretRef: v1alpha1.S3CredentialsSecretRef{Name: "s3-admin"}, Namespace: providerAccount.Namespace}
}

func TestAdmission(t *testing.T) {
	fixtures(t)
	cpc := func(name string, mod func(*v1alpha1.ClusterProviderConfigSpec)) client.Object {
		c := &v1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.ClusterProviderConfigSpec{
			ProviderConfigSpec: v1alpha1.ProviderConfigSpec{Credentials: v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceSecret, SecretRef: adminKeys()}},
		}}
		mod(&c.Spec)
		return c
	}
	tenancy := func(t v1alpha1.Tenancy) func(*v1alpha1.ClusterProviderConfigSpec) {
		return func(s *v1alpha1.ClusterProviderConfigSpec) { s.Tenancy = &t }
	}
	cases := map[string]struct {
		reason string
		obj    client.Object
		want   string // empty: accepted
	}{
		"InjectedIdentityInProviderConfig": {
			reason: "A namespace cannot borrow the provider's own cloud identity.",
			obj: &v1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "borrowed"}, Spec: v1alpha1.ProviderConfigSpec{
				Credentials: v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceInjectedIdentity},
			}},
			want: "credentials.source InjectedIdentity is only allowed in a ClusterProviderConfig",
		},
		"InjectedIdentityInClusterProviderConfig": {
			reason: "An administrator may share the provider's identity.",
			obj: cpc("injected", func(s *v1alpha1.ClusterProviderConfigSpec) {
				s.Credentials = v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceInjectedIdentity}
			}),
		},
		"SecretWithoutNamespace": {
			reason: "A ClusterProviderConfig has no namespace its Secret could default to.",
			obj:    cpc("no-namespace", func(s *v1alpha1.ClusterProviderConfigSpec) { s.Credentials.SecretRef.Namespace = "" }),
			want:   "a ClusterProviderConfig's credentials.secretRef must name the Secret's namespace",
		},
		"Tenancy": {
			reason: "A full tenancy is accepted.",
			obj: cpc("tenancy", tenancy(v1alpha1.Tenancy{
				AllowedBuckets: []string{bucket}, KeyPrefix: "tenants/{{namespace}}/", AllowedEndpoints: []string{"https://s3.example.com"},
			})),
		},
		"PrefixWithoutSlash": {
			reason: "Without a final slash one namespace's prefix could begin another's.",
			obj:    cpc("prefix-no-slash", tenancy(v1alpha1.Tenancy{KeyPrefix: "{{namespace}}"})),
			want:   "spec.tenancy.keyPrefix",
		},
		"PrefixDotDot": {
			reason: "A .. segment would climb out of the prefix.",
			obj:    cpc("prefix-dotdot", tenancy(v1alpha1.Tenancy{KeyPrefix: "tenants/../"})),
			want:   "keyPrefix segments cannot be . or ..",
		},
		"PrefixTooLong": {
			reason: "The enforced prefix is at most 128 bytes.",
			obj:    cpc("prefix-long", tenancy(v1alpha1.Tenancy{KeyPrefix: strings.Repeat("a", 128) + "/"})),
			want:   "Too long",
		},
		"PrefixTooLongOnceRendered": {
			reason: "Each {{namespace}} may become 63 bytes: the rendered prefix must fit the key budget too.",
			obj:    cpc("prefix-expands", tenancy(v1alpha1.Tenancy{KeyPrefix: strings.Repeat("{{namespace}}/", 3)})),
			want:   "keyPrefix must stay within 128 bytes once each {{namespace}} is replaced",
		},
		"PrefixTwoNamespacesFits": {
			reason: "Two namespaces of 63 bytes and their slashes fit.",
			obj:    cpc("prefix-two", tenancy(v1alpha1.Tenancy{KeyPrefix: "{{namespace}}/{{namespace}}/"})),
		},
		"IPBucket": {
			reason: "An allowed bucket follows S3's naming rules.",
			obj:    cpc("ip-bucket", tenancy(v1alpha1.Tenancy{AllowedBuckets: []string{"192.168.0.1"}})),
			want:   "a bucket name is not formatted as an IP address",
		},
		"DefaultEndpointWithUserinfo": {
			reason: "The default endpoint carries no credentials either.",
			obj:    cpc("default-endpoint-userinfo", func(s *v1alpha1.ClusterProviderConfigSpec) { s.S3.Endpoint = "http://u:p@s3.example.com" }),
			want:   "spec.s3.endpoint",
		},
		"EndpointWithUserinfo": {
			reason: "An allowed endpoint carries no credentials.",
			obj:    cpc("endpoint-userinfo", tenancy(v1alpha1.Tenancy{AllowedEndpoints: []string{"http://u:p@s3.example.com"}})),
			want:   "spec.tenancy.allowedEndpoints[0]",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := env.Client.Create(context.Background(), tc.obj)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("%s\nwant accepted, got %v", tc.reason, err)
			case tc.want != "" && err == nil:
				t.Errorf("%s\nwant refused with %q, got accepted", tc.reason, tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("%s\nwant refused with %q, got %v", tc.reason, tc.want, err)
			}
		})
	}
}

// TestClusterProviderConfigTenancy runs Backups of namespace team-a against
// a ClusterProviderConfig that pins a bucket and a per-namespace prefix.
func TestClusterProviderConfigTenancy(t *testing.T) {
	fixtures(t)
	// A host the tenant controls, counting what reaches it.
	var hits atomic.Int32
	tenant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusForbidden)
	}))
	defer tenant.Close()
	apply(t,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-admin", Namespace: providerAccount.Namespace}, StringData: map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}},
		&v1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Spec: v1alpha1.ClusterProviderConfigSpec{
			ProviderConfigSpec: v1alpha1.ProviderConfigSpec{
				S3:          v1alpha1.S3Defaults{Endpoint: srv.Endpoint, Region: srv.Region, UsePathStyle: true},
				Credentials: v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceSecret, SecretRef: adminKeys()},
			},
			Tenancy: &v1alpha1.Tenancy{AllowedBuckets: []string{bucket}, KeyPrefix: "tenants/{{namespace}}/"},
		}},
	)
	stop := startProvider(t)
	defer stop()
	shared := func(b *v1alpha1.Backup) {
		b.Spec.ProviderConfigReference = &xpv2.ProviderConfigReference{Kind: v1alpha1.ClusterProviderConfigKind, Name: "shared"}
	}

	t.Run("Refused", func(t *testing.T) {
		cases := map[string]struct {
			reason string
			mod    mod
			want   string
		}{
			"Bucket": {
				reason: "A bucket the administrator did not allow is refused.",
				mod:    func(b *v1alpha1.Backup) { b.Spec.ForProvider.Storage.S3.Bucket = "someone-elses" },
				want:   `bucket "someone-elses" is not allowed by ClusterProviderConfig shared; allowed: ` + bucket,
			},
			"Endpoint": {
				reason: "The administrator's keys are never sent to an endpoint the tenant chose.",
				mod:    func(b *v1alpha1.Backup) { b.Spec.ForProvider.Storage.S3.Endpoint = tenant.URL },
				want:   `endpoint "` + tenant.URL + `" is not allowed with the credentials of ClusterProviderConfig shared`,
			},
		}
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				n := "tenancy-" + strings.ToLower(name)
				apply(t, newBackup(n, shared, tc.mod))
				waitFor(t, n, 30*time.Second, "Synced False: "+tc.want, func(b *v1alpha1.Backup) bool {
					c := condition(b, xpv2.TypeSynced)
					return c.Status == corev1.ConditionFalse && strings.Contains(c.Message, tc.want)
				})
			})
		}
		if n := hits.Load(); n != 0 {
			t.Errorf("the tenant's endpoint received %d requests made with the administrator's keys", n)
		}
	})

	t.Run("OwnKeysAnyEndpoint", func(t *testing.T) {
		// With its own keys a resource signs its own requests: it may send
		// them where it likes.
		apply(t, newBackup("tenancy-own-keys", shared, func(b *v1alpha1.Backup) {
			b.Spec.ForProvider.Storage.S3.Endpoint = tenant.URL
			b.Spec.ForProvider.Storage.S3.CredentialsSecretRef = &v1alpha1.S3CredentialsSecretRef{Name: "s3-credentials"}
		}))
		deadline := time.Now().Add(30 * time.Second)
		for hits.Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("a Backup with credentials of its own never reached the endpoint it named")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("PrefixEnforced", func(t *testing.T) {
		apply(t, newBackup("tenancy-ok", shared))
		waitFor(t, "tenancy-ok", 90*time.Second, "Ready", func(b *v1alpha1.Backup) bool {
			return condition(b, xpv2.TypeReady).Status == corev1.ConditionTrue
		})
		mine := 0
		pages := s3.NewListObjectsV2Paginator(srv.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		for pages.HasMorePages() {
			out, err := pages.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range out.Contents {
				k := aws.ToString(o.Key)
				if !strings.Contains(k, "/tenancy-ok/") {
					continue
				}
				mine++
				if !strings.HasPrefix(k, "tenants/"+ns+"/test/") {
					t.Errorf("object %s is outside the prefix the ClusterProviderConfig enforces for namespace %s", k, ns)
				}
			}
		}
		if mine == 0 {
			t.Error("the backup stored no objects")
		}
	})
}
