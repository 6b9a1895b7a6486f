package flux_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	qdrantv1alpha1 "github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/cluster/s3server"
	"github.com/qdrantops/qdrantops/cluster/testenv"
	"github.com/qdrantops/qdrantops/docs/argocd"
)

const (
	ns     = "flux-health"
	bucket = "flux-health"
	apiKey = "flux-health-api-key" //nolint:gosec // G101: a fake key the test gives its Qdrant emulator.
)

// TestHealthAgreesWithArgoCDOnProviderObjects runs the real provider against
// the Qdrant emulator and a real S3 server, and holds the Flux checks to the
// Argo CD checks on every version of every Backup, Restore and
// BackupSchedule the apiserver holds on the way: created without status,
// running, completed, failed, unusable (a missing ProviderConfig), restored,
// refused (an existing collection), scheduled and suspended.
func TestHealthAgreesWithArgoCDOnProviderObjects(t *testing.T) {
	env := controlPlane(t)
	if why := s3server.Available(); why != "" {
		if os.Getenv("CI") != "" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	ctx := t.Context()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "s3"), 0o700); err != nil {
		t.Fatal(err)
	}
	srv, err := s3server.Start(ctx, filepath.Join(dir, "s3"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	if err := srv.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	emu, err := qdrantemu.Start(qdrantemu.Options{Nodes: 1, APIKey: apiKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	if err := emu.AddSample(qdrantemu.Sample{Name: "docs", ShardNumber: 2, ReplicationFactor: 1, Points: 100, Dim: 4}); err != nil {
		t.Fatal(err)
	}

	// Everything the provider will write is recorded from here on.
	seen := record(t, env)

	create(t, env,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-credentials", Namespace: ns}, StringData: map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}},
		&v1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}, Spec: v1alpha1.ProviderConfigSpec{
			S3:          v1alpha1.S3Defaults{Endpoint: srv.Endpoint, Region: srv.Region, UsePathStyle: true},
			Credentials: v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceSecret, SecretRef: &v1alpha1.CredentialsSecretRef{S3CredentialsSecretRef: v1alpha1.S3CredentialsSecretRef{Name: "s3-credentials"}}},
		}},
		// What the composition function writes for the QdrantCluster "search".
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: qdrantv1alpha1.ConnectionSecretName("search"), Namespace: ns}, StringData: map[string]string{
			qdrantv1alpha1.ConnectionKeyEndpoint: emu.URLs()[0],
			qdrantv1alpha1.ConnectionKeyPeerURLs: strings.Join(emu.URLs(), "\n"),
			qdrantv1alpha1.ConnectionKeyAPIKey:   apiKey,
		}},
	)
	startProvider(t, env, dir)

	storage := v1alpha1.Storage{S3: v1alpha1.S3Location{Bucket: bucket}}
	target := v1alpha1.QdrantTarget{ClusterRef: &v1alpha1.LocalReference{Name: "search"}}
	pc := func(name string) xpv2.ManagedResourceSpec {
		return xpv2.ManagedResourceSpec{ProviderConfigReference: &xpv2.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKind, Name: name}}
	}
	create(t, env,
		&v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "good", Namespace: ns}, Spec: v1alpha1.BackupSpec{ManagedResourceSpec: pc("default"),
			ForProvider: v1alpha1.BackupParameters{BackupSource: v1alpha1.BackupSource{QdrantTarget: target, Storage: storage}}}},
		&v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "no-config", Namespace: ns}, Spec: v1alpha1.BackupSpec{ManagedResourceSpec: pc("missing"),
			ForProvider: v1alpha1.BackupParameters{BackupSource: v1alpha1.BackupSource{QdrantTarget: target, Storage: storage}}}},
		schedule("nightly", false, target, storage, pc("default")),
		schedule("paused", true, target, storage, pc("default")),
	)
	waitFor(t, env, "Backup good Completed and Ready", func() bool {
		b := &v1alpha1.Backup{}
		return get(t, env, "good", b) && b.Status.AtProvider.Phase == v1alpha1.BackupCompleted && b.GetCondition(xpv2.TypeReady).Status == corev1.ConditionTrue
	})
	create(t, env,
		&v1alpha1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "good", Namespace: ns}, Spec: v1alpha1.RestoreSpec{ManagedResourceSpec: pc("default"),
			ForProvider: v1alpha1.RestoreParameters{BackupRef: &v1alpha1.LocalReference{Name: "good"}, TargetClusterRef: &v1alpha1.LocalReference{Name: "search"},
				CollectionMappings: []v1alpha1.CollectionMapping{{From: "docs", To: "docs-restored"}}}}},
		// "docs" exists: Fail, the default, refuses to touch it.
		&v1alpha1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "clash", Namespace: ns}, Spec: v1alpha1.RestoreSpec{ManagedResourceSpec: pc("default"),
			ForProvider: v1alpha1.RestoreParameters{BackupRef: &v1alpha1.LocalReference{Name: "good"}, TargetClusterRef: &v1alpha1.LocalReference{Name: "search"}}}},
	)
	for name, phase := range map[string]v1alpha1.RestorePhase{"good": v1alpha1.RestoreCompleted, "clash": v1alpha1.RestoreFailed} {
		waitFor(t, env, "Restore "+name+" "+string(phase), func() bool {
			r := &v1alpha1.Restore{}
			return get(t, env, name, r) && r.Status.AtProvider.Phase == phase
		})
	}
	for _, name := range []string{"nightly", "paused"} {
		waitFor(t, env, "BackupSchedule "+name+" Ready", func() bool {
			s := &v1alpha1.BackupSchedule{}
			return get(t, env, name, s) && s.GetCondition(xpv2.TypeReady).Status == corev1.ConditionTrue
		})
	}
	waitFor(t, env, "Backup no-config not Synced", func() bool {
		b := &v1alpha1.Backup{}
		return get(t, env, "no-config", b) && b.GetCondition(xpv2.TypeSynced).Status == corev1.ConditionFalse
	})

	objs := seen()
	verdicts := map[string]bool{}
	for _, o := range objs {
		if why := agree(t, checks(t), o); why != "" {
			t.Errorf("%s %s (resourceVersion %s): %s", o.GetKind(), o.GetName(), o.GetResourceVersion(), why)
		}
		a, err := argocd.Check(o)
		if err != nil {
			t.Fatal(err)
		}
		verdicts[o.GetKind()+"/"+a.Status] = true
	}
	// The run reached every verdict these objects can give, so each was
	// compared at least once.
	for _, want := range []string{"Backup/Progressing", "Backup/Healthy", "Backup/Degraded", "Restore/Progressing", "Restore/Healthy", "Restore/Degraded", "BackupSchedule/Progressing", "BackupSchedule/Healthy", "BackupSchedule/Suspended"} {
		if !verdicts[want] {
			t.Errorf("no object version was %s", want)
		}
	}
	var got []string
	for v := range verdicts {
		got = append(got, v)
	}
	sort.Strings(got)
	t.Logf("%d object versions compared: %s", len(objs), strings.Join(got, ", "))
}

