package schedule_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
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
	apiKey = "qdrant-api-key-value-5c1e" //nolint:gosec // G101: a fake key the tests give their Qdrant emulator.
	bucket = "schedule-backups"
)

var (
	env *testenv.Env
	srv *s3server.Server
	emu *qdrantemu.Cluster
	// tmp holds the provider binary and the garbage collector's log.
	tmp string

	buildOnce sync.Once
	binary    string
	errBuild  error
)

// providerAccount is the ServiceAccount the provider runs as, bound to
// exactly what Crossplane's RBAC manager grants the package.
var providerAccount = testenv.ServiceAccount{Namespace: "crossplane-system", Name: "provider-qdrantops"}

func TestMain(m *testing.M) {
	if why := s3server.Available(); why != "" && os.Getenv("CI") == "" {
		fmt.Fprintln(os.Stderr, "skipping BackupSchedule controller tests:", why)
		os.Exit(0)
	}
	testenv.Main(m, &env, func() (func(), error) {
		dir, err := os.MkdirTemp("", "schedule-controller")
		if err != nil {
			return nil, err
		}
		tmp = dir
		if err := os.Mkdir(filepath.Join(dir, "s3"), 0o700); err != nil {
			return nil, err
		}
		if srv, err = s3server.Start(context.Background(), filepath.Join(dir, "s3")); err != nil {
			return nil, err
		}
		if err := srv.CreateBucket(context.Background(), bucket); err != nil {
			return nil, err
		}
		if emu, err = qdrantemu.Start(qdrantemu.Options{Nodes: 1, APIKey: apiKey}); err != nil {
			return nil, err
		}
		if err := emu.AddSample(qdrantemu.Sample{Name: "docs", ShardNumber: 2, ReplicationFactor: 1, Points: 100, Dim: 4}); err != nil {
			return nil, err
		}
		return func() { emu.Close(); srv.Stop(); _ = os.RemoveAll(dir) }, nil
	}, func() (func(), error) {
		role, err := testenv.ProviderRole(filepath.Join(env.Root, "package", "provider"))
		if err != nil {
			return nil, err
		}
		return func() {}, env.BindServiceAccount(context.Background(), providerAccount, role)
	}, func() (func(), error) {
		// Retention hands pruned Backups to Kubernetes' garbage collector.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		return env.StartGarbageCollector(ctx, tmp)
	}, func() (func(), error) {
		return func() {
			if shared != nil {
				shared.kill()
			}
		}, nil
	})
}

// providerBinary is buildProvider for a test.
func providerBinary(t testing.TB) string {
	t.Helper()
	bin, err := buildProvider()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// buildProvider builds the provider once for the package's tests.
func buildProvider() (string, error) {
	buildOnce.Do(func() {
		binary = filepath.Join(tmp, "provider")
		build := exec.CommandContext(context.Background(), "go", "build", "-o", binary, "./provider-qdrantops/cmd/provider")
		build.Dir = env.Root
		if out, err := build.CombinedOutput(); err != nil {
			errBuild = fmt.Errorf("cannot build the provider: %w\n%s", err, out)
		}
	})
	return binary, errBuild
}

// A provider is the real provider binary running as its ServiceAccount.
type provider struct {
	cmd     *exec.Cmd
	log     string
	metrics string
	done    chan struct{}
}

// runProvider runs a provider process for one test, killed when it ends.
// leaseNamespace, when set, turns leader election on with the Lease in it,
// as Crossplane runs the provider; otherwise the process runs alone without
// it, so that a test does not wait for a Lease a killed process held. A
// provider reconciles every namespace: tests that run their own must not run
// in parallel with others.
func runProvider(t testing.TB, name, leaseNamespace string) *provider {
	t.Helper()
	p, err := startProvider(t.TempDir(), name, leaseNamespace)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	return p
}

var (
	sharedOnce sync.Once
	shared     *provider
	errShared  error
)

// sharedProvider is the one provider process the parallel tests share,
// started by the first of them (after the tests that run their own) and
// killed when the package's tests end.
func sharedProvider(t testing.TB) *provider {
	t.Helper()
	sharedOnce.Do(func() {
		dir := filepath.Join(tmp, "shared")
		if errShared = os.Mkdir(dir, 0o700); errShared == nil {
			shared, errShared = startProvider(dir, "shared", "")
		}
	})
	if errShared != nil {
		t.Fatal(errShared)
	}
	return shared
}

func startProvider(dir, name, leaseNamespace string) (*provider, error) {
	kc := filepath.Join(dir, name+".kubeconfig")
	if err := env.KubeconfigAs(kc, providerAccount); err != nil {
		return nil, err
	}
	bin, err := buildProvider()
	if err != nil {
		return nil, err
	}
	addr, err := listenAddr()
	if err != nil {
		return nil, err
	}
	p := &provider{log: filepath.Join(dir, name+".log"), metrics: addr, done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	args := []string{"--poll", "30s", "--metrics-bind-address", p.metrics, "--health-probe-bind-address", "0", "--shard-retry-delay", "100ms"}
	penv := append(os.Environ(), "KUBECONFIG="+kc)
	if leaseNamespace == "" {
		args = append(args, "--leader-election=false")
	} else {
		penv = append(penv, "POD_NAMESPACE="+leaseNamespace)
	}
	p.cmd = exec.CommandContext(context.Background(), bin, args...)
	p.cmd.Env = penv
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cannot start the provider: %w", err)
	}
	go func() { _ = p.cmd.Wait(); _ = f.Close(); close(p.done) }()
	return p, nil
}

// kill ends the process as kill -9 does: nothing is cleaned up.
func (p *provider) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *provider) logs(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(p.log)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// metric returns the value of the series of name whose labels contain
// every one of labels, and whether there is one.
func (p *provider) metric(t testing.TB, name string, labels ...string) (float64, bool) {
	t.Helper()
	resp, err := http.Get("http://" + p.metrics + "/metrics") //nolint:noctx // A local test server.
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
next:
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, name+"{") {
			continue
		}
		for _, want := range labels {
			if !strings.Contains(l, want) {
				continue next
			}
		}
		v, err := strconv.ParseFloat(l[strings.LastIndex(l, " ")+1:], 64)
		if err != nil {
			t.Fatalf("cannot parse metric line %q: %v", l, err)
		}
		return v, true
	}
	return 0, false
}

