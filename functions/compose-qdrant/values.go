package main

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	fnresource "github.com/crossplane/function-sdk-go/resource"

	"github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
)

// values maps a QdrantCluster onto the qdrant chart's values. Every key is
// one the chart reads, with the meaning used here: fullnameOverride names
// the StatefulSet, Services, ServiceMonitor and PodDisruptionBudget;
// replicaCount; image.tag (the chart's appVersion when empty);
// persistence.size and storageClassName, which go into the StatefulSet's
// qdrant-storage claim template; config (Qdrant's configuration file, so
// config.cluster.enabled is Qdrant's cluster.enabled); metrics.serviceMonitor;
// podDisruptionBudget; apiKey (false: the chart renders no key Secret and
// mounts none); env, a list of container variables; resources. The API key
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
		"metrics":          metrics(s.Metrics, key),
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

// checkValueStrings refuses spec strings that the chart prints into its
// manifests unquoted. storageClassName is one: a newline and "---" in it
// would add objects of the tenant's choosing to the release, which Helm
// installs with provider-helm's rights. The XRD refuses such values at
// admission; this covers XRs stored before it did.
func checkValueStrings(xr *v1alpha1.QdrantCluster) error {
	if sc := xr.Spec.Persistence.StorageClassName; sc != "" {
		if problems := validation.IsDNS1123Subdomain(sc); len(problems) > 0 {
			return fmt.Errorf("spec.persistence.storageClassName %q is not a StorageClass name: %s", sc, strings.Join(problems, "; "))
		}
	}
	return nil
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

// metrics are the chart's metrics values. Qdrant serves /metrics only to a
// client with the API key, so the chart's ServiceMonitor authorizes as a
// bearer of the key the Release's pods read (the composed Secret or the XR's
// own): metrics.serviceMonitor.authorization, which the chart copies into
// the ServiceMonitor's endpoint since 1.16.1, in place of its own apiKey
// Secret the function never uses.
func metrics(m v1alpha1.Metrics, key secretKeyRef) map[string]any {
	sm := map[string]any{"enabled": m.Enabled}
	if m.Enabled {
		sm["authorization"] = map[string]any{
			"type":        "Bearer",
			"credentials": map[string]any{"name": key.name, "key": key.key},
		}
	}
	return map[string]any{"serviceMonitor": sm}
}

// statefulSetVolume is what the function knows of the chart's StatefulSet's
// storage claim template.
type statefulSetVolume struct {
	// known: Crossplane has said whether the StatefulSet exists (it has
	// resolved the function's requirement).
	known bool
	// exists: it does, and so its claim templates can no longer change.
	exists bool
	// size its storage claim template asks for; "" when it has none.
	size string
}

// volumeOf reads the storage claim template of the chart's StatefulSet, the
// function's required resource; known is whether Crossplane resolved it.
func volumeOf(known bool, sts []fnresource.Required) statefulSetVolume {
	v := statefulSetVolume{known: known, exists: len(sts) > 0}
	if !v.exists {
		return v
	}
	templates, _, _ := unstructured.NestedSlice(sts[0].Resource.Object, "spec", "volumeClaimTemplates")
	for _, t := range templates {
		m, ok := t.(map[string]any)
		if !ok {
			continue
		}
		if name, _, _ := unstructured.NestedString(m, "metadata", "name"); name != storageVolume {
			continue
		}
		v.size, _, _ = unstructured.NestedString(m, "spec", "resources", "requests", "storage")
	}
	return v
}

// resizeRefusal is why the volumes keep their size.
type resizeRefusal struct {
	reason  string
	message string
}

// The XR's condition on its volumes' size, and its reasons.
const (
	typePersistenceResized = "PersistenceResized"

	reasonSizeApplied   = "SizeApplied"
	reasonShrinkRefused = "ShrinkRefused"
	reasonGrowthRefused = "GrowthRefused"
)

// volumeSize is the size to ask for: the spec's, unless the volumes cannot
// take it. The size the volumes have is the StatefulSet's claim template's,
// else (no StatefulSet, or no template) the observed Release's.
//
// Volumes never shrink. They grow only when there is no StatefulSet: the
// chart puts the size in the StatefulSet's volume claim template, which
// Kubernetes refuses to change, so a Helm upgrade that grows it fails and
// leaves a Failed Release. Someone who grew each claim by hand deletes the
// StatefulSet with --cascade=orphan (its pods keep running); then the
// upgrade creates it anew at the new size and it adopts the pods. Until
// then the size the volumes have stays, and the refusal says how to grow.
func volumeSize(xr string, want resource.Quantity, released string, sts statefulSetVolume) (resource.Quantity, *resizeRefusal) {
	if want.IsZero() {
		// The XRD's default, for an XR read without defaults.
		want = resource.MustParse("10Gi")
	}
	current := released
	if sts.exists && sts.size != "" {
		current = sts.size
	}
	if current == "" {
		return want, nil
	}
	have, err := resource.ParseQuantity(current)
	if err != nil {
		// Nothing shows the spec's size would not fit.
		return want, nil
	}
	switch c := want.Cmp(have); {
	case c == 0:
		// The size as the volumes have it: the values do not change for
		// another spelling of the same quantity.
		return have, nil
	case c < 0:
		return have, &resizeRefusal{reason: reasonShrinkRefused, message: fmt.Sprintf(
			"persistence.size cannot shrink from %s to %s: volumes only grow; keeping %s", have.String(), want.String(), have.String())}
	case sts.known && !sts.exists:
		return want, nil
	default:
		return have, &resizeRefusal{reason: reasonGrowthRefused, message: fmt.Sprintf(
			"persistence.size cannot grow from %[1]s to %[2]s in place: the chart sets it in the StatefulSet's volume claim template, which Kubernetes does not let change; keeping %[1]s. "+
				"To grow, expand each PersistentVolumeClaim %[3]s-%[4]s-<ordinal> to %[2]s (its StorageClass must allow volume expansion), "+
				"then delete the StatefulSet: kubectl delete statefulset %[4]s --cascade=orphan (the pods keep running); "+
				"the next reconcile creates it anew at %[2]s (docs/volume-growth.md)", have.String(), want.String(), storageVolume, fullname(xr))}
	}
}
