package main

import (
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"

	"github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
)

const s3APIVersion = "s3.aws.m.upbound.io/v1beta1"

// bucketName is the backup bucket: the one named, or one named after the
// cluster when the function creates it.
func bucketName(xr *v1alpha1.QdrantCluster) string {
	if n := xr.Spec.Backup.Bucket.Name; n != "" {
		return n
	}
	return xr.Namespace + "-" + xr.Name + "-backups"
}

// bucketResources compose a private, versioned, encrypted bucket whose
// incomplete multipart uploads (an interrupted backup's) are aborted.
func bucketResources(xr *v1alpha1.QdrantCluster) map[resource.Name]*composed.Unstructured {
	b := xr.Spec.Backup.Bucket
	name := bucketName(xr)
	out := map[resource.Name]*composed.Unstructured{}
	bucket := s3Object("Bucket", name, xr.Namespace, map[string]any{"region": b.Region})
	bucket.SetAnnotations(map[string]string{"crossplane.io/external-name": name})
	out[nameBucket] = bucket
	ref := map[string]any{"name": name}
	out[nameBucketVersioning] = s3Object("BucketVersioning", name, xr.Namespace, map[string]any{
		"region": b.Region, "bucketRef": ref,
		"versioningConfiguration": map[string]any{"status": "Enabled"},
	})
	out[nameBucketEncryption] = s3Object("BucketServerSideEncryptionConfiguration", name, xr.Namespace, map[string]any{
		"region": b.Region, "bucketRef": ref,
		"rule": []any{map[string]any{"applyServerSideEncryptionByDefault": map[string]any{"sseAlgorithm": "AES256"}}},
	})
	out[nameBucketPublic] = s3Object("BucketPublicAccessBlock", name, xr.Namespace, map[string]any{
		"region": b.Region, "bucketRef": ref,
		"blockPublicAcls": true, "blockPublicPolicy": true, "ignorePublicAcls": true, "restrictPublicBuckets": true,
	})
	out[nameBucketLifecycle] = s3Object("BucketLifecycleConfiguration", name, xr.Namespace, map[string]any{
		"region": b.Region, "bucketRef": ref,
		"rule": []any{map[string]any{
			"id": "abort-incomplete-multipart-uploads", "status": "Enabled",
			"filter":                         []any{map[string]any{"prefix": ""}},
			"abortIncompleteMultipartUpload": []any{map[string]any{"daysAfterInitiation": int64(1)}},
		}},
	})
	return out
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
func schedule(xr *v1alpha1.QdrantCluster) *composed.Unstructured {
	b := xr.Spec.Backup
	o := composed.New()
	o.SetAPIVersion("ops.qdrantops.io/v1alpha1")
	o.SetKind("BackupSchedule")
	o.SetName(xr.Name)
	o.SetNamespace(xr.Namespace)
	s3 := map[string]any{"bucket": bucketName(xr)}
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