func freeAddr(t testing.TB) string {
	t.Helper()
	a, err := listenAddr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// listenAddr returns a loopback address no one listens on.
func listenAddr() (string, error) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// namespace creates a namespace for one test with what a team has there:
// S3 credentials, a ProviderConfig and the connection Secret the
// composition function writes for the QdrantCluster "search".
func namespace(t testing.TB, name string) {
	t.Helper()
	namespaceOf(t, name, emu)
}

// namespaceOf is namespace with the QdrantCluster "search" served by qc.
func namespaceOf(t testing.TB, name string, qc *qdrantemu.Cluster) {
	t.Helper()
	create(t,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-credentials", Namespace: name}, StringData: map[string]string{"AWS_ACCESS_KEY_ID": srv.AccessKey, "AWS_SECRET_ACCESS_KEY": srv.SecretKey}},
		&v1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: name}, Spec: v1alpha1.ProviderConfigSpec{
			S3:          v1alpha1.S3Defaults{Endpoint: srv.Endpoint, Region: srv.Region, UsePathStyle: true},
			Credentials: v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceSecret, SecretRef: &v1alpha1.CredentialsSecretRef{S3CredentialsSecretRef: v1alpha1.S3CredentialsSecretRef{Name: "s3-credentials"}}},
		}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: qdrantv1alpha1.ConnectionSecretName("search"), Namespace: name}, StringData: map[string]string{
			qdrantv1alpha1.ConnectionKeyEndpoint: qc.URLs()[0],
			qdrantv1alpha1.ConnectionKeyPeerURLs: strings.Join(qc.URLs(), "\n"),
			qdrantv1alpha1.ConnectionKeyAPIKey:   apiKey,
		}},
	)
}

