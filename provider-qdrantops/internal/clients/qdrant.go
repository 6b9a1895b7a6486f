package clients

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1alpha1 "github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	qdrantv1alpha1 "github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrantcluster"
)

// A Target is a resolved Qdrant cluster.
type Target struct {
	Options qdrantcluster.Options
	// Key identifies the cluster across resources, so that only one backup or
	// restore runs on it at a time.
	Key string
	// Name is the cluster's name in backup paths and metrics.
	Name string
}

// QdrantTarget resolves a clusterRef or an explicit connection.
func QdrantTarget(ctx context.Context, kube client.Reader, namespace string, ref *opsv1alpha1.LocalReference, conn *opsv1alpha1.QdrantConnection) (Target, error) {
	switch {
	case ref != nil:
		return fromCluster(ctx, kube, namespace, ref.Name)
	case conn != nil:
		return fromConnection(ctx, kube, namespace, *conn)
	}
	return Target{}, configErr("neither clusterRef nor connection is set")
}

func fromCluster(ctx context.Context, kube client.Reader, namespace, name string) (Target, error) {
	// The QdrantCluster itself is not read: on Crossplane v2 a provider's
	// ServiceAccount may read its own kinds, Secrets, ConfigMaps, Events and
	// Leases, and nothing else (packages can no longer ask for more). The
	// connection Secret the composition writes for the cluster says all the
	// provider needs, and exists only once the cluster does.
	secret := qdrantv1alpha1.ConnectionSecretName(name)
	s := &corev1.Secret{}
	if err := kube.Get(ctx, types.NamespacedName{Namespace: namespace, Name: secret}, s); err != nil {
		if kerrors.IsNotFound(err) {
			return Target{}, configErr("QdrantCluster %s/%s not found, or not ready: its connection Secret %s does not exist", namespace, name, secret)
		}
		return Target{}, fmt.Errorf("cannot read the connection Secret of QdrantCluster %s: %w", name, err)
	}
	data := s.Data
	var err error
	endpoint := strings.TrimSpace(string(data[qdrantv1alpha1.ConnectionKeyEndpoint]))
	if endpoint == "" {
		return Target{}, configErr("Secret %s/%s has no key %q", namespace, secret, qdrantv1alpha1.ConnectionKeyEndpoint)
	}
	opts := qdrantcluster.Options{URL: endpoint, PeerURLs: lines(string(data[qdrantv1alpha1.ConnectionKeyPeerURLs]))}
	switch {
	case len(data[qdrantv1alpha1.ConnectionKeyAPIKey]) > 0:
		opts.APIKey = string(data[qdrantv1alpha1.ConnectionKeyAPIKey])
	case len(data[qdrantv1alpha1.ConnectionKeyAPIKeySecretName]) > 0:
		opts.APIKey, err = secretKey(ctx, kube, namespace, string(data[qdrantv1alpha1.ConnectionKeyAPIKeySecretName]), string(data[qdrantv1alpha1.ConnectionKeyAPIKeySecretKey]))
		if err != nil {
			return Target{}, err
		}
	}
	return Target{Options: opts, Key: "cluster:" + namespace + "/" + name, Name: name}, nil
}

func fromConnection(ctx context.Context, kube client.Reader, namespace string, c opsv1alpha1.QdrantConnection) (Target, error) {
	opts := qdrantcluster.Options{URL: c.URL, PeerURLs: c.PeerURLs}
	var err error
	if r := c.APIKeySecretRef; r != nil {
		if opts.APIKey, err = secretKey(ctx, kube, namespace, r.Name, r.Key); err != nil {
			return Target{}, err
		}
	}
	if r := c.CASecretRef; r != nil {
		ca, err := secretKey(ctx, kube, namespace, r.Name, r.Key)
		if err != nil {
			return Target{}, err
		}
		opts.CAPEM = []byte(ca)
	}
	return Target{Options: opts, Key: "url:" + strings.TrimRight(c.URL, "/"), Name: TargetName(nil, &c)}, nil
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// hostOf names an external cluster by its host, the way it appears in
// backup paths: qdrant.legacy.svc:6333 becomes qdrant.legacy.svc.
func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		// The schema admits only parseable URLs; an empty name fails the
		// layout's validation with a clear message.
		return ""
	}
	return p.Hostname()
}

// TargetName is the cluster's name in backup paths, known without reading
// any Secret: the QdrantCluster's name, or the host of a connection URL.
func TargetName(ref *opsv1alpha1.LocalReference, conn *opsv1alpha1.QdrantConnection) string {
	switch {
	case ref != nil:
		return ref.Name
	case conn != nil:
		return hostOf(conn.URL)
	}
	return ""
}
