package main

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
)

// values maps a QdrantCluster onto the qdrant chart's values. The API key
// reaches Qdrant through an environment variable from a Secret, never through
// the chart's apiKey.valueFrom, which reads Secrets with Helm's lookup and so
// breaks GitOps tools that render charts offline.
func values(xr *v1alpha1.QdrantCluster, key secretKeyRef, size resource.Quantity) map[string]any {
	s := xr.Spec
	v := map[string]any{
		"fullnameOverride": fullname(xr.Name),
		"replicaCount":     int64(s.Replicas),
		"image":            map[string]any{"tag": imageTag(s.Version)},
		"persistence":      persistence(s.Persistence, size),
		"config":           map[string]any{"cluster": map[string]any{"enabled": s.Cluster.Enabled}},
		"metrics":          map[string]any{"serviceMonitor": map[string]any{"enabled": s.Metrics.Enabled}},
		"podDisruptionBudget": map[string]any{
			"enabled":        s.Replicas > 1,
			"maxUnavailable": int64(1),
		},
		"apiKey": false,
		"env": []any{map[string]any{
			"name":      apiKeyEnv,
			"valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": key.name, "key": key.key}},
		}},
	}
	if r := resources(s.Resources); len(r) > 0 {
		v["resources"] = r
	}
	return v
}

func persistence(p v1alpha1.Persistence, size resource.Quantity) map[string]any {
	out := map[string]any{"size": size.String()}
	if p.StorageClassName != "" {
		out["storageClassName"] = p.StorageClassName
	}
	return out
}

func resources(r *v1alpha1.Resources) map[string]any {
	if r == nil {
		return nil
	}
	out := map[string]any{}
	for name, l := range map[string]*v1alpha1.ResourceList{"requests": r.Requests, "limits": r.Limits} {
		if l == nil {
			continue
		}
		m := map[string]any{}
		if l.CPU != nil {
			m["cpu"] = l.CPU.String()
		}
		if l.Memory != nil {
			m["memory"] = l.Memory.String()
		}
		if len(m) > 0 {
			out[name] = m
		}
	}
	return out
}

// volumeSize is the size to ask for: the spec's, unless that would shrink the
// volumes the release already has, which Kubernetes cannot do. Then the
// current size stays and the refusal is explained.
func volumeSize(want resource.Quantity, observed string) (resource.Quantity, error) {
	if want.IsZero() {
		want = resource.MustParse("10Gi")
	}
	if observed == "" {
		return want, nil
	}
	have, err := resource.ParseQuantity(observed)
	if err != nil || want.Cmp(have) >= 0 {
		// A size that grows is asked for; so is the spec's when the observed
		// size cannot be read, since nothing then shows it would shrink.
		return want, nil //nolint:nilerr // Deliberate: an unparsable observed size is not the function's error.
	}
	return have, fmt.Errorf("persistence.size cannot shrink from %s to %s: volumes only grow; keeping %s", have.String(), want.String(), have.String())
}
