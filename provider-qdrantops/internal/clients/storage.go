package clients

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

// NamespacePlaceholder stands for a resource's namespace in a
// ClusterProviderConfig's tenancy.keyPrefix.
const NamespacePlaceholder = "{{namespace}}"

// A ProviderConfig is the ProviderConfig or ClusterProviderConfig a resource
// references, read and checked.
type ProviderConfig struct {
	// Kind, Namespace (empty for a ClusterProviderConfig), Name and
	// Generation identify the version of the config that was read.
	Kind       string
	Namespace  string
	Name       string
	Generation int64

	Spec v1alpha1.ProviderConfigSpec
	// SecretNamespace is where the credentials Secret of Spec is read.
	SecretNamespace string
	// Tenancy is what a ClusterProviderConfig allows namespaces; nil for a
	// ProviderConfig, whose namespace owns it.
	Tenancy *v1alpha1.Tenancy
}

func (pc ProviderConfig) String() string {
	if pc.Namespace == "" {
		return pc.Kind + " " + pc.Name
	}
	return pc.Kind + " " + pc.Namespace + "/" + pc.Name
}

// GetProviderConfig reads the ProviderConfig or ClusterProviderConfig a
// resource of namespace references. A namespaced ProviderConfig reads Secrets
// of its own namespace only and cannot use the provider's own identity; the
// API refuses both, and so does this, for objects stored before it did.
func GetProviderConfig(ctx context.Context, kube client.Reader, namespace string, ref *xpv2.ProviderConfigReference) (ProviderConfig, error) {
	if ref == nil {
		return ProviderConfig{}, configErr("no providerConfigRef")
	}
	switch ref.Kind {
	case v1alpha1.ClusterProviderConfigKind:
		pc := &v1alpha1.ClusterProviderConfig{}
		if err := kube.Get(ctx, types.NamespacedName{Name: ref.Name}, pc); err != nil {
			if kerrors.IsNotFound(err) {
				return ProviderConfig{}, configErr("ClusterProviderConfig %s not found", ref.Name)
			}
			return ProviderConfig{}, fmt.Errorf("cannot read ClusterProviderConfig %s: %w", ref.Name, err)
		}
		out := ProviderConfig{Kind: ref.Kind, Name: ref.Name, Generation: pc.Generation, Spec: pc.Spec.ProviderConfigSpec, Tenancy: pc.Spec.Tenancy}
		if r := pc.Spec.Credentials.SecretRef; r != nil {
			if r.Namespace == "" {
				return ProviderConfig{}, configErr("%s names a credentials Secret without a namespace", out)
			}
			out.SecretNamespace = r.Namespace
		}
		return out, nil
	case v1alpha1.ProviderConfigKind, "":
		pc := &v1alpha1.ProviderConfig{}
		if err := kube.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, pc); err != nil {
			if kerrors.IsNotFound(err) {
				return ProviderConfig{}, configErr("ProviderConfig %s/%s not found", namespace, ref.Name)
			}
			return ProviderConfig{}, fmt.Errorf("cannot read ProviderConfig %s/%s: %w", namespace, ref.Name, err)
		}
		out := ProviderConfig{Kind: v1alpha1.ProviderConfigKind, Namespace: namespace, Name: ref.Name, Generation: pc.Generation, Spec: pc.Spec, SecretNamespace: namespace}
		if r := pc.Spec.Credentials.SecretRef; r != nil && r.Namespace != "" && r.Namespace != namespace {
			return ProviderConfig{}, configErr("%s names a Secret in namespace %s; a ProviderConfig reads Secrets of its own namespace only (use a ClusterProviderConfig)", out, r.Namespace)
		}
		if pc.Spec.Credentials.Source == xpv2.CredentialsSourceInjectedIdentity {
			return ProviderConfig{}, configErr("%s uses credentials source InjectedIdentity, the provider's own identity; only a ClusterProviderConfig may", out)
		}
		return out, nil
	}
	return ProviderConfig{}, configErr("providerConfigRef kind %q is not ProviderConfig or ClusterProviderConfig", ref.Kind)
}

// A ResolvedStorage is where a resource's objects live and how to reach them.
type ResolvedStorage struct {
	Config s3store.Config
	// Prefix is the key prefix of the resource's objects: the one its
	// ClusterProviderConfig enforces for its namespace, then its own.
	Prefix string
	// Identity names every input Config was built from, versions included:
	// the config's kind, namespace, name and generation, the credentials
	// Secret and its resourceVersion, the bucket, endpoint, region and
	// addressing. Two equal identities may share one client.
	Identity string
}

