package clients

import (
	"context"
	"fmt"

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

// ProviderConfigSpec reads the spec of the ProviderConfig or
// ClusterProviderConfig a resource references, and the namespace its Secrets
// are read from.
func ProviderConfigSpec(ctx context.Context, kube client.Reader, namespace string, ref *xpv2.ProviderConfigReference) (v1alpha1.ProviderConfigSpec, string, error) {
	if ref == nil {
		return v1alpha1.ProviderConfigSpec{}, "", configErr("no providerConfigRef")
	}
	switch ref.Kind {
	case v1alpha1.ClusterProviderConfigKind:
		pc := &v1alpha1.ClusterProviderConfig{}
		if err := kube.Get(ctx, types.NamespacedName{Name: ref.Name}, pc); err != nil {
			if kerrors.IsNotFound(err) {
				return v1alpha1.ProviderConfigSpec{}, "", configErr("ClusterProviderConfig %s not found", ref.Name)
			}
			return v1alpha1.ProviderConfigSpec{}, "", fmt.Errorf("cannot read ClusterProviderConfig %s: %w", ref.Name, err)
		}
		ns := ""
		if pc.Spec.Credentials.SecretRef != nil {
			ns = pc.Spec.Credentials.SecretRef.Namespace
		}
		return pc.Spec, ns, nil
	case v1alpha1.ProviderConfigKind, "":
		pc := &v1alpha1.ProviderConfig{}
		if err := kube.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, pc); err != nil {
			if kerrors.IsNotFound(err) {
				return v1alpha1.ProviderConfigSpec{}, "", configErr("ProviderConfig %s/%s not found", namespace, ref.Name)
			}
			return v1alpha1.ProviderConfigSpec{}, "", fmt.Errorf("cannot read ProviderConfig %s/%s: %w", namespace, ref.Name, err)
		}
		if r := pc.Spec.Credentials.SecretRef; r != nil && r.Namespace != "" && r.Namespace != namespace {
			return v1alpha1.ProviderConfigSpec{}, "", configErr("ProviderConfig %s/%s names a Secret in namespace %s; a ProviderConfig reads Secrets of its own namespace only (use a ClusterProviderConfig)", namespace, ref.Name, r.Namespace)
		}
		return pc.Spec, namespace, nil
	}
	return v1alpha1.ProviderConfigSpec{}, "", configErr("providerConfigRef kind %q is not ProviderConfig or ClusterProviderConfig", ref.Kind)
}

// Storage builds the object store options of a resource: its bucket and
// endpoint fields over the ProviderConfig's defaults, its credentials Secret
// (in its namespace) over the ProviderConfig's.
func Storage(ctx context.Context, kube client.Reader, namespace string, ref *xpv2.ProviderConfigReference, bucket string, ep v1alpha1.S3Endpoint) (s3store.Config, error) {
	pc, pcNamespace, err := ProviderConfigSpec(ctx, kube, namespace, ref)
	if err != nil {
		return s3store.Config{}, err
	}
	cfg := s3store.Config{Bucket: bucket, Region: pc.S3.Region, Endpoint: pc.S3.Endpoint, UsePathStyle: pc.S3.UsePathStyle}
	if ep.Region != "" {
		cfg.Region = ep.Region
	}
	if ep.Endpoint != "" {
		cfg.Endpoint = ep.Endpoint
	}
	if ep.UsePathStyle != nil {
		cfg.UsePathStyle = *ep.UsePathStyle
	}
	switch {
	case ep.CredentialsSecretRef != nil:
		cfg.Credentials, err = keyPair(ctx, kube, namespace, *ep.CredentialsSecretRef)
	case pc.Credentials.Source == xpv2.CredentialsSourceSecret:
		if pc.Credentials.SecretRef == nil {
			return s3store.Config{}, configErr("the ProviderConfig's credentials name no Secret")
		}
		cfg.Credentials, err = keyPair(ctx, kube, pcNamespace, pc.Credentials.SecretRef.S3CredentialsSecretRef)
	case pc.Credentials.Source == xpv2.CredentialsSourceInjectedIdentity:
		cfg.Credentials, err = defaultChain(ctx, cfg.Region)
	}
	if err != nil {
		return s3store.Config{}, err
	}
	return cfg, nil
}

func keyPair(ctx context.Context, kube client.Reader, namespace string, ref v1alpha1.S3CredentialsSecretRef) (aws.CredentialsProvider, error) {
	idKey, secretKeyName := ref.AccessKeyIDKey, ref.SecretAccessKeyKey
	if idKey == "" {
		idKey = "AWS_ACCESS_KEY_ID"
	}
	if secretKeyName == "" {
		secretKeyName = "AWS_SECRET_ACCESS_KEY"
	}
	data, err := secretData(ctx, kube, namespace, ref.Name)
	if err != nil {
		return nil, err
	}
	id, secret := string(data[idKey]), string(data[secretKeyName])
	if id == "" || secret == "" {
		missing := idKey
		if id != "" {
			missing = secretKeyName
		}
		return nil, configErr("Secret %s/%s has no key %q", namespace, ref.Name, missing)
	}
	token := ""
	if ref.SessionTokenKey != "" {
		token = string(data[ref.SessionTokenKey])
	}
	return credentials.NewStaticCredentialsProvider(id, secret, token), nil
}

// defaultChain uses the AWS SDK's default credentials: environment, web
// identity (IRSA), container and instance roles.
func defaultChain(ctx context.Context, region string) (aws.CredentialsProvider, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("cannot load the default AWS credentials chain: %w", err)
	}
	return cfg.Credentials, nil
}
