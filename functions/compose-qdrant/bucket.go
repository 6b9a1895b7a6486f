package main

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	corev1 "k8s.io/api/core/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/crossplane/function-sdk-go/errors"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"

	"github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
)

const s3APIVersion = "s3.aws.m.upbound.io/v1beta1"

// The XR's BackupConfigured condition says whether backups are composed.
const (
	typeBackupConfigured   = "BackupConfigured"
	reasonBucketNotReady   = "BucketNotReady"
	reasonScheduleComposed = "ScheduleComposed"
)

// S3 bucket names are 3 to 63 characters.
const maxBucketName = 63

// s3Reserved are the prefixes S3 refuses at the start of a bucket name.
var s3Reserved = []string{"xn--", "sthree-", "amzn-s3-demo-"}

// generatedBucketName is the name of a bucket the function creates: readable
// (namespace, name, "backups") and ended by the first 8 hex digits of
// sha256(namespace/name/uid). The hash keeps apart names that read the same
// (namespace "a-b" with cluster "c" and namespace "a" with cluster "b-c"; "/"
// appears in neither a namespace, a name nor a UID) and names cut to fit.
// The XR's UID makes the name unknowable before the XR exists: S3 bucket
// names are global, and anyone who could compute the name could create the
// bucket first, in an account of their own, and receive the cluster's
// backups. It also gives a namespace made again under an old name, with a
// cluster of the old name, a bucket of its own instead of the old team's.
// Dots become hyphens (a dotted name breaks virtual-hosted TLS), and the
// readable part is cut so that the whole is at most 63 characters.
func generatedBucketName(namespace, name, uid string) string {
	sum := sha256.Sum256([]byte(namespace + "/" + name + "/" + uid))
	suffix := "-" + hex.EncodeToString(sum[:])[:8]
	readable := strings.ReplaceAll(namespace+"-"+name+"-backups", ".", "-")
	for _, p := range s3Reserved {
		if strings.HasPrefix(readable, p) {
			readable = "qdrant-" + readable
			break
		}
	}
	if limit := maxBucketName - len(suffix); len(readable) > limit {
		readable = readable[:limit]
	}
	return strings.TrimRight(readable, "-") + suffix
}

// observedBucketName is the name of the bucket this XR already composes, if
// any: its external name, which is the bucket's name in S3.
func observedBucketName(observed map[resource.Name]resource.ObservedComposed) string {
	o, ok := observed[nameBucket]
	if !ok {
		return ""
	}
	if n := o.Resource.GetAnnotations()["crossplane.io/external-name"]; n != "" {
		return n
	}
	return o.Resource.GetName()
}

// errNamedBucketNotOwned refuses to compose a bucket the XR names but does
// not already own. provider-upjet-aws observes a Bucket by its external name
// and, when a bucket of that name exists, takes it over: its lifecycle,
// encryption and versioning would be rewritten, and deleting the XR would
// delete it. The XRD refuses name with create: true; this covers XRs stored
// before it did.
var errNamedBucketNotOwned = errors.New("backup.bucket.name cannot be set with create: true unless this QdrantCluster already composes that bucket: " +
	"a created bucket would take over any existing bucket of that name. Remove name to have a bucket named after the cluster created, or set create: false to use an existing bucket")

// bucketName is the backup bucket. An existing bucket (create: false) is the
// one named. A created bucket keeps the name it was composed with, whatever
// the naming scheme of the function that composed it: renaming it would
// orphan its backups. A new one gets a generated name; a name the user chose
// is refused unless the XR already owns that bucket.
func bucketName(xr *v1alpha1.QdrantCluster, observed map[resource.Name]resource.ObservedComposed) (string, error) {
	b := xr.Spec.Backup.Bucket
	if !b.Create {
		return b.Name, nil
	}
	if n := observedBucketName(observed); n != "" {
		return n, nil
	}
	if b.Name != "" {
		return "", errNamedBucketNotOwned
	}
	return generatedBucketName(xr.Namespace, xr.Name, string(xr.UID)), nil
}

// bucketReady says whether the S3 provider reports the composed bucket Ready:
// created, or found and observed as ours.
func bucketReady(observed map[resource.Name]resource.ObservedComposed) bool {
	o, ok := observed[nameBucket]
	return ok && o.Resource.GetCondition(xpv2.TypeReady).Status == corev1.ConditionTrue
}

// inRegion sets fields' region unless it is empty: an empty region is no
// region, and the S3 provider's resources require one (the XRD requires it
// with create: true; XRs stored before it did must not compose "").
func inRegion(region string, fields map[string]any) map[string]any {
	if region != "" {
		fields["region"] = region
	}
	return fields
}

