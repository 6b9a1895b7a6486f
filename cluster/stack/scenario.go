package stack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	qdrantv1alpha1 "github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

// The scenario's names.
const (
	AppNamespace = "team-a"
	Bucket       = "qdrant-backups"
	// LocalChartComposition is the Composition the scenario's clusters
	// select: the installed one, with the function's input pointing at a
	// loopback chart repository, as an air-gapped platform points it at its
	// mirror.
	LocalChartComposition = "qdrantclusters.qdrantops.io-local-chart"
	storageClass          = "local"
	qdrantPort            = 6333
)

// Prepare makes what a platform team makes before its users create
// clusters: the app namespace, the backup bucket on the test ground's S3
// server, provider-qdrantops's ProviderConfig with the S3 credentials,
// provider-helm's ClusterProviderConfig with a kubeconfig Secret, a loopback
// chart repository serving the function's test chart with the Composition
// that uses it, and volumes for the clusters' pods (kwok has no
// provisioner).
func (s *Stack) Prepare(ctx context.Context, clusters ...string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: AppNamespace}}
	if err := s.Kube.Create(ctx, ns); err != nil && !kerrors.IsAlreadyExists(err) {
		return err
	}
	if err := s.createBucket(ctx, Bucket); err != nil {
		return err
	}
	// provider-helm installs a tenant's charts with an identity that has
	// rights in the tenant's namespace only: a ServiceAccount bound to the
	// admin ClusterRole there, whose kubeconfig the tenant's helm
	// ProviderConfig "default" (what the function names by default) and,
	// for older functions, the ClusterProviderConfig "default" read.
	installer := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "helm-releases", Namespace: AppNamespace}}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "helm-releases", Namespace: AppNamespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: installer.Name, Namespace: AppNamespace}},
	}
	for _, o := range []client.Object{installer, binding} {
		if err := s.Kube.Create(ctx, o); err != nil && !kerrors.IsAlreadyExists(err) {
			return fmt.Errorf("cannot create %s: %w", o.GetName(), err)
		}
	}
	kc, err := s.tokenKubeconfig(ctx, installer)
	if err != nil {
		return err
	}
	objs := []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-credentials", Namespace: AppNamespace}, StringData: map[string]string{
			"AWS_ACCESS_KEY_ID": s.Env["S3_ACCESS_KEY"], "AWS_SECRET_ACCESS_KEY": s.Env["S3_SECRET_KEY"],
		}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "helm-kubeconfig", Namespace: AppNamespace}, Data: map[string][]byte{"kubeconfig": kc}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "helm-kubeconfig", Namespace: Namespace}, Data: map[string][]byte{"kubeconfig": kc}},
	}
	for _, o := range objs {
		if err := s.Kube.Create(ctx, o); err != nil && !kerrors.IsAlreadyExists(err) {
			return fmt.Errorf("cannot create Secret %s: %w", o.GetName(), err)
		}
	}
	if err := s.applyYAML(ctx, fmt.Sprintf(`apiVersion: ops.qdrantops.io/v1alpha1
kind: ProviderConfig
metadata: {name: default, namespace: %s}
spec:
  s3: {region: %s, endpoint: %q, usePathStyle: true}
  credentials:
    source: Secret
    secretRef: {name: s3-credentials}
---
apiVersion: helm.m.crossplane.io/v1beta1
kind: ProviderConfig
metadata: {name: default, namespace: %s}
spec:
  credentials:
    source: Secret
    secretRef: {namespace: %s, name: helm-kubeconfig, key: kubeconfig}
---
apiVersion: helm.m.crossplane.io/v1beta1
kind: ClusterProviderConfig
metadata: {name: default}
spec:
  credentials:
    source: Secret
    secretRef: {namespace: %s, name: helm-kubeconfig, key: kubeconfig}
`, AppNamespace, s.Env["S3_REGION"], s.Env["S3_ENDPOINT"], AppNamespace, AppNamespace, Namespace)); err != nil {
		return err
	}
	repo, version, err := s.chartRepo(filepath.Join(s.opts.Root, "functions", "compose-qdrant", "testdata", "chart", "qdrant"))
	if err != nil {
		return err
	}
	comp := &unstructured.Unstructured{}
	comp.SetGroupVersionKind(CompositionKind)
	if err := s.Kube.Get(ctx, types.NamespacedName{Name: "qdrantclusters.qdrantops.io"}, comp); err != nil {
		return fmt.Errorf("the Configuration's Composition is not there: %w", err)
	}
	pipeline, _, _ := unstructured.NestedSlice(comp.Object, "spec", "pipeline")
	if len(pipeline) != 1 {
		return fmt.Errorf("the Configuration's Composition has %d pipeline steps, want 1", len(pipeline))
	}
	step, _ := pipeline[0].(map[string]any)
	// The function as Crossplane installed it; FunctionRefs checks that the
	// installed Composition names it so.
	step["functionRef"] = map[string]any{"name": FunctionName}
	step["input"] = map[string]any{
		"apiVersion": "compose.qdrantops.io/v1alpha1", "kind": "Input",
		"chart": map[string]any{"repository": repo, "version": version},
	}
	if err := unstructured.SetNestedSlice(comp.Object, pipeline, "spec", "pipeline"); err != nil {
		return err
	}
	local := &unstructured.Unstructured{Object: map[string]any{"spec": comp.Object["spec"]}}
	local.SetGroupVersionKind(CompositionKind)
	local.SetName(LocalChartComposition)
	if err := s.apply(ctx, local); err != nil {
		return fmt.Errorf("cannot apply the local chart's Composition: %w", err)
	}
	for _, c := range clusters {
		if err := s.volumes(ctx, c, 3); err != nil {
			return err
		}
	}
	s.progress("namespace %s, bucket %s, ProviderConfigs, a loopback chart repository (%s) and its Composition ready", AppNamespace, Bucket, repo)
	return nil
}

