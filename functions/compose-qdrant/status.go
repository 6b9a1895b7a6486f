package main

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
	"github.com/crossplane/function-sdk-go/resource"

	"github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
)

// observation is what the XR's status is made of: the observed Release, the
// chart's StatefulSet and the BackupSchedule's report.
type observation struct {
	releaseFound   bool
	releaseReady   corev1.ConditionStatus
	releaseSynced  corev1.ConditionStatus
	releaseMessage string

	stsFound        bool
	readyReplicas   int32
	updatedReplicas int32
	currentRevision string
	updateRevision  string
	image           string

	// schedule is nil unless the XR composes a BackupSchedule and it is
	// observed.
	schedule *scheduleReport
}

func observe(observed map[resource.Name]resource.ObservedComposed, sts []resource.Required) observation {
	var o observation
	if r, ok := observed[nameRelease]; ok {
		o.releaseFound = true
		ready, synced := r.Resource.GetCondition(xpv2.TypeReady), r.Resource.GetCondition(xpv2.TypeSynced)
		o.releaseReady, o.releaseSynced = ready.Status, synced.Status
		switch {
		case synced.Status == corev1.ConditionFalse:
			o.releaseMessage = synced.Message
		case ready.Status == corev1.ConditionFalse:
			o.releaseMessage = ready.Message
		}
	}
	if len(sts) > 0 {
		s := sts[0].Resource.Object
		o.stsFound = true
		status, _ := s["status"].(map[string]any)
		o.readyReplicas = int32(number(status["readyReplicas"]))
		o.updatedReplicas = int32(number(status["updatedReplicas"]))
		o.currentRevision, _ = status["currentRevision"].(string)
		o.updateRevision, _ = status["updateRevision"].(string)
		if spec, ok := s["spec"].(map[string]any); ok {
			if tmpl, ok := spec["template"].(map[string]any); ok {
				if ps, ok := tmpl["spec"].(map[string]any); ok {
					if cs, ok := ps["containers"].([]any); ok && len(cs) > 0 {
						if c, ok := cs[0].(map[string]any); ok {
							o.image, _ = c["image"].(string)
						}
					}
				}
			}
		}
	}
	return o
}

func number(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case int:
		return int64(n)
	}
	return 0
}

// releaseFailed says whether the Release cannot install or upgrade the chart.
func (o observation) releaseFailed() bool {
	return o.releaseSynced == corev1.ConditionFalse || (o.releaseReady == corev1.ConditionFalse && strings.Contains(strings.ToLower(o.releaseMessage), "fail"))
}

// runningVersion is the Qdrant version the pods run, from their image tag.
func (o observation) runningVersion() string {
	i := strings.LastIndex(o.image, ":")
	if i < 0 {
		return ""
	}
	return strings.TrimPrefix(o.image[i+1:], "v")
}

// allReady says whether every desired node runs the desired version.
func (o observation) allReady(xr *v1alpha1.QdrantCluster) bool {
	return o.stsFound && o.readyReplicas >= xr.Spec.Replicas && o.updatedReplicas >= xr.Spec.Replicas &&
		(o.updateRevision == "" || o.updateRevision == o.currentRevision) &&
		o.runningVersion() == strings.TrimPrefix(xr.Spec.Version, "v")
}

func phase(xr *v1alpha1.QdrantCluster, o observation) v1alpha1.Phase {
	switch {
	case o.releaseFailed():
		return v1alpha1.PhaseFailed
	case o.allReady(xr) && o.releaseReady == corev1.ConditionTrue:
		return v1alpha1.PhaseRunning
	case o.stsFound && o.readyReplicas > 0:
		// Serving, but not every node runs the desired spec yet.
		return v1alpha1.PhaseUpgrading
	}
	return v1alpha1.PhasePending
}

func status(xr *v1alpha1.QdrantCluster, o observation) v1alpha1.QdrantClusterStatus {
	st := v1alpha1.QdrantClusterStatus{
		Phase:         phase(xr, o),
		Replicas:      xr.Spec.Replicas,
		ReadyReplicas: o.readyReplicas,
		Endpoint:      endpoint(xr.Name, xr.Namespace),
		Backup:        backupStatus(o.schedule),
	}
	if o.readyReplicas > 0 {
		// The version that serves: pods that are not ready serve nothing.
		st.Version = o.runningVersion()
	}
	return st
}

// ready says whether a composed resource is ready, from its own observed
// state only.
func ready(name resource.Name, observed map[resource.Name]resource.ObservedComposed, xr *v1alpha1.QdrantCluster, o observation) resource.Ready {
	obs, ok := observed[name]
	if !ok {
		return resource.ReadyFalse
	}
	switch name {
	case nameAPIKey, nameConnection:
		return resource.ReadyTrue
	case nameRelease:
		// A Release is ready when Helm is done; the cluster only when every
		// node is ready too.
		if o.releaseReady == corev1.ConditionTrue && o.allReady(xr) {
			return resource.ReadyTrue
		}
		return resource.ReadyFalse
	}
	// Managed resources, the BackupSchedule included: its controller says
	// Ready once the schedule is valid, suspended or not.
	if obs.Resource.GetCondition(xpv2.TypeReady).Status == corev1.ConditionTrue {
		return resource.ReadyTrue
	}
	return resource.ReadyFalse
}