func create(t testing.TB, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil && !kerrors.IsAlreadyExists(err) {
			t.Fatalf("cannot create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// newSchedule is a schedule of the QdrantCluster "search" into the test
// bucket, under a prefix of its own.
func newSchedule(ns, name, spec string, mods ...func(*v1alpha1.BackupSchedule)) *v1alpha1.BackupSchedule {
	s := &v1alpha1.BackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.BackupScheduleSpec{
			ManagedResourceSpec: xpv2.ManagedResourceSpec{ProviderConfigReference: &xpv2.ProviderConfigReference{Kind: "ProviderConfig", Name: "default"}},
			ForProvider: v1alpha1.BackupScheduleParameters{
				Schedule: spec,
				Template: v1alpha1.BackupSource{
					QdrantTarget: v1alpha1.QdrantTarget{ClusterRef: &v1alpha1.LocalReference{Name: "search"}},
					Storage:      v1alpha1.Storage{S3: v1alpha1.S3Location{Bucket: bucket, Prefix: name + "/"}},
					Parallelism:  ptr.To[int32](2),
				},
			},
		},
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

func getSchedule(t testing.TB, ns, name string) *v1alpha1.BackupSchedule {
	t.Helper()
	s := &v1alpha1.BackupSchedule{}
	if err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// backups lists the Backups of a namespace, oldest tick first.
func backups(t testing.TB, ns string) []v1alpha1.Backup {
	t.Helper()
	l := &v1alpha1.BackupList{}
	if err := env.Client.List(context.Background(), l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	sort.Slice(l.Items, func(i, j int) bool { return tickOf(t, &l.Items[i]).Before(tickOf(t, &l.Items[j])) })
	return l.Items
}

func tickOf(t testing.TB, b *v1alpha1.Backup) time.Time {
	t.Helper()
	sec, err := strconv.ParseInt(b.Labels[v1alpha1.LabelScheduleTick], 10, 64)
	if err != nil {
		t.Fatalf("Backup %s has no tick label: %v", b.Name, err)
	}
	return time.Unix(sec, 0)
}

// watchArrivals records when each Backup created in ns is first seen by a
// watch: a bound on its creation time, to the millisecond (a
// creationTimestamp has whole seconds).
func watchArrivals(t testing.TB, ns string) func() map[string]time.Time {
	t.Helper()
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := wc.Watch(ctx, &v1alpha1.BackupList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]time.Time{}
	go func() {
		for ev := range w.ResultChan() {
			at := time.Now()
			if b, ok := ev.Object.(*v1alpha1.Backup); ok {
				mu.Lock()
				if _, ok := seen[b.Name]; !ok {
					seen[b.Name] = at
				}
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(w.Stop)
	return func() map[string]time.Time {
		mu.Lock()
		defer mu.Unlock()
		out := make(map[string]time.Time, len(seen))
		for k, v := range seen {
			out[k] = v
		}
		return out
	}
}

// deleteSchedulesAtEnd deletes the schedules of ns when the test ends, so
// that the provider the parallel tests share does not go on with them.
func deleteSchedulesAtEnd(t testing.TB, ns string) {
	t.Helper()
	t.Cleanup(func() {
		if err := env.Client.DeleteAllOf(context.Background(), &v1alpha1.BackupSchedule{}, client.InNamespace(ns)); err != nil {
			t.Errorf("cannot delete the schedules of %s: %v", ns, err)
		}
	})
}

// health is what Argo CD's health check for the object's kind says of it
// (docs/argocd), held to the real objects these tests produce.
func health(t testing.TB, o client.Object, gvk schema.GroupVersionKind) string {
	t.Helper()
	h, err := argocd.CheckObject(o, gvk)
	if err != nil {
		t.Fatal(err)
	}
	return h.Status
}

// eventually polls cond until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool, dump func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s\n%s", what, timeout, dump())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dump describes a namespace's schedules and Backups and the provider's log
// tail, for a failure message.
func dump(t testing.TB, ns string, ps ...*provider) func() string {
	return func() string {
		var b strings.Builder
		l := &v1alpha1.BackupScheduleList{}
		_ = env.Client.List(context.Background(), l, client.InNamespace(ns))
		for _, s := range l.Items {
			st, _ := json.MarshalIndent(s.Status, "", "  ")
			fmt.Fprintf(&b, "schedule %s: %s\n", s.Name, st)
		}
		for _, bk := range backups(t, ns) {
			fmt.Fprintf(&b, "backup %s: phase %s created %s\n", bk.Name, bk.Status.AtProvider.Phase, bk.CreationTimestamp.UTC().Format(time.RFC3339))
		}
		for _, p := range ps {
			lg := p.logs(t)
			if len(lg) > 3000 {
				lg = lg[len(lg)-3000:]
			}
			fmt.Fprintf(&b, "provider log:\n%s\n", lg)
		}
		return b.String()
	}
}

// events returns the reasons of the Events about a schedule, with their
// counts.
func events(t testing.TB, ns, name string) map[string]int32 {
	t.Helper()
	l := &corev1.EventList{}
	if err := env.Client.List(context.Background(), l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string]int32{}
	for _, e := range l.Items {
		if e.InvolvedObject.Name == name && e.InvolvedObject.Kind == "BackupSchedule" {
			out[e.Reason] += max(e.Count, 1)
		}
	}
	return out
}

func condition(s *v1alpha1.BackupSchedule, ct xpv2.ConditionType) xpv2.Condition {
	return s.GetCondition(ct)
}

func isCompleted(b *v1alpha1.Backup) bool {
	return b.Status.AtProvider.Phase == v1alpha1.BackupCompleted
}