func schedule(name string, suspend bool, target v1alpha1.QdrantTarget, storage v1alpha1.Storage, pc xpv2.ManagedResourceSpec) *v1alpha1.BackupSchedule {
	return &v1alpha1.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: v1alpha1.BackupScheduleSpec{ManagedResourceSpec: pc,
		ForProvider: v1alpha1.BackupScheduleParameters{Schedule: "0 3 * * *", Suspend: suspend,
			Template: v1alpha1.BackupSource{QdrantTarget: target, Storage: storage, Parallelism: ptr.To[int32](2)}}}}
}

// record watches the test namespace's Backups, Restores and BackupSchedules
// and returns every version of them the apiserver sent so far.
func record(t *testing.T, env *testenv.Env) func() []*unstructured.Unstructured {
	t.Helper()
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var objs []*unstructured.Unstructured
	for _, k := range []string{v1alpha1.BackupKind, v1alpha1.RestoreKind, v1alpha1.BackupScheduleKind} {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(schema.GroupVersionKind{Group: v1alpha1.Group, Version: v1alpha1.Version, Kind: k + "List"})
		w, err := wc.Watch(t.Context(), l, client.InNamespace(ns))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		go func() {
			for ev := range w.ResultChan() {
				o, ok := ev.Object.(*unstructured.Unstructured)
				if !ok || ev.Type == watch.Error {
					continue
				}
				mu.Lock()
				objs = append(objs, o)
				mu.Unlock()
			}
		}()
	}
	return func() []*unstructured.Unstructured {
		mu.Lock()
		defer mu.Unlock()
		return append([]*unstructured.Unstructured(nil), objs...)
	}
}

// startProvider builds the provider and runs it for the rest of the test as
// its package's ServiceAccount, bound to exactly what Crossplane's RBAC
// manager grants the package.
func startProvider(t *testing.T, env *testenv.Env, dir string) {
	t.Helper()
	ctx := t.Context()
	account := testenv.ServiceAccount{Namespace: "crossplane-system", Name: "provider-qdrantops"}
	role, err := testenv.ProviderRole(filepath.Join(env.Root, "package", "provider"))
	if err != nil {
		t.Fatal(err)
	}
	if err := env.BindServiceAccount(ctx, account, role); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dir, "provider.kubeconfig")
	if err := env.KubeconfigAs(kc, account); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "provider")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./provider-qdrantops/cmd/provider")
	build.Dir = env.Root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cannot build the provider: %v\n%s", err, out)
	}
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metrics := l.Addr().String()
	_ = l.Close()
	logPath := filepath.Join(dir, "provider.log")
	f, err := os.Create(logPath) //nolint:gosec // G304: a file in the test's own t.TempDir().
	if err != nil {
		t.Fatal(err)
	}
	// Not t.Context(): the process is killed in the cleanup below, after
	// the log is read.
	cmd := exec.CommandContext(context.Background(), bin, "--poll", "5s", "--leader-election=false",
		"--metrics-bind-address", metrics, "--health-probe-bind-address", "0", "--shard-retry-delay", "100ms")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kc)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath) //nolint:gosec // G304: a file in the test's own t.TempDir().
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("provider log (tail):\n%s", b)
		}
	})
}

func create(t *testing.T, env *testenv.Env, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatalf("cannot create %T %s: %v", o, o.GetName(), err)
		}
	}
}

func get(t *testing.T, env *testenv.Env, name string, o client.Object) bool {
	t.Helper()
	err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, o)
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("cannot read %s: %v", name, err)
	}
	return err == nil
}

func waitFor(t *testing.T, env *testenv.Env, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			l := &unstructured.UnstructuredList{}
			var dump strings.Builder
			for _, k := range []string{v1alpha1.BackupKind, v1alpha1.RestoreKind, v1alpha1.BackupScheduleKind} {
				l.SetGroupVersionKind(schema.GroupVersionKind{Group: v1alpha1.Group, Version: v1alpha1.Version, Kind: k + "List"})
				_ = env.Client.List(t.Context(), l, client.InNamespace(ns))
				for _, o := range l.Items {
					fmt.Fprintf(&dump, "%s %s: %v\n", o.GetKind(), o.GetName(), o.Object["status"])
				}
			}
			t.Fatalf("%s: not within 2 minutes\n%s", what, dump.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
