// Package clients turns a resource's spec, its ProviderConfig and the Secrets
// they name into the options of the Qdrant and S3 adapters. Secrets are read
// only from the resource's own namespace, except those a cluster
// administrator names in a ClusterProviderConfig. Errors name Secrets and
// keys, never their values.
package clients

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A ConfigError is a problem the user fixes in a spec or a Secret; retrying
// without a change cannot help.
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

func configErr(format string, args ...any) error {
	return &ConfigError{Msg: fmt.Sprintf(format, args...)}
}

// secretKey reads one key of a Secret.
func secretKey(ctx context.Context, kube client.Reader, namespace, name, key string) (string, error) {
	s, err := getSecret(ctx, kube, namespace, name)
	if err != nil {
		return "", err
	}
	v, ok := s.Data[key]
	if !ok || len(v) == 0 {
		return "", configErr("Secret %s/%s has no key %q", namespace, name, key)
	}
	return string(v), nil
}

// getSecret reads a Secret. The reader should not be a cache: a cache of
// Secrets lists and watches every Secret of the cluster.
func getSecret(ctx context.Context, kube client.Reader, namespace, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	if err := kube.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, s); err != nil {
		if kerrors.IsNotFound(err) {
			return nil, configErr("Secret %s/%s not found", namespace, name)
		}
		return nil, fmt.Errorf("cannot read Secret %s/%s: %w", namespace, name, err)
	}
	return s, nil
}
