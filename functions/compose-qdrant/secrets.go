package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"

	"github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
)

type secretKeyRef struct{ name, key string }

// apiKey says where Qdrant's API key is. A Secret the user references is used
// in place and never copied. Otherwise the function composes one with a
// generated key, generated once: later calls reuse the observed value, so the
// key never changes under running clients.
func apiKey(xr *v1alpha1.QdrantCluster, observed map[resource.Name]resource.ObservedComposed, random io.Reader) (secretKeyRef, string, error) {
	if a := xr.Spec.APIKey; a != nil && a.SecretRef != nil {
		return secretKeyRef{name: a.SecretRef.Name, key: a.SecretRef.Key}, "", nil
	}
	ref := secretKeyRef{name: apiKeySecret(xr.Name), key: apiKeyKey}
	if o, ok := observed[nameAPIKey]; ok {
		if v, err := o.Resource.GetString("data." + apiKeyKey); err == nil && v != "" {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return ref, "", fmt.Errorf("cannot decode the observed API key Secret: %w", err)
			}
			return ref, string(b), nil
		}
	}
	b := make([]byte, apiKeyBytes)
	if _, err := io.ReadFull(random, b); err != nil {
		return ref, "", fmt.Errorf("cannot generate an API key: %w", err)
	}
	return ref, hex.EncodeToString(b), nil
}

func secret(name, namespace string, data map[string]string) *composed.Unstructured {
	s := composed.New()
	s.SetAPIVersion("v1")
	s.SetKind("Secret")
	s.SetName(name)
	s.SetNamespace(namespace)
	enc := map[string]any{}
	for k, v := range data {
		enc[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	s.Object["type"] = "Opaque"
	s.Object["data"] = enc
	return s
}

// connectionSecret is what applications and provider-qdrantops read to reach
// the cluster: its endpoint, each pod's URL, and the API key or where it is.
func connectionSecret(xr *v1alpha1.QdrantCluster, ref secretKeyRef, generated string) *composed.Unstructured {
	data := map[string]string{
		v1alpha1.ConnectionKeyEndpoint: endpoint(xr.Name, xr.Namespace),
		v1alpha1.ConnectionKeyPeerURLs: peerURLs(xr.Name, xr.Namespace, xr.Spec.Replicas),
	}
	if generated != "" {
		data[v1alpha1.ConnectionKeyAPIKey] = generated
	} else {
		data[v1alpha1.ConnectionKeyAPIKeySecretName] = ref.name
		data[v1alpha1.ConnectionKeyAPIKeySecretKey] = ref.key
	}
	return secret(v1alpha1.ConnectionSecretName(xr.Name), xr.Namespace, data)
}