// ClusterManifest is the QdrantCluster the scenario applies: three nodes,
// and with backups, a schedule ticking every minute into the existing
// bucket (nothing creates buckets here: provider-upjet-aws does not run).
func ClusterManifest(name string, backups bool) string {
	m := fmt.Sprintf(`apiVersion: qdrantops.io/v1alpha1
kind: QdrantCluster
metadata: {name: %s, namespace: %s}
spec:
  crossplane:
    compositionRef: {name: %s}
  replicas: 3
  version: "1.19.0"
  resources:
    requests: {cpu: 100m, memory: 256Mi}
  persistence: {size: 1Gi, storageClassName: %s}
  cluster: {enabled: true}
`, name, AppNamespace, LocalChartComposition, storageClass)
	if backups {
		m += fmt.Sprintf(`  backup:
    schedule: "@every 1m"
    retention: {keepLast: 3}
    bucket: {name: %s, prefix: scheduled/}
    providerConfigRef: {kind: ProviderConfig, name: default}
`, Bucket)
	}
	return m
}

// ApplyYAML server-side applies the documents of a manifest.
func (s *Stack) ApplyYAML(ctx context.Context, manifest string) error {
	return s.applyYAML(ctx, manifest)
}

func (s *Stack) applyYAML(ctx context.Context, manifest string) error {
	for _, doc := range strings.Split(manifest, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		o := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &o.Object); err != nil {
			return fmt.Errorf("cannot read manifest: %w", err)
		}
		if err := s.apply(ctx, o); err != nil {
			return fmt.Errorf("cannot apply %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}

// XR returns a QdrantCluster.
func (s *Stack) XR(ctx context.Context, name string) (*unstructured.Unstructured, error) {
	xr := &unstructured.Unstructured{}
	xr.SetGroupVersionKind(QdrantClusterKind)
	err := s.Kube.Get(ctx, types.NamespacedName{Namespace: AppNamespace, Name: name}, xr)
	return xr, err
}

// Composed returns what a QdrantCluster composed, as its resource
// references name it.
func (s *Stack) Composed(ctx context.Context, xr *unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	refs, _, _ := unstructured.NestedSlice(xr.Object, "spec", "crossplane", "resourceRefs")
	var out []*unstructured.Unstructured
	for _, r := range refs {
		m, _ := r.(map[string]any)
		o := &unstructured.Unstructured{}
		o.SetAPIVersion(fmt.Sprint(m["apiVersion"]))
		o.SetKind(fmt.Sprint(m["kind"]))
		ns := xr.GetNamespace()
		if v, ok := m["namespace"].(string); ok && v != "" {
			ns = v
		}
		if err := s.Kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: fmt.Sprint(m["name"])}, o); err != nil {
			return nil, fmt.Errorf("cannot get composed %s %s: %w", m["kind"], m["name"], err)
		}
		out = append(out, o)
	}
	return out, nil
}

// WaitRunning waits for real Crossplane to compose a QdrantCluster through
// the function (want names the kinds it must compose), provider-helm to
// install the chart and kwok to run its pods, until the XR reports Running
// with every replica ready.
func (s *Stack) WaitRunning(ctx context.Context, name string, want ...string) error {
	start := time.Now()
	var xr *unstructured.Unstructured
	var kinds []string
	err := poll(ctx, 3*time.Minute, time.Second, func(ctx context.Context) (bool, error) {
		var err error
		if xr, err = s.XR(ctx, name); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		composed, err := s.Composed(ctx, xr)
		if err != nil {
			return false, nil //nolint:nilerr // A reference may be ahead of its object's cache.
		}
		kinds = kinds[:0]
		for _, o := range composed {
			kinds = append(kinds, o.GetKind())
		}
		phase, _, _ := unstructured.NestedString(xr.Object, "status", "phase")
		ready, _, _ := unstructured.NestedInt64(xr.Object, "status", "readyReplicas")
		return phase == "Running" && ready == 3 && containsAll(kinds, want), nil
	}, func() string {
		return fmt.Sprintf("QdrantCluster %s composed %v (want %v); status %v\nconditions:\n%s%s", name, kinds, want, statusSummary(xr), Conditions(xr), s.releaseReport(ctx))
	})
	if err != nil {
		return fmt.Errorf("QdrantCluster %s is not Running: %w", name, err)
	}
	s.progress("QdrantCluster %s composed by Crossplane through the function (%s); chart installed by provider-helm; Running with 3/3 ready replicas under kwok (%s)",
		name, strings.Join(kinds, ", "), time.Since(start).Round(time.Second))
	return nil
}

// StillRunning checks, without waiting, that a QdrantCluster still reports
// Running with every replica ready: a cluster that was Running must not flip
// back while nothing happens to it.
func (s *Stack) StillRunning(ctx context.Context, name string) error {
	xr, err := s.XR(ctx, name)
	if err != nil {
		return err
	}
	phase, _, _ := unstructured.NestedString(xr.Object, "status", "phase")
	ready, _, _ := unstructured.NestedInt64(xr.Object, "status", "readyReplicas")
	if phase != "Running" || ready != 3 {
		return fmt.Errorf("QdrantCluster %s was Running and is now %q with %d ready replicas; status %s\nconditions:\n%s%s", name, phase, ready, statusSummary(xr), Conditions(xr), s.releaseReport(ctx))
	}
	return nil
}

func (s *Stack) releaseReport(ctx context.Context) string {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(ReleaseKind.GroupVersion().WithKind("ReleaseList"))
	if err := s.Kube.List(ctx, l, client.InNamespace(AppNamespace)); err != nil {
		return ""
	}
	var b strings.Builder
	for i := range l.Items {
		fmt.Fprintf(&b, "Release %s:\n%s", l.Items[i].GetName(), Conditions(&l.Items[i]))
	}
	sts := &unstructured.UnstructuredList{}
	sts.SetAPIVersion("apps/v1")
	sts.SetKind("StatefulSetList")
	if err := s.Kube.List(ctx, sts, client.InNamespace(AppNamespace)); err == nil {
		for _, o := range sts.Items {
			fmt.Fprintf(&b, "StatefulSet %s: status %s\n", o.GetName(), statusSummary(&o))
		}
	}
	if p := s.proc("provider-helm"); p != nil {
		b.WriteString("provider-helm log:\n" + p.Tail(10) + "\n")
	}
	if p := s.proc("crossplane-core"); p != nil {
		b.WriteString("crossplane core log:\n" + p.Tail(10) + "\n")
	}
	return b.String()
}

func (s *Stack) proc(name string) *Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Log returns the end of a process's log, for failure messages.
func (s *Stack) Log(name string, lines int) string {
	if p := s.proc(name); p != nil {
		return p.Tail(lines)
	}
	return "(no process " + name + ")"
}

// StandIn starts a Qdrant emulator for a QdrantCluster's pods at the
// addresses its connection Secret names: every pod's DNS name (and the
// Service's) maps, in the private /etc/hosts, to a loopback address of its
// own from 127.0.0.first on, where one emulated node listens on Qdrant's
// port with the cluster's API key. With samples the nodes hold the
// emulator's sample collections.
func (s *Stack) StandIn(ctx context.Context, name string, first int, samples bool) (*qdrantemu.Cluster, error) {
	sec := &corev1.Secret{}
	key := types.NamespacedName{Namespace: AppNamespace, Name: qdrantv1alpha1.ConnectionSecretName(name)}
	err := poll(ctx, time.Minute, time.Second, func(ctx context.Context) (bool, error) {
		return s.Kube.Get(ctx, key, sec) == nil, nil
	}, func() string {
		xr, _ := s.XR(ctx, name)
		return fmt.Sprintf("no connection Secret %s; QdrantCluster %s conditions:\n%scrossplane core log:\n%s", key, name, Conditions(xr), s.Log("crossplane-core", 10))
	})
	if err != nil {
		return nil, err
	}
	peers := strings.Fields(string(sec.Data[qdrantv1alpha1.ConnectionKeyPeerURLs]))
	if len(peers) == 0 {
		return nil, fmt.Errorf("connection Secret %s names no pods", key)
	}
	hosts := map[string]string{}
	opts := qdrantemu.Options{Nodes: len(peers), APIKey: string(sec.Data[qdrantv1alpha1.ConnectionKeyAPIKey]), Dir: s.path("qdrant-" + name)}
	for i, p := range peers {
		u, err := url.Parse(p)
		if err != nil {
			return nil, fmt.Errorf("connection Secret %s: bad pod URL %q: %w", key, p, err)
		}
		port, _ := strconv.Atoi(u.Port())
		addr := fmt.Sprintf("127.0.0.%d", first+i)
		hosts[u.Hostname()] = addr
		opts.Hosts, opts.Ports = append(opts.Hosts, addr), append(opts.Ports, port)
	}
	if u, err := url.Parse(string(sec.Data[qdrantv1alpha1.ConnectionKeyEndpoint])); err == nil && u.Hostname() != "" {
		hosts[u.Hostname()] = opts.Hosts[0]
	}
	if err := s.AddHosts(hosts); err != nil {
		return nil, err
	}
	c, err := qdrantemu.Start(opts)
	if err != nil {
		return nil, fmt.Errorf("cannot start the emulator for %s: %w", name, err)
	}
	s.onClose(c.Close)
	if samples {
		for _, smp := range qdrantemu.DefaultSamples() {
			if err := c.AddSample(smp); err != nil {
				return nil, err
			}
		}
	}
	s.progress("Qdrant emulator stands in for %s's %d pods at %s (%s:%d...)", name, len(peers), strings.Join(opts.Hosts, ", "), firstHost(peers), qdrantPort)
	return c, nil
}

func firstHost(urls []string) string {
	u, err := url.Parse(urls[0])
	if err != nil {
		return urls[0]
	}
	return u.Hostname()
}

// Drift applies a manifest again, twice, as a GitOps tool syncing the same
// commit would, and checks that neither the XR's spec nor any composed
// object's spec (a Secret's data) changes across the next reconciles.
func (s *Stack) Drift(ctx context.Context, name, manifest string, reconciles int) error {
	before, err := s.snapshot(ctx, name)
	if err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		if err := s.applyYAML(ctx, manifest); err != nil {
			return err
		}
	}
	for i := 0; i < reconciles; i++ {
		// The poll interval: Crossplane reconciles the XR at least this often.
		time.Sleep(s.opts.PollInterval + time.Second)
		after, err := s.snapshot(ctx, name)
		if err != nil {
			return err
		}
		var diffs []string
		for k, v := range before {
			if after[k] != v {
				diffs = append(diffs, fmt.Sprintf("%s changed:\n  before: %s\n  after:  %s", k, v, after[k]))
			}
		}
		for k := range after {
			if _, ok := before[k]; !ok {
				diffs = append(diffs, k+" appeared")
			}
		}
		if len(diffs) > 0 {
			return fmt.Errorf("drift after applying the same manifest again (check %d):\n%s", i+1, strings.Join(diffs, "\n"))
		}
	}
	s.progress("GitOps: the same manifest applied twice more; the XR and %d composed objects kept their specs over %d reconciles", len(before)-1, reconciles)
	return nil
}

