package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/qdrantops/qdrantops/apis"
	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	qdrantv1alpha1 "github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

// Ops is a client that knows qdrantops's managed resource types.
func (s *Stack) Ops() (client.Client, error) {
	sch := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sch); err != nil {
		return nil, err
	}
	if err := apis.AddToScheme(sch); err != nil {
		return nil, err
	}
	return client.New(s.Config, client.Options{Scheme: sch})
}

// WaitScheduledBackup waits for the first Backup the BackupSchedule a
// QdrantCluster composed creates to complete, and returns it.
func (s *Stack) WaitScheduledBackup(ctx context.Context, cluster string) (*v1alpha1.Backup, error) {
	c, err := s.Ops()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var got *v1alpha1.Backup
	var last string
	err = poll(ctx, 3*time.Minute, time.Second, func(ctx context.Context) (bool, error) {
		l := &v1alpha1.BackupList{}
		if err := c.List(ctx, l, client.InNamespace(AppNamespace)); err != nil {
			return false, err
		}
		last = fmt.Sprintf("%d Backups", len(l.Items))
		for i := range l.Items {
			b := &l.Items[i]
			if b.GetLabels()[v1alpha1.LabelBackupSchedule] == "" || b.Spec.ForProvider.ClusterRef == nil || b.Spec.ForProvider.ClusterRef.Name != cluster {
				continue
			}
			ready := b.GetCondition("Ready")
			last = fmt.Sprintf("Backup %s: phase %s, Ready %s %s %s; Synced %s", b.Name, b.Status.AtProvider.Phase, ready.Status, ready.Message, b.Status.AtProvider.Error, b.GetCondition("Synced").Message)
			if b.Status.AtProvider.Phase == v1alpha1.BackupFailed {
				return false, fmt.Errorf("scheduled %s", last)
			}
			if b.Status.AtProvider.Phase == v1alpha1.BackupCompleted && ready.Status == corev1.ConditionTrue {
				got = b
				return true, nil
			}
		}
		return false, nil
	}, func() string { return last + "\nprovider-qdrantops log:\n" + s.Log("provider-qdrantops", 20) })
	if err != nil {
		return nil, fmt.Errorf("the schedule's Backup did not complete: %w", err)
	}
	var cols []string
	for _, col := range got.Status.AtProvider.Collections {
		cols = append(cols, col.Name)
	}
	s.progress("scheduled Backup %s completed (%s after the schedule was seen): %s, collections %s",
		got.Name, time.Since(start).Round(time.Second), got.Status.AtProvider.S3Path, strings.Join(cols, ", "))
	return got, nil
}

// Restore applies a Restore of every collection of a Backup into another
// QdrantCluster, waits for it, and checks that each collection's point count
// in the target equals the source's, and that the provider verified it.
func (s *Stack) Restore(ctx context.Context, backup *v1alpha1.Backup, target string, source, dest *qdrantemu.Cluster, apiKeys [2]string) (*v1alpha1.Restore, error) {
	c, err := s.Ops()
	if err != nil {
		return nil, err
	}
	name := target + "-from-" + backup.Name
	if len(name) > 63 {
		name = name[:63]
	}
	if err := s.applyYAML(ctx, fmt.Sprintf(`apiVersion: ops.qdrantops.io/v1alpha1
kind: Restore
metadata: {name: %s, namespace: %s}
spec:
  providerConfigRef: {kind: ProviderConfig, name: default}
  forProvider:
    backupRef: {name: %s}
    targetClusterRef: {name: %s}
    verifySamplePoints: 50
`, name, AppNamespace, backup.Name, target)); err != nil {
		return nil, err
	}
	r := &v1alpha1.Restore{}
	var last string
	err = poll(ctx, 3*time.Minute, time.Second, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, types.NamespacedName{Namespace: AppNamespace, Name: name}, r); err != nil {
			return false, err
		}
		ready := r.GetCondition("Ready")
		last = fmt.Sprintf("Restore %s: phase %s, Ready %s %s %s", name, r.Status.AtProvider.Phase, ready.Status, ready.Message, r.Status.AtProvider.Error)
		if r.Status.AtProvider.Phase == v1alpha1.RestoreFailed {
			return false, fmt.Errorf("%s", last)
		}
		return ready.Status == corev1.ConditionTrue, nil
	}, func() string { return last + "\nprovider-qdrantops log:\n" + s.Log("provider-qdrantops", 15) })
	if err != nil {
		return nil, fmt.Errorf("the Restore did not complete: %w", err)
	}
	if len(r.Status.AtProvider.RestoredCollections) == 0 {
		return nil, fmt.Errorf("Restore %s completed without restoring a collection", name)
	}
	var report []string
	for _, col := range r.Status.AtProvider.RestoredCollections {
		want, err := pointCount(ctx, source.URLs()[0], apiKeys[0], col.SourceName)
		if err != nil {
			return nil, err
		}
		got, err := pointCount(ctx, dest.URLs()[0], apiKeys[1], col.Name)
		if err != nil {
			return nil, err
		}
		if !col.Verified || col.Points == nil || *col.Points != want || got != want {
			return nil, fmt.Errorf("collection %s: source has %d points, the target %d; the Restore reports %v points, verified %t", col.Name, want, got, col.Points, col.Verified)
		}
		report = append(report, fmt.Sprintf("%s %d/%d points", col.Name, got, want))
	}
	s.progress("Restore %s into %s completed and verified: %s", name, target, strings.Join(report, ", "))
	return r, nil
}