// ResolveStorage builds the object store of a resource of namespace: its
// location over its ProviderConfig's defaults, its own credentials Secret (in
// its namespace) over the ProviderConfig's, all within what a
// ClusterProviderConfig allows namespaces. Anything outside that is a
// ConfigError that says what is allowed.
func ResolveStorage(ctx context.Context, kube client.Reader, namespace string, ref *xpv2.ProviderConfigReference, loc v1alpha1.S3Location) (ResolvedStorage, error) {
	pc, err := GetProviderConfig(ctx, kube, namespace, ref)
	if err != nil {
		return ResolvedStorage{}, err
	}
	cfg := s3store.Config{Bucket: loc.Bucket, Region: pc.Spec.S3.Region, Endpoint: pc.Spec.S3.Endpoint, UsePathStyle: pc.Spec.S3.UsePathStyle}
	if loc.Region != "" {
		cfg.Region = loc.Region
	}
	if loc.Endpoint != "" {
		cfg.Endpoint = loc.Endpoint
	}
	if loc.UsePathStyle != nil {
		cfg.UsePathStyle = *loc.UsePathStyle
	}
	prefix, err := allowed(pc, namespace, loc)
	if err != nil {
		return ResolvedStorage{}, err
	}
	var creds string
	switch {
	case loc.CredentialsSecretRef != nil:
		cfg.Credentials, creds, err = keyPair(ctx, kube, namespace, *loc.CredentialsSecretRef)
	case pc.Spec.Credentials.Source == xpv2.CredentialsSourceSecret:
		if pc.Spec.Credentials.SecretRef == nil {
			return ResolvedStorage{}, configErr("the credentials of %s name no Secret", pc)
		}
		cfg.Credentials, creds, err = keyPair(ctx, kube, pc.SecretNamespace, pc.Spec.Credentials.SecretRef.S3CredentialsSecretRef)
		var ce *ConfigError
		if errors.As(err, &ce) && pc.Kind == v1alpha1.ClusterProviderConfigKind {
			// The admin's Secret is none of the tenant's business: name
			// the ClusterProviderConfig, whose admin knows where to look.
			err = configErr("the credentials Secret of %s is missing or incomplete; ask its administrator", pc)
		}
	case pc.Spec.Credentials.Source == xpv2.CredentialsSourceInjectedIdentity:
		cfg.Credentials, creds = &defaultChain{region: cfg.Region}, "injected"
	default:
		creds = "none"
	}
	if err != nil {
		return ResolvedStorage{}, err
	}
	id := fmt.Sprintf("%s|%s|%s|%d|creds=%s|bucket=%s|endpoint=%s|region=%s|pathStyle=%t",
		pc.Kind, pc.Namespace, pc.Name, pc.Generation, creds, cfg.Bucket, cfg.Endpoint, cfg.Region, cfg.UsePathStyle)
	return ResolvedStorage{Config: cfg, Prefix: prefix, Identity: id}, nil
}

// allowed checks a resource's location against its config's tenancy and
// returns the resource's full key prefix.
func allowed(pc ProviderConfig, namespace string, loc v1alpha1.S3Location) (string, error) {
	if pc.Kind != v1alpha1.ClusterProviderConfigKind {
		// A namespace's own ProviderConfig: its credentials are its own.
		return loc.Prefix, nil
	}
	t := pc.Tenancy
	if t == nil {
		t = &v1alpha1.Tenancy{}
	}
	if len(t.AllowedBuckets) > 0 && !contains(t.AllowedBuckets, loc.Bucket) {
		return "", configErr("bucket %q is not allowed by %s; allowed: %s", loc.Bucket, pc, strings.Join(t.AllowedBuckets, ", "))
	}
	// Requests signed with the config's credentials, or sent with the
	// provider's own identity, go only where the administrator said: a
	// tenant's endpoint would otherwise receive them. With credentials of
	// its own a resource signs with its own keys, and None signs nothing.
	ownCreds := loc.CredentialsSecretRef != nil || pc.Spec.Credentials.Source == xpv2.CredentialsSourceNone
	if loc.Endpoint != "" && !ownCreds && !sameEndpoint(loc.Endpoint, pc.Spec.S3.Endpoint) && !containsEndpoint(t.AllowedEndpoints, loc.Endpoint) {
		allowedList := "only the ClusterProviderConfig's own"
		if len(t.AllowedEndpoints) > 0 {
			allowedList = strings.Join(t.AllowedEndpoints, ", ")
		}
		return "", configErr("endpoint %q is not allowed with the credentials of %s (allowed: %s); name credentials of your own in credentialsSecretRef to use it", loc.Endpoint, pc, allowedList)
	}
	enforced, err := RenderKeyPrefix(t.KeyPrefix, namespace)
	if err != nil {
		return "", fmt.Errorf("%s: %w", pc, err)
	}
	return enforced + loc.Prefix, nil
}