// snapshot maps each object (the XR and what it composed) to its spec, or
// data for a Secret, and its generation.
func (s *Stack) snapshot(ctx context.Context, name string) (map[string]string, error) {
	xr, err := s.XR(ctx, name)
	if err != nil {
		return nil, err
	}
	composed, err := s.Composed(ctx, xr)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, o := range append([]*unstructured.Unstructured{xr}, composed...) {
		v := o.Object["spec"]
		if o.GetKind() == "Secret" {
			v = o.Object["data"]
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[o.GetKind()+" "+o.GetName()] = fmt.Sprintf("generation %d %s", o.GetGeneration(), b)
	}
	return out, nil
}

// chartRepo serves a chart folder as a Helm repository on loopback, and
// returns its URL and the chart's version.
func (s *Stack) chartRepo(dir string) (string, string, error) {
	var meta struct {
		Name       string `json:"name"`
		Version    string `json:"version"`
		AppVersion string `json:"appVersion"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "Chart.yaml")) //nolint:gosec // G304: the repository's test chart.
	if err != nil {
		return "", "", err
	}
	if err := yaml.Unmarshal(b, &meta); err != nil {
		return "", "", err
	}
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p) //nolint:gosec // G304: the repository's test chart.
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if err := tw.WriteHeader(&tar.Header{Name: meta.Name + "/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = gz.Close()
	}
	if err != nil {
		return "", "", fmt.Errorf("cannot package the chart: %w", err)
	}
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", err
	}
	base := "http://" + l.Addr().String()
	sum := sha256.Sum256(tgz.Bytes())
	file := fmt.Sprintf("%s-%s.tgz", meta.Name, meta.Version)
	index := fmt.Sprintf(`apiVersion: v1
entries:
  %s:
  - apiVersion: v2
    name: %s
    version: %s
    appVersion: %s
    digest: %s
    created: "2026-11-27T00:00:00Z"
    urls: [%s/%s]
generated: "2026-11-27T00:00:00Z"
`, meta.Name, meta.Name, meta.Version, meta.AppVersion, hex.EncodeToString(sum[:]), base, file)
	mux := http.NewServeMux()
	mux.HandleFunc("/index.yaml", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(index)) })
	mux.HandleFunc("/"+file, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(tgz.Bytes()) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	s.onClose(func() { _ = srv.Close() })
	return base, meta.Version, nil
}

// volumes makes the PersistentVolumes a cluster's pods claim, each bound
// ahead to its claim: the test ground has no provisioner.
func (s *Stack) volumes(ctx context.Context, cluster string, n int) error {
	for i := 0; i < n; i++ {
		claim := fmt.Sprintf("qdrant-storage-%s-%d", cluster, i)
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: AppNamespace + "-" + claim},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName:              storageClass,
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
				PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + claim}},
				ClaimRef:                      &corev1.ObjectReference{Namespace: AppNamespace, Name: claim},
			},
		}
		if err := s.Kube.Create(ctx, pv); err != nil && !kerrors.IsAlreadyExists(err) {
			return fmt.Errorf("cannot create PersistentVolume %s: %w", pv.Name, err)
		}
	}
	return nil
}

// S3 is a client of the test ground's S3 server.
func (s *Stack) S3() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Env["S3_ENDPOINT"]), Region: s.Env["S3_REGION"], UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s.Env["S3_ACCESS_KEY"], s.Env["S3_SECRET_KEY"], ""),
	})
}

func (s *Stack) createBucket(ctx context.Context, name string) error {
	if _, err := s.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		return fmt.Errorf("cannot create bucket %s: %w", name, err)
	}
	return nil
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func statusSummary(o *unstructured.Unstructured) string {
	if o == nil {
		return "(none)"
	}
	st, _ := o.Object["status"].(map[string]any)
	out := map[string]any{}
	for k, v := range st {
		if k != "conditions" {
			out[k] = v
		}
	}
	b, _ := json.Marshal(out)
	return string(b)
}
