package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"

	opsv1alpha1 "github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/cluster/s3server"
	"github.com/qdrantops/qdrantops/cluster/testenv"
)

// TestComposedScheduleTakesItsFirstBackup applies what the function composes
// for a QdrantCluster with spec.backup to a real apiserver, as Crossplane
// would, and runs the real provider binary on it: the composed
// BackupSchedule's first Backup must complete into the real S3 server, the
// schedule must report it, and the function, given the schedule as observed,
// must show it on the XR.
//
// The names are the longest the XR accepts (namespace 63, cluster 52, bucket
// 63, prefix 256 bytes), so that what they name downstream (the Backups,
// <schedule>-<tick> at 63; their labels; their object keys) is tried at its
// length by the provider, not only by admission, which
// TestXRLimitsFitTheBackupSchedule covers.
func TestComposedScheduleTakesItsFirstBackup(t *testing.T) {
	// Linking the provider takes longer than starting everything else:
	// build it meanwhile.
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "provider")
	var errBuild error
	built := make(chan struct{})
	go func() { errBuild = buildProvider(t.Context(), root, bin); close(built) }()
	// The build must end before its folder is removed; a failed test
	// cancels t.Context(), which kills it.
	t.Cleanup(func() { <-built })

	env := startControlPlane(t)
	srv := startS3Server(t)

	var (
		ns     = "team-" + strings.Repeat("a", 58)              // 63: a namespace's limit.
		name   = "search-" + strings.Repeat("s", 45)            // 52: the XR's limit.
		bucket = "backups-" + strings.Repeat("b", 55)           // 63: S3's limit.
		prefix = strings.Repeat(strings.Repeat("p", 63)+"/", 4) // 256 bytes: the XR's limit.
		pc     = "s3-" + strings.Repeat("c", 60)                // 63; see below.
	)
	// 63 is not the longest providerConfigRef name the XR (or the
	// BackupSchedule) accepts, 253, but the longest a Backup can use:
	// crossplane-runtime labels the Backup's ProviderConfigUsage with the
	// name, a label value has at most 63 characters, and with a longer name
	// every Backup stays Synced=False, "cannot apply ProviderConfigUsage".
	if err := srv.CreateBucket(t.Context(), bucket); err != nil {
		t.Fatalf("cannot create bucket %s: %v", bucket, err)
	}
	createNamespace(t, env.Client, ns)
	xr := obj(t, fmt.Sprintf(`apiVersion: qdrantops.io/v1alpha1
kind: QdrantCluster
metadata: {namespace: %s, name: %s}
spec:
  version: 1.19.0
  backup:
    schedule: "@every 2s"
    bucket: {create: false, name: %s, prefix: %q}
    providerConfigRef: {kind: ProviderConfig, name: %s}
`, ns, name, bucket, prefix, pc))
	// Created, not only dry run: the composed schedule is owned by it, and
	// the function sees the XR with the XRD's defaults.
	if err := env.Client.Create(t.Context(), xr); err != nil {
		t.Fatalf("the QdrantCluster is rejected: %v", err)
	}

	rsp := runFunction(t, xr, nil)
	bs := desired(t, rsp, nameSchedule)
	conn := desired(t, rsp, nameConnection)

	// The composed connection Secret points at the cluster's in-cluster DNS
	// names, which the provider, running outside any cluster here, cannot
	// resolve. Its endpoint and peer URLs are rewritten to an emulator that
	// serves with the key the function generated; everything else is as
	// composed.
	key := secretString(t, conn, v1alpha1.ConnectionKeyAPIKey)
	emu, err := qdrantemu.Start(qdrantemu.Options{Nodes: 1, APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	if err := emu.AddSample(qdrantemu.Sample{Name: "docs", ShardNumber: 1, ReplicationFactor: 1, Points: 20, Dim: 4}); err != nil {
		t.Fatal(err)
	}
	setSecretString(conn, v1alpha1.ConnectionKeyEndpoint, emu.URLs()[0])
	setSecretString(conn, v1alpha1.ConnectionKeyPeerURLs, strings.Join(emu.URLs(), "\n"))

	// What the team has in its namespace besides the XR: S3 credentials and
	// the ProviderConfig the XR names. There is no ProviderConfig "default":
	// a Backup that does not use the named one fails.
	for _, o := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-credentials", Namespace: ns}, StringData: map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}},
		&opsv1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: pc, Namespace: ns}, Spec: opsv1alpha1.ProviderConfigSpec{
			S3:          opsv1alpha1.S3Defaults{Endpoint: srv.Endpoint, Region: srv.Region, UsePathStyle: true},
			Credentials: opsv1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceSecret, SecretRef: &opsv1alpha1.CredentialsSecretRef{S3CredentialsSecretRef: opsv1alpha1.S3CredentialsSecretRef{Name: "s3-credentials"}}},
		}},
	} {
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatalf("cannot create %T %s: %v", o, o.GetName(), err)
		}
	}
	// Crossplane applies composed resources server-side as the function
	// returns them, adding its controller reference to the XR.
	for _, o := range []*unstructured.Unstructured{conn, bs} {
		o.SetOwnerReferences([]metav1.OwnerReference{{
			APIVersion: xr.GetAPIVersion(), Kind: xr.GetKind(), Name: xr.GetName(), UID: xr.GetUID(),
			Controller: ptr(true), BlockOwnerDeletion: ptr(true),
		}})
		if err := env.Client.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("apiextensions.crossplane.io/composed"), client.ForceOwnership); err != nil {
			t.Fatalf("cannot apply the composed %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}

	<-built
	if errBuild != nil {
		t.Fatal(errBuild)
	}
	log := startProvider(t, env, bin)
	dump := func() string {
		var b strings.Builder
		held := &opsv1alpha1.BackupSchedule{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, held); err == nil {
			fmt.Fprintf(&b, "schedule status: %+v\n", held.Status)
		}
		for _, bk := range scheduleBackups(t, env, ns, name) {
			fmt.Fprintf(&b, "backup %s: phase %s, conditions %+v\n", bk.Name, bk.Status.AtProvider.Phase, bk.Status.Conditions)
		}
		return b.String() + "provider log:\n" + providerLog(t, log)
	}

	// The schedule's first Backup is the one of its earliest tick.
	var first opsv1alpha1.Backup
	waitFor(t, 30*time.Second, "the schedule's first Backup to complete", dump, func() bool {
		bs := scheduleBackups(t, env, ns, name)
		if len(bs) == 0 {
			return false
		}
		first = bs[0]
		if first.Status.AtProvider.Phase == opsv1alpha1.BackupFailed {
			t.Fatalf("the schedule's first Backup %s failed:\n%s", first.Name, dump())
		}
		return first.Status.AtProvider.Phase == opsv1alpha1.BackupCompleted
	})
	if len(first.Name) != 63 {
		t.Errorf("the first Backup is named %q (%d characters); at the longest names it should be %d", first.Name, len(first.Name), 63)
	}
	// Completed means its manifest is in the bucket, under the prefix.
	at := first.Status.AtProvider
	if !strings.HasPrefix(at.ManifestKey, prefix) {
		t.Errorf("the first Backup's manifest key %q is not under the prefix %q", at.ManifestKey, prefix)
	}
	if _, err := srv.Client().HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(at.ManifestKey)}); err != nil {
		t.Errorf("the first Backup is Completed but its manifest %s is not in bucket %s: %v", at.ManifestKey, bucket, err)
	}

	// The schedule reports the success.
	held := &opsv1alpha1.BackupSchedule{}
	waitFor(t, 10*time.Second, "the schedule to be Ready and report its last success", dump, func() bool {
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, held); err != nil {
			t.Fatal(err)
		}
		last := held.Status.AtProvider.LastSuccessfulBackupTime
		return held.GetCondition(xpv2.TypeReady).Status == corev1.ConditionTrue && last != nil && !last.Before(at.CompletionTime) &&
			held.GetCondition(opsv1alpha1.TypeBackupOverdue).Status != corev1.ConditionUnknown
	})

	// The function, given the schedule as Crossplane observes it, shows its
	// report on the XR.
	observed := &unstructured.Unstructured{}
	observed.SetGroupVersionKind(opsv1alpha1.BackupScheduleGroupVersionKind)
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(held), observed); err != nil {
		t.Fatal(err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(observed.Object, held); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(xr), xr); err != nil {
		t.Fatal(err)
	}
	rsp = runFunction(t, xr, map[resource.Name]*unstructured.Unstructured{nameSchedule: observed})
	if got := rsp.GetDesired().GetResources()[string(nameSchedule)].GetReady(); got != fnv1.Ready_READY_TRUE {
		t.Errorf("the function says the Ready BackupSchedule is %v, want READY_TRUE", got)
	}
	overdue := held.GetCondition(opsv1alpha1.TypeBackupOverdue)
	st, _ := rsp.GetDesired().GetComposite().GetResource().AsMap()["status"].(map[string]any)
	got, _ := st["backup"].(map[string]any)
	want := map[string]any{
		"lastSuccessfulTime": held.Status.AtProvider.LastSuccessfulBackupTime.UTC().Format(time.RFC3339),
		"overdue":            overdue.Status == corev1.ConditionTrue,
	}
	if n := held.Status.AtProvider.NextBackupTime; n != nil {
		want["nextTime"] = n.UTC().Format(time.RFC3339)
	}
	if overdue.Status == corev1.ConditionTrue {
		want["message"] = overdue.Message
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the XR's status.backup is not what its schedule reports (-schedule +XR):\n%s", diff)
	}
	type cond struct{ Status, Reason, Message string }
	var xrCond *cond
	for _, c := range rsp.GetConditions() {
		if c.GetType() == string(opsv1alpha1.TypeBackupOverdue) && c.GetTarget() == fnv1.Target_TARGET_COMPOSITE {
			xrCond = &cond{map[fnv1.Status]string{fnv1.Status_STATUS_CONDITION_TRUE: "True", fnv1.Status_STATUS_CONDITION_FALSE: "False"}[c.GetStatus()], c.GetReason(), c.GetMessage()}
		}
	}
	if diff := cmp.Diff(&cond{string(overdue.Status), string(overdue.Reason), overdue.Message}, xrCond); diff != "" {
		t.Errorf("the XR's BackupOverdue condition is not its schedule's (-schedule +XR):\n%s", diff)
	}
}

