package restore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
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

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	qdrantv1alpha1 "github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/cluster/s3server"
	"github.com/qdrantops/qdrantops/cluster/testenv"
	backupctl "github.com/qdrantops/qdrantops/provider-qdrantops/internal/controller/backup"
	configctl "github.com/qdrantops/qdrantops/provider-qdrantops/internal/controller/config"
	restorectl "github.com/qdrantops/qdrantops/provider-qdrantops/internal/controller/restore"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/jobs"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/metrics"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

const (
	ns     = "team-a"
	apiKey = "qdrant-api-key-value-51c9" //nolint:gosec // G101: a fake key the tests give their Qdrant emulators.
	bucket = "qdrant-backups"
	// source is the QdrantCluster whose backups are restored.
	source = "search"
)

var (
	env *testenv.Env
	srv *s3server.Server
	// emu is the source cluster: three nodes holding the default samples.
	emu  *qdrantemu.Cluster
	logs = &syncBuffer{}
	// providerAccount is the ServiceAccount the provider runs as, as a
	// provider pod runs as the one Crossplane makes for it.
	providerAccount = testenv.ServiceAccount{Namespace: "crossplane-system", Name: "provider-qdrantops"}
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
		dir, err := os.MkdirTemp("", "restore-controller")
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

// bindProvider binds the provider's ServiceAccount to exactly the ClusterRole
// Crossplane's RBAC manager grants the package in package/provider, so that
// the tests fail on a permission a real install would not have.
func bindProvider() (func(), error) {
	role, err := testenv.ProviderRole(env.Root + "/package/provider")
	if err != nil {
		return nil, err
	}
	return func() {}, env.BindServiceAccount(context.Background(), providerAccount, role)
}

// A provider is the provider's controllers running in this process, as a
// provider process would run them.
type provider struct {
	reg  *prometheus.Registry
	stop func()
}

// metric reads a counter or gauge of the namespace and a cluster.
func (p *provider) metric(t *testing.T, name, cluster string) float64 {
	t.Helper()
	mfs, err := p.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == ns && labels["cluster"] == cluster {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

// startProvider starts the ProviderConfig, Backup and Restore controllers
// as the provider's ServiceAccount, the Backup and Restore controllers
// sharing one set of per-cluster slots as the provider's do. Each test starts
// a provider of its own, as a restarted process would.
func startProvider(t *testing.T) *provider {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := funcr.New(func(prefix, args string) { _, _ = fmt.Fprintln(logs, prefix, args) }, funcr.Options{Verbosity: 1})
	ctrl.SetLogger(log)
	mgr, err := ctrl.NewManager(env.As(providerAccount), ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, Logger: log,
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	bm, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := metrics.NewRestore(reg)
	if err != nil {
		t.Fatal(err)
	}
	budget, err := s3store.NewBudget(64<<20, s3store.DefaultPartSize)
	if err != nil {
		t.Fatal(err)
	}
	o := controller.Options{Logger: logging.NewLogrLogger(log), GlobalRateLimiter: ratelimiter.NewGlobal(50), PollInterval: 2 * time.Second, MaxConcurrentReconciles: 5, Features: &feature.Flags{}}
	slots := jobs.NewSlots()
	if err := configctl.Setup(mgr, o); err != nil {
		t.Fatal(err)
	}
	if err := backupctl.Setup(mgr, o, backupctl.Deps{Slots: slots, Metrics: bm, Context: ctx, RetryDelay: 10 * time.Millisecond, Budget: budget, MaxQueueWait: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := restorectl.Setup(mgr, o, restorectl.Deps{Slots: slots, Metrics: rm, Context: ctx, RetryDelay: 10 * time.Millisecond, AttemptBackoff: 500 * time.Millisecond, Budget: budget, MaxQueueWait: time.Hour}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = mgr.Start(ctx) }()
	return &provider{reg: reg, stop: func() { cancel(); <-done }}
}

func apply(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil && !kerrors.IsAlreadyExists(err) {
			t.Fatalf("cannot create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// connectionSecret is what the composition function writes for a
// QdrantCluster: all the provider reads of one.
func connectionSecret(namespace, cluster string, c *qdrantemu.Cluster) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: qdrantv1alpha1.ConnectionSecretName(cluster), Namespace: namespace}, StringData: map[string]string{
		qdrantv1alpha1.ConnectionKeyEndpoint: c.URLs()[0],
		qdrantv1alpha1.ConnectionKeyPeerURLs: strings.Join(c.URLs(), "\n"),
		qdrantv1alpha1.ConnectionKeyAPIKey:   apiKey,
	}}
}

func fixtures(t *testing.T) {
	t.Helper()
	apply(t,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-credentials", Namespace: ns}, StringData: map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}},
		&v1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}, Spec: v1alpha1.ProviderConfigSpec{
			S3:          v1alpha1.S3Defaults{Endpoint: srv.Endpoint, Region: srv.Region, UsePathStyle: true},
			Credentials: v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceSecret, SecretRef: &v1alpha1.CredentialsSecretRef{S3CredentialsSecretRef: v1alpha1.S3CredentialsSecretRef{Name: "s3-credentials"}}},
		}},
		connectionSecret(ns, source, emu),
	)
}

// newTarget starts an empty emulated cluster of nodes for one test and names
// it as a QdrantCluster of the namespace.
func newTarget(t *testing.T, name string, nodes int, opts ...func(*qdrantemu.Options)) *qdrantemu.Cluster {
	t.Helper()
	o := qdrantemu.Options{Nodes: nodes, APIKey: apiKey}
	for _, f := range opts {
		f(&o)
	}
	c, err := qdrantemu.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	apply(t, connectionSecret(ns, name, c))
	return c
}

type backupMod func(*v1alpha1.Backup)

func newBackup(name string, collections []string, mods ...backupMod) *v1alpha1.Backup {
	b := &v1alpha1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.BackupSpec{
			ManagedResourceSpec: xpv2.ManagedResourceSpec{ProviderConfigReference: &xpv2.ProviderConfigReference{Kind: "ProviderConfig", Name: "default"}},
			ForProvider: v1alpha1.BackupParameters{BackupSource: v1alpha1.BackupSource{
				QdrantTarget: v1alpha1.QdrantTarget{ClusterRef: &v1alpha1.LocalReference{Name: source}},
				Storage:      v1alpha1.Storage{S3: v1alpha1.S3Location{Bucket: bucket, Prefix: "test/"}},
				Parallelism:  ptr.To[int32](3),
			}},
		},
	}
	for _, c := range collections {
		b.Spec.ForProvider.Collections = append(b.Spec.ForProvider.Collections, v1alpha1.CollectionName(c))
	}
	for _, m := range mods {
		m(b)
	}
	return b
}

// completedBackup makes a Backup with the Backup controller, once per test
// binary, and waits until it can be restored.
func completedBackup(t *testing.T, name string, collections ...string) *v1alpha1.Backup {
	t.Helper()
	apply(t, newBackup(name, collections))
	return waitForBackup(t, name, 90*time.Second, "Ready", func(b *v1alpha1.Backup) bool {
		return b.GetCondition(xpv2.TypeReady).Status == corev1.ConditionTrue
	})
}

type restoreMod func(*v1alpha1.Restore)

func newRestore(name string, mods ...restoreMod) *v1alpha1.Restore {
	r := &v1alpha1.Restore{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.RestoreSpec{
			ManagedResourceSpec: xpv2.ManagedResourceSpec{ProviderConfigReference: &xpv2.ProviderConfigReference{Kind: "ProviderConfig", Name: "default"}},
			ForProvider:         v1alpha1.RestoreParameters{Parallelism: ptr.To[int32](3), VerifySamplePoints: ptr.To[int32](50)},
		},
	}
	for _, m := range mods {
		m(r)
	}
	return r
}

func fromBackup(name string) restoreMod {
	return func(r *v1alpha1.Restore) { r.Spec.ForProvider.BackupRef = &v1alpha1.LocalReference{Name: name} }
}

func into(cluster string) restoreMod {
	return func(r *v1alpha1.Restore) {
		r.Spec.ForProvider.TargetClusterRef = &v1alpha1.LocalReference{Name: cluster}
	}
}

func only(collections ...string) restoreMod {
	return func(r *v1alpha1.Restore) {
		for _, c := range collections {
			r.Spec.ForProvider.Collections = append(r.Spec.ForProvider.Collections, v1alpha1.CollectionName(c))
		}
	}
}

func getRestore(t *testing.T, name string) *v1alpha1.Restore {
	t.Helper()
	r := &v1alpha1.Restore{}
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, r); err != nil {
		t.Fatal(err)
	}
	return r
}

// waitFor polls a Restore until cond holds.
func waitFor(t *testing.T, name string, timeout time.Duration, what string, cond func(*v1alpha1.Restore) bool) *v1alpha1.Restore {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := getRestore(t, name)
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			st, _ := json.MarshalIndent(r.Status, "", "  ")
			t.Fatalf("restore %s: %s not reached within %s; status:\n%s\nlogs:\n%s", name, what, timeout, st, tail(mine(name), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ready(r *v1alpha1.Restore) bool {
	return r.GetCondition(xpv2.TypeReady).Status == corev1.ConditionTrue
}

func failed(r *v1alpha1.Restore) bool { return r.Status.AtProvider.Phase == v1alpha1.RestoreFailed }

func waitForBackup(t *testing.T, name string, timeout time.Duration, what string, cond func(*v1alpha1.Backup) bool) *v1alpha1.Backup {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b := &v1alpha1.Backup{}
		if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, b); err != nil {
			t.Fatal(err)
		}
		if cond(b) {
			return b
		}
		if time.Now().After(deadline) {
			st, _ := json.MarshalIndent(b.Status, "", "  ")
			t.Fatalf("backup %s: %s not reached within %s; status:\n%s\nlogs:\n%s", name, what, timeout, st, tail(mine(name), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mine are the log lines about a resource of the given name.
func mine(name string) string {
	var out []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"name"="`+name+`"`) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// events lists the Events of an object of the namespace.
func events(t *testing.T, name string) []corev1.Event {
	t.Helper()
	l := &corev1.EventList{}
	if err := env.Client.List(context.Background(), l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range l.Items {
		if e.InvolvedObject.Name == name && e.InvolvedObject.Kind == v1alpha1.RestoreKind {
			out = append(out, e)
		}
	}
	return out
}

// waitForEvents waits until the Restore has an Event of each reason: Events
// are sent once the status they tell of is persisted, and reach the API
// server a moment later.
func waitForEvents(t *testing.T, name string, reasons ...string) map[string][]corev1.Event {
	t.Helper()
	var got map[string][]corev1.Event
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		got = map[string][]corev1.Event{}
		for _, e := range events(t, name) {
			got[e.Reason] = append(got[e.Reason], e)
		}
		all := true
		for _, r := range reasons {
			all = all && len(got[r]) > 0
		}
		if all {
			return got
		}
	}
	have := make([]string, 0, len(got))
	for r, evs := range got {
		for _, e := range evs {
			have = append(have, fmt.Sprintf("%s (%d): %s", r, e.Count, e.Message))
		}
	}
	t.Fatalf("restore %s: want events %v, got %v", name, reasons, have)
	return nil
}

// count counts a collection's points in an emulated cluster, as a user would.
func count(t *testing.T, c *qdrantemu.Cluster, collection string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, c.URLs()[0]+"/collections/"+collection+"/points/count", strings.NewReader(`{"exact":true}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("api-key", apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // Read-only.
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return -1
	}
	var out struct {
		Result struct {
			Count int `json:"count"`
		} `json:"result"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("count of %s: %v: %s", collection, err, b)
	}
	return out.Result.Count
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