// RenderKeyPrefix renders a ClusterProviderConfig's tenancy.keyPrefix for a
// namespace. The API validates the template; this checks the result again,
// since a key prefix is what keeps one namespace's objects from another's.
func RenderKeyPrefix(template, namespace string) (string, error) {
	if template == "" {
		return "", nil
	}
	p := strings.ReplaceAll(template, NamespacePlaceholder, namespace)
	if strings.Contains(template, NamespacePlaceholder) && namespace == "" {
		return "", configErr("tenancy.keyPrefix %q needs a namespace", template)
	}
	if !strings.HasSuffix(p, "/") || strings.HasPrefix(p, "/") {
		return "", configErr("tenancy.keyPrefix %q must end, and not start, with a slash", template)
	}
	for _, seg := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "{}") {
			return "", configErr("tenancy.keyPrefix %q renders to %q, which has an invalid segment %q", template, p, seg)
		}
	}
	return p, nil
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func containsEndpoint(l []string, e string) bool {
	for _, v := range l {
		if sameEndpoint(v, e) {
			return true
		}
	}
	return false
}

// sameEndpoint compares endpoint URLs, ignoring a trailing slash and the case
// of the scheme and host.
func sameEndpoint(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimRight(s, "/")
		scheme, rest, ok := strings.Cut(s, "://")
		if !ok {
			return s
		}
		host, path, _ := strings.Cut(rest, "/")
		if path != "" {
			path = "/" + path
		}
		return strings.ToLower(scheme) + "://" + strings.ToLower(host) + path
	}
	return a != "" && norm(a) == norm(b)
}

// keyPair reads an access key pair, and says which version of which Secret it
// came from.
func keyPair(ctx context.Context, kube client.Reader, namespace string, ref v1alpha1.S3CredentialsSecretRef) (aws.CredentialsProvider, string, error) {
	idKey, secretKeyName := ref.AccessKeyIDKey, ref.SecretAccessKeyKey
	if idKey == "" {
		idKey = "AWS_ACCESS_KEY_ID"
	}
	if secretKeyName == "" {
		secretKeyName = "AWS_SECRET_ACCESS_KEY" //nolint:gosec // G101: the default name of a key in the Secret, not a credential.
	}
	s, err := getSecret(ctx, kube, namespace, ref.Name)
	if err != nil {
		return nil, "", err
	}
	id, secret := string(s.Data[idKey]), string(s.Data[secretKeyName])
	if id == "" || secret == "" {
		missing := idKey
		if id != "" {
			missing = secretKeyName
		}
		return nil, "", configErr("Secret %s/%s has no key %q", namespace, ref.Name, missing)
	}
	token := ""
	if ref.SessionTokenKey != "" {
		token = string(s.Data[ref.SessionTokenKey])
	}
	version := fmt.Sprintf("secret:%s/%s@%s:%s,%s,%s", namespace, ref.Name, s.ResourceVersion, idKey, secretKeyName, ref.SessionTokenKey)
	return credentials.NewStaticCredentialsProvider(id, secret, token), version, nil
}

// defaultChain is the AWS SDK's default credentials chain (environment, web
// identity as IRSA sets it up, container and instance roles), loaded on first
// use and cached from then on: a client kept across reconciles asks STS for
// credentials only when they expire.
type defaultChain struct {
	region string

	once sync.Once
	p    aws.CredentialsProvider
	err  error
}

func (d *defaultChain) Retrieve(ctx context.Context) (aws.Credentials, error) {
	d.once.Do(func() {
		cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(d.region))
		if err != nil {
			d.err = fmt.Errorf("cannot load the default AWS credentials chain: %w", err)
			return
		}
		d.p = cfg.Credentials
	})
	if d.err != nil {
		return aws.Credentials{}, d.err
	}
	return d.p.Retrieve(ctx)
}