// startS3Server starts the real S3 server for one test. Without it the test
// is skipped, except in CI, where that is a failure.
func startS3Server(t *testing.T) *s3server.Server {
	t.Helper()
	if why := s3server.Available(); why != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("integration tests cannot run in CI: %s", why)
		}
		t.Skip(why)
	}
	dir := filepath.Join(t.TempDir(), "s3")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	srv, err := s3server.Start(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// runFunction runs the function for an XR as the apiserver holds it, with
// the given composed resources observed, and fails the test on a fatal
// result.
func runFunction(t *testing.T, xr *unstructured.Unstructured, observed map[resource.Name]*unstructured.Unstructured) *fnv1.RunFunctionResponse {
	t.Helper()
	req := &fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: asStruct(t, xr)}, Resources: map[string]*fnv1.Resource{}}}
	for n, o := range observed {
		req.Observed.Resources[string(n)] = &fnv1.Resource{Resource: asStruct(t, o)}
	}
	f := &Function{log: logging.NewNopLogger(), random: bytes.NewReader(bytes.Repeat([]byte{9}, 64))}
	rsp, err := f.RunFunction(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			t.Fatalf("the function failed: %s", r.GetMessage())
		}
	}
	return rsp
}

func asStruct(t *testing.T, u *unstructured.Unstructured) *structpb.Struct {
	t.Helper()
	s, err := resource.AsStruct(u)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// desired is the composed resource of a response named name.
func desired(t *testing.T, rsp *fnv1.RunFunctionResponse, name resource.Name) *unstructured.Unstructured {
	t.Helper()
	d, ok := rsp.GetDesired().GetResources()[string(name)]
	if !ok {
		t.Fatalf("the function composed no %s", name)
	}
	return &unstructured.Unstructured{Object: d.GetResource().AsMap()}
}

func secretString(t *testing.T, s *unstructured.Unstructured, key string) string {
	t.Helper()
	v, _, _ := unstructured.NestedString(s.Object, "data", key)
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) == 0 {
		t.Fatalf("the composed Secret %s has no data.%s: %v", s.GetName(), key, err)
	}
	return string(b)
}

func setSecretString(s *unstructured.Unstructured, key, value string) {
	data, _, _ := unstructured.NestedMap(s.Object, "data")
	data[key] = base64.StdEncoding.EncodeToString([]byte(value))
	s.Object["data"] = data
}

// scheduleBackups are the Backups of a schedule, earliest tick first.
func scheduleBackups(t *testing.T, env *testenv.Env, ns, schedule string) []opsv1alpha1.Backup {
	t.Helper()
	l := &opsv1alpha1.BackupList{}
	if err := env.Client.List(context.Background(), l, client.InNamespace(ns), client.MatchingLabels{opsv1alpha1.LabelBackupSchedule: schedule}); err != nil {
		t.Fatal(err)
	}
	// Tick labels are unix seconds of equal width, so they sort as strings.
	sort.Slice(l.Items, func(i, j int) bool {
		return l.Items[i].Labels[opsv1alpha1.LabelScheduleTick] < l.Items[j].Labels[opsv1alpha1.LabelScheduleTick]
	})
	return l.Items
}

// waitFor polls cond until it holds, failing the test with dump's account
// after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, dump func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s in vain\n%s", timeout, what, dump())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
