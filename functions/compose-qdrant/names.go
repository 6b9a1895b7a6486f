package main

import (
	"fmt"
	"strings"

	"github.com/crossplane/function-sdk-go/resource"
)

// Names of the composed resources in the pipeline; not their metadata names.
const (
	nameRelease          resource.Name = "release"
	nameAPIKey           resource.Name = "api-key"
	nameConnection       resource.Name = "connection"
	nameBucket           resource.Name = "bucket"
	nameBucketVersioning resource.Name = "bucket-versioning"
	nameBucketEncryption resource.Name = "bucket-encryption"
	nameBucketPublic     resource.Name = "bucket-public-access-block"
	nameBucketLifecycle  resource.Name = "bucket-lifecycle"
	nameSchedule         resource.Name = "backup-schedule"

	// requiredStatefulSet names the chart's StatefulSet among the required
	// resources the function asks Crossplane for.
	requiredStatefulSet = "statefulset"
)

// Chart defaults: the official qdrant-helm repository. 1.19.0 labels its
// objects with Qdrant v1.19.0, and since 1.16.1 its ServiceMonitor takes an
// authorization from metrics.serviceMonitor.authorization.
const (
	chartName       = "qdrant"
	chartRepository = "https://qdrant.github.io/qdrant-helm"
	chartVersion    = "1.19.0"

	restPort    = 6333
	apiKeyKey   = "api-key"
	apiKeyEnv   = "QDRANT__SERVICE__API_KEY" //nolint:gosec // G101: the name of the env var Qdrant reads its key from, not a key.
	apiKeyBytes = 32
)

// The chart's objects are named after the XR: fullnameOverride makes the
// StatefulSet, Service and headless Service names predictable.
func fullname(xr string) string     { return xr }
func headless(xr string) string     { return fullname(xr) + "-headless" }
func apiKeySecret(xr string) string { return xr + "-api-key" }

// storageVolume names the chart's volume claim template for Qdrant's storage
// (persistence.storageVolumeName, which the function leaves at the chart's
// default); each node's claim is <storageVolume>-<xr>-<ordinal>.
const storageVolume = "qdrant-storage"

func endpoint(xr, ns string) string {
	return fmt.Sprintf("http://%s.%s.svc:%d", fullname(xr), ns, restPort)
}

// peerURLs are each pod's REST URL through the headless Service: backups
// address every node directly.
func peerURLs(xr, ns string, replicas int32) string {
	urls := make([]string, 0, replicas)
	for i := int32(0); i < replicas; i++ {
		urls = append(urls, fmt.Sprintf("http://%s-%d.%s.%s.svc:%d", fullname(xr), i, headless(xr), ns, restPort))
	}
	return strings.Join(urls, "\n")
}

// imageTag is Qdrant's image tag for a version: 1.19.0 becomes v1.19.0.
func imageTag(version string) string { return "v" + strings.TrimPrefix(version, "v") }