// pointCount asks a Qdrant node for a collection's exact point count.
func pointCount(ctx context.Context, node, apiKey, collection string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, node+"/collections/"+collection+"/points/count", strings.NewReader(`{"exact":true}`))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("api-key", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	var out struct {
		Result struct {
			Count int64 `json:"count"`
		} `json:"result"`
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("cannot count the points of %s at %s: %s", collection, node, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, fmt.Errorf("cannot count the points of %s at %s: %w", collection, node, err)
	}
	return out.Result.Count, nil
}

// Delete deletes a QdrantCluster and waits until it and everything it
// composed are gone, the chart's StatefulSet with them, and, as
// docs/backupschedule.md says of a schedule with the default management
// policies, its schedule's Backups and their objects in S3.
func (s *Stack) Delete(ctx context.Context, name string) error {
	xr, err := s.XR(ctx, name)
	if err != nil {
		return err
	}
	composed, err := s.Composed(ctx, xr)
	if err != nil {
		return err
	}
	c, err := s.Ops()
	if err != nil {
		return err
	}
	backups := &v1alpha1.BackupList{}
	if err := c.List(ctx, backups, client.InNamespace(AppNamespace)); err != nil {
		return err
	}
	var paths []string
	nBackups := 0
	for _, b := range backups.Items {
		if b.GetLabels()[v1alpha1.LabelBackupSchedule] != "" && b.Spec.ForProvider.ClusterRef != nil && b.Spec.ForProvider.ClusterRef.Name == name {
			nBackups++
			if b.Status.AtProvider.S3Path != "" {
				paths = append(paths, b.Status.AtProvider.S3Path)
			}
		}
	}
	if err := s.Kube.Delete(ctx, xr); err != nil {
		return err
	}
	sts := &unstructured.Unstructured{}
	sts.SetAPIVersion("apps/v1")
	sts.SetKind("StatefulSet")
	sts.SetName(name)
	sts.SetNamespace(AppNamespace)
	watched := append([]*unstructured.Unstructured{xr, sts}, composed...)
	var left []string
	err = poll(ctx, 2*time.Minute, time.Second, func(ctx context.Context) (bool, error) {
		left = left[:0]
		for _, o := range watched {
			cur := &unstructured.Unstructured{}
			cur.SetGroupVersionKind(o.GroupVersionKind())
			err := s.Kube.Get(ctx, types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}, cur)
			if err == nil {
				left = append(left, fmt.Sprintf("%s %s\n%s", cur.GetKind(), cur.GetName(), Conditions(cur)))
			} else if !kerrors.IsNotFound(err) {
				return false, err
			}
		}
		bl := &v1alpha1.BackupList{}
		if err := c.List(ctx, bl, client.InNamespace(AppNamespace)); err != nil {
			return false, err
		}
		for _, b := range bl.Items {
			if b.Spec.ForProvider.ClusterRef != nil && b.Spec.ForProvider.ClusterRef.Name == name && b.GetLabels()[v1alpha1.LabelBackupSchedule] != "" {
				left = append(left, fmt.Sprintf("Backup %s (phase %s)", b.Name, b.Status.AtProvider.Phase))
			}
		}
		return len(left) == 0, nil
	}, func() string {
		return "still there:\n" + strings.Join(left, "\n") + "\ncrossplane core log:\n" + s.Log("crossplane-core", 10)
	})
	if err != nil {
		return fmt.Errorf("deleting QdrantCluster %s: %w", name, err)
	}
	objects := 0
	for _, p := range paths {
		bucket, prefix, _ := strings.Cut(strings.TrimPrefix(p, "s3://"), "/")
		out, err := s.S3().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(strings.TrimSuffix(prefix, "/") + "/")})
		if err != nil {
			return fmt.Errorf("cannot list %s: %w", p, err)
		}
		objects += len(out.Contents)
		if len(out.Contents) > 0 {
			return fmt.Errorf("deleting QdrantCluster %s deleted its scheduled Backups but left %d objects under %s, first %s", name, len(out.Contents), p, aws.ToString(out.Contents[0].Key))
		}
	}
	s.progress("QdrantCluster %s deleted: %d composed objects, the chart's StatefulSet, %d scheduled Backups and their objects in S3 are gone", name, len(composed), nBackups)
	return nil
}

// APIKey is a QdrantCluster's API key, from its connection Secret.
func (s *Stack) APIKey(ctx context.Context, cluster string) string {
	sec := &corev1.Secret{}
	if err := s.Kube.Get(ctx, types.NamespacedName{Namespace: AppNamespace, Name: qdrantv1alpha1.ConnectionSecretName(cluster)}, sec); err != nil {
		return ""
	}
	return string(sec.Data[qdrantv1alpha1.ConnectionKeyAPIKey])
}

// DeleteRestores deletes the app namespace's Restores, which never touches
// data, and waits for them to go.
func (s *Stack) DeleteRestores(ctx context.Context) error {
	c, err := s.Ops()
	if err != nil {
		return err
	}
	if err := c.DeleteAllOf(ctx, &v1alpha1.Restore{}, client.InNamespace(AppNamespace)); err != nil {
		return err
	}
	return poll(ctx, time.Minute, time.Second, func(ctx context.Context) (bool, error) {
		l := &v1alpha1.RestoreList{}
		err := c.List(ctx, l, client.InNamespace(AppNamespace))
		return err == nil && len(l.Items) == 0, err
	}, func() string { return "Restores are still there" })
}