// bucketResources compose a private, versioned, encrypted bucket whose
// incomplete multipart uploads (an interrupted backup's) are aborted and
// whose noncurrent object versions (a deleted backup's) expire.
func bucketResources(xr *v1alpha1.QdrantCluster, name string) map[resource.Name]*composed.Unstructured {
	b := xr.Spec.Backup.Bucket
	out := map[resource.Name]*composed.Unstructured{}
	bucket := s3Object("Bucket", name, xr.Namespace, inRegion(b.Region, map[string]any{}))
	bucket.SetAnnotations(map[string]string{"crossplane.io/external-name": name})
	out[nameBucket] = bucket
	ref := map[string]any{"name": name}
	out[nameBucketVersioning] = s3Object("BucketVersioning", name, xr.Namespace, inRegion(b.Region, map[string]any{
		"bucketRef":               ref,
		"versioningConfiguration": map[string]any{"status": "Enabled"},
	}))
	out[nameBucketEncryption] = s3Object("BucketServerSideEncryptionConfiguration", name, xr.Namespace, inRegion(b.Region, map[string]any{
		"bucketRef": ref,
		"rule":      []any{map[string]any{"applyServerSideEncryptionByDefault": map[string]any{"sseAlgorithm": "AES256"}}},
	}))
	out[nameBucketPublic] = s3Object("BucketPublicAccessBlock", name, xr.Namespace, inRegion(b.Region, map[string]any{
		"bucketRef":       ref,
		"blockPublicAcls": true, "blockPublicPolicy": true, "ignorePublicAcls": true, "restrictPublicBuckets": true,
	}))
	out[nameBucketLifecycle] = s3Object("BucketLifecycleConfiguration", name, xr.Namespace, inRegion(b.Region, map[string]any{
		"bucketRef": ref,
		"rule": []any{
			map[string]any{
				"id": "abort-incomplete-multipart-uploads", "status": "Enabled",
				"filter":                         []any{map[string]any{"prefix": ""}},
				"abortIncompleteMultipartUpload": []any{map[string]any{"daysAfterInitiation": int64(1)}},
			},
			// Deleting a backup deletes the current version of its objects;
			// versioning keeps the data as noncurrent versions, which this
			// rule expires. Delete markers left with no version behind them
			// are removed too.
			map[string]any{
				"id": "expire-noncurrent-versions", "status": "Enabled",
				"filter":                      []any{map[string]any{"prefix": ""}},
				"noncurrentVersionExpiration": []any{map[string]any{"noncurrentDays": int64(noncurrentDays(b))}},
				"expiration":                  []any{map[string]any{"expiredObjectDeleteMarker": true}},
			},
		},
	}))
	return out
}

// noncurrentDays is how long a deleted backup's object versions are kept;
// the XRD defaults it, the function too for XRs stored before it did.
func noncurrentDays(b v1alpha1.Bucket) int32 {
	if b.NoncurrentVersionDays == nil {
		return v1alpha1.DefaultNoncurrentVersionDays
	}
	return *b.NoncurrentVersionDays
}

func s3Object(kind, name, namespace string, forProvider map[string]any) *composed.Unstructured {
	o := composed.New()
	o.SetAPIVersion(s3APIVersion)
	o.SetKind(kind)
	o.SetName(name)
	o.SetNamespace(namespace)
	o.Object["spec"] = map[string]any{"forProvider": forProvider}
	return o
}

// schedule composes the BackupSchedule of provider-qdrantops for the cluster.
func schedule(xr *v1alpha1.QdrantCluster, bucket string) *composed.Unstructured {
	b := xr.Spec.Backup
	o := composed.New()
	o.SetAPIVersion("ops.qdrantops.io/v1alpha1")
	o.SetKind("BackupSchedule")
	o.SetName(xr.Name)
	o.SetNamespace(xr.Namespace)
	s3 := map[string]any{"bucket": bucket}
	if b.Bucket.Region != "" {
		s3["region"] = b.Bucket.Region
	}
	if b.Bucket.Prefix != "" {
		s3["prefix"] = b.Bucket.Prefix
	}
	fp := map[string]any{
		"schedule": b.Schedule,
		"template": map[string]any{"clusterRef": map[string]any{"name": xr.Name}, "storage": map[string]any{"s3": s3}},
	}
	if b.TimeZone != "" {
		fp["timeZone"] = b.TimeZone
	}
	if r := b.Retention; r != nil {
		rp := map[string]any{}
		for k, v := range map[string]*int32{"keepLast": r.KeepLast, "keepDaily": r.KeepDaily, "keepWeekly": r.KeepWeekly, "keepMonthly": r.KeepMonthly, "retentionDays": r.RetentionDays} {
			if v != nil {
				rp[k] = int64(*v)
			}
		}
		fp["retentionPolicy"] = rp
	}
	spec := map[string]any{"forProvider": fp}
	if ref := b.ProviderConfigRef; ref != nil {
		spec["providerConfigRef"] = map[string]any{"kind": ref.Kind, "name": ref.Name}
	}
	o.Object["spec"] = spec
	return o
}
