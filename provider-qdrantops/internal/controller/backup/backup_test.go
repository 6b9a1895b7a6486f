package backup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/crossplane/crossplane-runtime/v2/pkg/controller"
	"github.com/crossplane/crossplane-runtime/v2/pkg/feature"
	"github.com/crossplane/crossplane-runtime/v2/pkg/logging"
	"github.com/crossplane/crossplane-runtime/v2/pkg/ratelimiter"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	qdrantv1alpha1 "github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/cluster/s3server"
	"github.com/qdrantops/qdrantops/cluster/testenv"
	qcontroller "github.com/qdrantops/qdrantops/provider-qdrantops/internal/controller"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/metrics"
)

const (
	ns     = "team-a"
	apiKey = "qdrant-api-key-value-7f3a" //nolint:gosec // G101: a fake key the tests give their Qdrant emulator.
	bucket = "qdrant-backups"
)

var (
	env  *testenv.Env
	srv  *s3server.Server
	emu  *qdrantemu.Cluster
	logs = &syncBuffer{}
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMain(m *testing.M) {
	if why := s3server.Available(); why != "" && os.Getenv("CI") == "" {
		fmt.Fprintln(os.Stderr, "skipping controller tests:", why)
		os.Exit(0)
	}
	testenv.Main(m, &env, func() (func(), error) {
		dir, err := os.MkdirTemp("", "backup-controller")
		if err != nil {
			return nil, err
		}
		if srv, err = s3server.Start(context.Background(), dir); err != nil {
			return nil, err
		}
		if err := srv.CreateBucket(context.Background(), bucket); err != nil {
			return nil, err
		}
		emu, err = qdrantemu.Start(qdrantemu.Options{Nodes: 3, APIKey: apiKey})
		if err != nil {
			return nil, err
		}
		for _, s := range qdrantemu.DefaultSamples() {
			if err := emu.AddSample(s); err != nil {
				return nil, err
			}
		}
		return func() { emu.Close(); srv.Stop(); _ = os.RemoveAll(dir) }, nil
	}, bindProvider)
}

// startProvider runs the provider's controllers in this process until the
// returned function stops them, as a provider process would: as its
// ServiceAccount, with only the permissions Crossplane grants its package
// (see bindProvider).
func startProvider(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := funcr.New(func(prefix, args string) { _, _ = fmt.Fprintln(logs, prefix, args) }, funcr.Options{Verbosity: 1})
	ctrl.SetLogger(log)
	// Each test starts a provider of its own, as a restarted process would.
	mgr, err := ctrl.NewManager(env.As(providerAccount), ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, Logger: log,
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	o := controller.Options{Logger: logging.NewLogrLogger(log), GlobalRateLimiter: ratelimiter.NewGlobal(50), PollInterval: 2 * time.Second, MaxConcurrentReconciles: 5, Features: &feature.Flags{}}
	if err := qcontroller.Setup(mgr, o, qcontroller.Deps{Context: ctx, Metrics: m, ShardRetryDelay: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = mgr.Start(ctx) }()
	return func() { cancel(); <-done }
}

var _ = logr.Discard

func apply(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("cannot create %T %s: %v", o, o.GetName(), err)
		}
	}
}

func fixtures(t *testing.T) {
	t.Helper()
	apply(t,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-credentials", Namespace: ns}, StringData: map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "wrong-credentials", Namespace: ns}, StringData: map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": "definitely-wrong-secret"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "half-credentials", Namespace: ns}, StringData: map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey}},
		&v1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}, Spec: v1alpha1.ProviderConfigSpec{
			S3:          v1alpha1.S3Defaults{Endpoint: srv.Endpoint, Region: srv.Region, UsePathStyle: true},
			Credentials: v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceSecret, SecretRef: &v1alpha1.CredentialsSecretRef{S3CredentialsSecretRef: v1alpha1.S3CredentialsSecretRef{Name: "s3-credentials"}}},
		}},
		// What the composition function writes for a QdrantCluster.
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: qdrantv1alpha1.ConnectionSecretName("search"), Namespace: ns}, StringData: map[string]string{
			qdrantv1alpha1.ConnectionKeyEndpoint: emu.URLs()[0],
			qdrantv1alpha1.ConnectionKeyPeerURLs: strings.Join(emu.URLs(), "\n"),
			qdrantv1alpha1.ConnectionKeyAPIKey:   apiKey,
		}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "qdrant-key", Namespace: ns}, StringData: map[string]string{"api-key": apiKey}},
	)
	xr := &qdrantv1alpha1.QdrantCluster{ObjectMeta: metav1.ObjectMeta{Name: "search", Namespace: ns}, Spec: qdrantv1alpha1.QdrantClusterSpec{Replicas: 3, Version: "1.19.0", Cluster: qdrantv1alpha1.ClusterMode{Enabled: true}}}
	apply(t, xr)
}

type mod func(*v1alpha1.Backup)

func newBackup(name string, mods ...mod) *v1alpha1.Backup {
	b := &v1alpha1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.BackupSpec{
			ManagedResourceSpec: xpv2.ManagedResourceSpec{ProviderConfigReference: &xpv2.ProviderConfigReference{Kind: "ProviderConfig", Name: "default"}},
			ForProvider: v1alpha1.BackupParameters{BackupSource: v1alpha1.BackupSource{
				QdrantTarget: v1alpha1.QdrantTarget{ClusterRef: &v1alpha1.LocalReference{Name: "search"}},
				Storage:      v1alpha1.Storage{S3: v1alpha1.S3Location{Bucket: bucket, Prefix: "test/"}},
				Parallelism:  ptr.To[int32](3),
			}},
		},
	}
	for _, m := range mods {
		m(b)
	}
	return b
}

func get(t *testing.T, name string) *v1alpha1.Backup {
	t.Helper()
	b := &v1alpha1.Backup{}
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, b); err != nil {
		t.Fatal(err)
	}
	return b
}

// waitFor polls a Backup until cond holds.
func waitFor(t *testing.T, name string, timeout time.Duration, what string, cond func(*v1alpha1.Backup) bool) *v1alpha1.Backup {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b := get(t, name)
		if cond(b) {
			return b
		}
		if time.Now().After(deadline) {
			st, _ := json.MarshalIndent(b.Status, "", "  ")
			var mine []string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, `"name"="`+name+`"`) {
					mine = append(mine, l)
				}
			}
			t.Fatalf("backup %s: %s not reached within %s; status:\n%s\nlogs:\n%s", name, what, timeout, st, tail(strings.Join(mine, "\n"), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitGone waits until a Backup no longer exists, failing with why if it
// does not go within timeout.
func waitGone(t *testing.T, name string, timeout time.Duration, why string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !kerrors.IsNotFound(env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &v1alpha1.Backup{})) {
		if time.Now().After(deadline) {
			t.Fatal(why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func condition(b *v1alpha1.Backup, ct xpv2.ConditionType) xpv2.Condition { return b.GetCondition(ct) }

func events(t *testing.T, name string) []corev1.Event {
	t.Helper()
	l := &corev1.EventList{}
	if err := env.Client.List(context.Background(), l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range l.Items {
		if e.InvolvedObject.Name == name {
			out = append(out, e)
		}
	}
	return out
}
