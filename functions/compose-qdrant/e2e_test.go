package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/crossplane/function-sdk-go/logging"

	"github.com/qdrantops/qdrantops/cluster/testenv"
)

// TestEndToEndWithProviderHelm composes a QdrantCluster, applies the result to
// a real control plane where provider-helm (v1.3.0, out of cluster) installs
// the chart from a loopback chart repository, and kube-controller-manager,
// kube-scheduler and kwok make its pods ready; a second render, given what
// the apiserver then holds, reports the cluster Running. The chart's
// ServiceMonitor authorizes with the API key. Growing the volumes is refused
// while the StatefulSet exists, without failing the Release (and a Release
// failed by an earlier growth deploys again), and done once it is deleted by
// hand. provider-helm installs with the namespaced ProviderConfig of team-a
// only (a ServiceAccount with rights in team-a; no ClusterProviderConfig):
// that identity can reach nothing outside team-a, and a forged Helm release
// record, which a tenant can write, does not make the Release's deletion
// delete another namespace's ConfigMap. provider-helm binds every
// interface, so the whole test runs in a private network namespace (and
// mount namespace, for its chart cache).
func TestEndToEndWithProviderHelm(t *testing.T) {
	if os.Getenv("QDRANTOPS_E2E") != "1" {
		t.Skip("starts a control plane and provider-helm; 'make test' sets QDRANTOPS_E2E=1")
	}
	if os.Getenv("E2E_IN_NETNS") == "" {
		cmd := exec.CommandContext(t.Context(), "unshare", "-n", "-m", "--", os.Args[0], "-test.run=^TestEndToEndWithProviderHelm$", "-test.v", "-test.count=1") //nolint:gosec // G702: os.Args[0] is this test binary, run again in a network namespace.
		cmd.Env = append(os.Environ(), "E2E_IN_NETNS=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the test in its network namespace failed: %v\n%s", err, out)
		}
		t.Logf("in its network namespace:\n%s", tailLines(string(out), 15))
		return
	}
	if out, err := exec.CommandContext(t.Context(), "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("cannot bring up loopback: %v\n%s", err, out)
	}
	// provider-helm caches charts in /tmp/charts by name and version, across
	// runs: an empty one of this mount namespace's own makes it install the
	// test chart as it is now.
	if err := os.MkdirAll("/tmp/charts", 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(t.Context(), "mount", "-t", "tmpfs", "tmpfs", "/tmp/charts").CombinedOutput(); err != nil {
		t.Fatalf("cannot mount a private chart cache: %v\n%s", err, out)
	}

	state := t.TempDir()
	testbed := func(args ...string) {
		// Not t.Context(): "down" runs in a cleanup, when that is cancelled.
		cmd := exec.CommandContext(context.Background(), "../../cluster/testbed.sh", args...)
		cmd.Env = append(os.Environ(), "TESTBED="+state)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("testbed.sh %v: %v\n%s", args, err, out)
		}
	}
	t.Cleanup(func() { testbed("down") })
	testbed("up")
	kubeconfig := filepath.Join(state, "kubeconfig")
	kubectlBin := filepath.Join(filepath.Dir(tool(t, "kubernetes", "kubectl")), "kubectl")
	kubectl := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), kubectlBin, append([]string{"--kubeconfig", kubeconfig, "--cache-dir", filepath.Join(state, "kube-cache")}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	// The ServiceMonitor kind, for Helm to install the chart's one (a
	// minimal CRD: only the Prometheus Operator reads its fields), and
	// volumes for the chart's claims in a class that allows expansion: the
	// test ground has no provisioner.
	kubectl(serviceMonitorCRD, "apply", "-f", "-")
	kubectl("", "wait", "--for=condition=Established", "crd/servicemonitors.monitoring.coreos.com", "--timeout=60s")
	kubectl(volumes(state, 3), "apply", "-f", "-")

	// provider-helm, its CRDs, and the namespaced ProviderConfig "default"
	// of team-a a platform admin creates: a kubeconfig of a ServiceAccount
	// with rights in team-a only. There is no ClusterProviderConfig: the
	// chart is installed with namespace rights alone.
	helmCRDs := filepath.Dir(tool(t, "provider-helm-crds", "helm.m.crossplane.io_releases.yaml"))
	kubectl("", "apply", "-f", helmCRDs)
	kubectl("", "wait", "--for=condition=Established", "crd/releases.helm.m.crossplane.io", "crd/providerconfigs.helm.m.crossplane.io", "--timeout=60s")
	kubectl("apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: team-b}\n", "apply", "-f", "-")
	adminConfig, admin := adminClient(t, kubeconfig)
	tenantHelm(t, adminConfig, admin, "team-a")
	// Not t.Context(): the provider runs until the cleanup below stops it.
	provider := exec.CommandContext(context.Background(), tool(t, "provider-helm", "provider"), "--poll", "5s", "--sync", "30s")
	provider.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	plog, _ := os.Create(filepath.Join(state, "provider-helm.log")) //nolint:gosec // G304: a file in the test's own t.TempDir().
	provider.Stdout, provider.Stderr = plog, plog
	if err := provider.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = provider.Process.Kill(); _ = provider.Wait() })

	repo := chartRepo(t, "testdata/chart/qdrant")
	composition := filepath.Join(state, "composition.yaml")
	base, err := os.ReadFile("../../package/configuration/composition.yaml")
	if err != nil {
		t.Fatal(err)
	}
	withInput := strings.Replace(string(base), "      name: qdrantops-function-compose-qdrant\n",
		"      name: qdrantops-function-compose-qdrant\n    input:\n      apiVersion: compose.qdrantops.io/v1alpha1\n      kind: Input\n      chart: {repository: \""+repo+"\", version: 0.1.0}\n", 1)
	if err := os.WriteFile(composition, []byte(withInput), 0o600); err != nil { //nolint:gosec // G703: a file in the test's own t.TempDir().
		t.Fatal(err)
	}
	addr := serve(t, &Function{log: logging.NewNopLogger(), random: bytes.NewReader(bytes.Repeat([]byte{7}, 64))})

	// First reconcile: apply what the function composes, as Crossplane would.
	first := renderWith(t, addr, "testdata/render/xr-e2e.yaml", composition, "", "")
	kubectl(composedDocs(t, first), "apply", "-f", "-")

	// provider-helm installs the chart; the test ground runs its pods.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		out, _ := exec.CommandContext(t.Context(), kubectlBin, "--kubeconfig", kubeconfig, "get", "statefulset", "search", "-n", "team-a", "-o", "jsonpath={.status.readyReplicas}").Output()
		if string(out) == "3" {
			break
		}
		if time.Now().After(deadline) {
			logb, _ := os.ReadFile(filepath.Join(state, "provider-helm.log")) //nolint:gosec // G304: a file in the test's own t.TempDir().
			t.Fatalf("the chart's StatefulSet never had 3 ready replicas (got %q)\nreleases:\n%s\nprovider-helm log:\n%s", out,
				kubectl("", "get", "releases.helm.m.crossplane.io", "-A", "-o", "yaml"), tailLines(string(logb), 30))
		}
		time.Sleep(time.Second)
	}
	ready := func() bool {
		out := kubectl("", "get", "releases.helm.m.crossplane.io", "search", "-n", "team-a", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
		return out == "True"
	}
	for !ready() {
		if time.Now().After(deadline) {
			t.Fatal("the Release never became Ready")
		}
		time.Sleep(time.Second)
	}

	// A tenant can forge Helm's release records (Secrets in team-a), and
	// provider-helm acts on them with the identity the Release names: it
	// must reach nothing outside team-a.
	identityConfinedTo(t, admin, "team-a", "search", "team-b")

	// The chart's ServiceMonitor scrapes /metrics with the API key Qdrant
	// checks.
	var sm struct {
		Spec struct {
			Endpoints []map[string]any `json:"endpoints"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(kubectl("", "get", "servicemonitors.monitoring.coreos.com", "search", "-n", "team-a", "-o", "yaml")), &sm); err != nil {
		t.Fatal(err)
	}
	wantAuth := map[string]any{"type": "Bearer", "credentials": map[string]any{"name": "search-api-key", "key": "api-key"}}
	if len(sm.Spec.Endpoints) != 1 || !cmp.Equal(wantAuth, sm.Spec.Endpoints[0]["authorization"]) {
		t.Errorf("the ServiceMonitor's endpoints: want one, authorized by %v; got %v", wantAuth, sm.Spec.Endpoints)
	}

	// observedState writes everything composed, as Crossplane observes it:
	// annotated with its name in the pipeline.
	observedState := func() string {
		var docs []string
		for name, obj := range map[string][]string{
			"release":    {"releases.helm.m.crossplane.io", "search"},
			"api-key":    {"secret", "search-api-key"},
			"connection": {"secret", "search-connection"},
		} {
			var o map[string]any
			if err := yaml.Unmarshal([]byte(kubectl("", "get", obj[0], obj[1], "-n", "team-a", "-o", "yaml")), &o); err != nil {
				t.Fatal(err)
			}
			md := o["metadata"].(map[string]any)
			ann, _ := md["annotations"].(map[string]any)
			if ann == nil {
				ann = map[string]any{}
			}
			ann["crossplane.io/composition-resource-name"] = name
			md["annotations"] = ann
			b, err := yaml.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, string(b))
		}
		p := filepath.Join(state, "observed.yaml")
		if err := os.WriteFile(p, []byte(strings.Join(docs, "---\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// requiredState writes the chart's StatefulSet, the function's required
	// resource, or returns "" when there is none.
	requiredState := func() string {
		out, err := exec.CommandContext(t.Context(), kubectlBin, "--kubeconfig", kubeconfig, "get", "statefulset", "search", "-n", "team-a", "-o", "yaml", "--ignore-not-found").Output()
		if err != nil {
			t.Fatalf("kubectl get statefulset: %v", err)
		}
		if len(out) == 0 {
			return ""
		}
		p := filepath.Join(state, "required.yaml")
		if err := os.WriteFile(p, out, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Second reconcile, given the observed Release and StatefulSet.
	second := renderWith(t, addr, "testdata/render/xr-e2e.yaml", composition, observedState(), requiredState())
	xr := renderedXR(t, second)
	if xr.Status["readyReplicas"] != float64(3) || xr.Status["phase"] != "Running" || xr.Status["version"] != "1.19.0" {
		t.Errorf("second render: want readyReplicas 3, phase Running, version 1.19.0; got %v", xr.Status)
	}

	// Growing the volumes while the StatefulSet exists: the function keeps
	// the size, so the Release stays deployed, and the XR says how to grow.
	grown := filepath.Join(state, "xr-grown.yaml")
	base, err = os.ReadFile("testdata/render/xr-e2e.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(grown, []byte(strings.Replace(string(base), "size: 1Gi", "size: 2Gi", 1)), 0o600); err != nil { //nolint:gosec // G703: a file in the test's own t.TempDir().
		t.Fatal(err)
	}
	third := renderWith(t, addr, grown, composition, observedState(), requiredState())
	if c := renderedXR(t, third).condition(typePersistenceResized); c["status"] != "False" || c["reason"] != reasonGrowthRefused ||
		!strings.Contains(c["message"], "kubectl delete statefulset search --cascade=orphan") {
		t.Errorf("growing with the StatefulSet in place: want PersistenceResized False/%s saying how to grow, got %v", reasonGrowthRefused, c)
	}
	kubectl(composedDocs(t, third), "apply", "-f", "-")
	deadline = time.Now().Add(3 * time.Minute)
	settled(t, kubectl, deadline)
	if got := claimTemplateSize(t, kubectl); got != "1Gi" {
		t.Errorf("the StatefulSet's claim template asks for %s after a refused growth, want 1Gi", got)
	}

	// A Release an earlier function left Failed by asking it to grow: the
	// function asks for the StatefulSet's size again, and provider-helm's
	// next upgrade deploys it.
	kubectl("", "patch", "releases.helm.m.crossplane.io", "search", "-n", "team-a", "--type=merge", "-p", `{"spec":{"forProvider":{"values":{"persistence":{"size":"2Gi"}}}}}`)
	deadline = time.Now().Add(3 * time.Minute)
	for kubectl("", "get", "releases.helm.m.crossplane.io", "search", "-n", "team-a", "-o", "jsonpath={.status.atProvider.state}") != "failed" {
		if time.Now().After(deadline) {
			t.Fatal("a Release asking to grow the StatefulSet's claims never failed: the test does not show the failure it guards against")
		}
		time.Sleep(time.Second)
	}
	repaired := renderWith(t, addr, grown, composition, observedState(), requiredState())
	if c := renderedXR(t, repaired).condition(typePersistenceResized); c["status"] != "False" || c["reason"] != reasonGrowthRefused {
		t.Errorf("a failed growth: want PersistenceResized False/%s, got %v", reasonGrowthRefused, c)
	}
	kubectl(composedDocs(t, repaired), "apply", "-f", "-")
	settled(t, kubectl, deadline)

	// Growing by hand, as the condition says: expand each claim, delete the
	// StatefulSet leaving its pods, and the next reconcile grows the Release,
	// whose upgrade creates the StatefulSet anew at the new size; it adopts
	// the running pods.
	pods := kubectl("", "get", "pods", "-n", "team-a", "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.uid} {end}")
	for i := range 3 {
		kubectl("", "patch", "pvc", sprintf("qdrant-storage-search-%d", i), "-n", "team-a", "--type=merge", "-p", `{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}`)
	}
	kubectl("", "delete", "statefulset", "search", "-n", "team-a", "--cascade=orphan", "--wait")
	fourth := renderWith(t, addr, grown, composition, observedState(), requiredState())
	kubectl(composedDocs(t, fourth), "apply", "-f", "-")
	deadline = time.Now().Add(3 * time.Minute)
	settled(t, kubectl, deadline)
	for claimTemplateSize(t, kubectl) != "2Gi" {
		if time.Now().After(deadline) {
			t.Fatalf("the StatefulSet never came back asking for 2Gi")
		}
		time.Sleep(time.Second)
	}
	for kubectl("", "get", "statefulset", "search", "-n", "team-a", "-o", "jsonpath={.status.readyReplicas}") != "3" {
		if time.Now().After(deadline) {
			t.Fatalf("the new StatefulSet never had 3 ready replicas")
		}
		time.Sleep(time.Second)
	}
	if after := kubectl("", "get", "pods", "-n", "team-a", "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.uid} {end}"); after != pods {
		t.Errorf("the pods changed while the StatefulSet was recreated: before %q, after %q", pods, after)
	}
	fifth := renderWith(t, addr, grown, composition, observedState(), requiredState())
	if c := renderedXR(t, fifth).condition(typePersistenceResized); c["status"] != "True" || c["reason"] != reasonSizeApplied {
		t.Errorf("after growing by hand: want PersistenceResized True/%s, got %v", reasonSizeApplied, c)
	}

	forgedRecordStaysHome(t, admin, kubectl, "team-a", "search", "team-b")
}

// forgedRecordStaysHome plays the attack a tenant of namespace ns can make on
// the Release ns/name: it writes a newer Helm release record (a Secret in its
// own namespace, which ClusterRole admin lets it write) whose manifest also
// lists a ConfigMap of namespace other, then deletes the QdrantCluster (here:
// the Release). provider-helm's uninstall deletes what the latest record
// lists, with the Release's identity; the ConfigMap must survive.
func forgedRecordStaysHome(t *testing.T, admin client.Client, kubectl func(string, ...string) string, ns, name, other string) {
	t.Helper()
	ctx := t.Context()
	victim := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "not-the-tenants"}, Data: map[string]string{"owner": other}}
	if err := admin.Create(ctx, victim); err != nil {
		t.Fatal(err)
	}

	// The latest record, as Helm wrote it: base64 of gzipped JSON.
	records := &corev1.SecretList{}
	if err := admin.List(ctx, records, client.InNamespace(ns), client.MatchingLabels{"owner": "helm", "name": name}); err != nil {
		t.Fatal(err)
	}
	var latest *corev1.Secret
	version := 0
	for i := range records.Items {
		var v int
		if _, err := fmt.Sscan(records.Items[i].Labels["version"], &v); err == nil && v > version {
			latest, version = &records.Items[i], v
		}
	}
	if latest == nil {
		t.Fatalf("no Helm release record of %s in %s", name, ns)
	}
	gz, err := base64.StdEncoding.DecodeString(string(latest.Data["release"]))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	rel := map[string]any{}
	if err := json.Unmarshal(raw, &rel); err != nil {
		t.Fatal(err)
	}
	rel["version"] = version + 1
	rel["manifest"] = sprintf("%v\n---\n# Source: forged.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\n", rel["manifest"], victim.Name, other)
	raw, err = json.Marshal(rel)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil || zw.Close() != nil {
		t.Fatalf("cannot compress the forged record: %v", err)
	}
	forged := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sprintf("sh.helm.release.v1.%s.v%d", name, version+1), Labels: map[string]string{}},
		Type:       latest.Type,
		Data:       map[string][]byte{"release": []byte(base64.StdEncoding.EncodeToString(buf.Bytes()))},
	}
	for k, v := range latest.Labels {
		forged.Labels[k] = v
	}
	forged.Labels["version"] = sprintf("%d", version+1)
	if err := admin.Create(ctx, forged); err != nil {
		t.Fatal(err)
	}

	// Deleting the Release makes provider-helm uninstall the latest record.
	kubectl("", "delete", "releases.helm.m.crossplane.io", name, "-n", ns, "--wait=false")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		msg := kubectl("", "get", "releases.helm.m.crossplane.io", name, "-n", ns, "--ignore-not-found", "-o", "jsonpath={.status.conditions[?(@.type=='Synced')].message}")
		gone := kubectl("", "get", "releases.helm.m.crossplane.io", name, "-n", ns, "--ignore-not-found", "-o", "name") == ""
		// The uninstall has run once the Release is gone (it succeeded)
		// or says the delete failed (a part of it was forbidden).
		if gone || strings.Contains(msg, "failed to delete release") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("provider-helm never uninstalled the Release %s/%s (Synced: %q)", ns, name, msg)
		}
		time.Sleep(time.Second)
	}
	if err := admin.Get(ctx, client.ObjectKeyFromObject(victim), &corev1.ConfigMap{}); err != nil {
		t.Errorf("a forged release record of %s/%s reached ConfigMap %s/%s: %v", ns, name, other, victim.Name, err)
	}
}

// adminClient is a client of the test ground's administrator.
func adminClient(t *testing.T, kubeconfig string) (*rest.Config, client.Client) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, c
}

// tenantHelm creates what a platform admin creates for provider-helm in a
// tenant namespace: a ServiceAccount bound to ClusterRole admin (and
// ServiceMonitors, which the chart creates) in ns, and the ProviderConfig
// "default" holding its kubeconfig. kube-controller-manager fills ClusterRole
// admin shortly after the test ground starts, so it is tried until then.
func tenantHelm(t *testing.T, cfg *rest.Config, admin client.Client, ns string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		kc, err := testenv.NamespaceKubeconfig(t.Context(), cfg, admin, ns, testenv.ServiceMonitorRule)
		if err == nil {
			if err := testenv.HelmProviderConfig(t.Context(), admin, ns, kc); err != nil {
				t.Fatal(err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
	}
}

// identityConfinedTo follows the Release ns/name's providerConfigRef to the
// credentials provider-helm installs it with, as provider-helm v1.3.0 reads
// them (a namespaced ProviderConfig's Secret in the Release's namespace, a
// ClusterProviderConfig's Secret or file), and checks that they can create
// neither a ClusterRoleBinding (what a forged release record's hook would
// ask for) nor a ConfigMap in namespace other (what a forged record's
// manifest could name to delete), while they can in ns.
func identityConfinedTo(t *testing.T, admin client.Client, ns, name, other string) {
	t.Helper()
	ctx := t.Context()
	get := func(kind, ns, name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("helm.m.crossplane.io/v1beta1")
		u.SetKind(kind)
		if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
			t.Fatalf("cannot read %s %s/%s: %v", kind, ns, name, err)
		}
		return u
	}
	rel := get("Release", ns, name)
	ref, _, _ := unstructured.NestedStringMap(rel.Object, "spec", "providerConfigRef")
	pcNamespace, secretNamespace := ns, ns
	if ref["kind"] == "ClusterProviderConfig" {
		pcNamespace = ""
	}
	pc := get(ref["kind"], pcNamespace, ref["name"])
	source, _, _ := unstructured.NestedString(pc.Object, "spec", "credentials", "source")
	sref, _, _ := unstructured.NestedStringMap(pc.Object, "spec", "credentials", "secretRef")
	var kc []byte
	switch source {
	case "Secret":
		if pcNamespace == "" {
			secretNamespace = sref["namespace"]
		}
		s := &corev1.Secret{}
		if err := admin.Get(ctx, client.ObjectKey{Namespace: secretNamespace, Name: sref["name"]}, s); err != nil {
			t.Fatal(err)
		}
		kc = s.Data[sref["key"]]
	case "Filesystem":
		path, _, _ := unstructured.NestedString(pc.Object, "spec", "credentials", "fs", "path")
		b, err := os.ReadFile(path) //nolint:gosec // G304: the file a ProviderConfig of this test names.
		if err != nil {
			t.Fatal(err)
		}
		kc = b
	default:
		t.Fatalf("the Release %s/%s installs with %s %q, whose credentials come from %q: this test cannot tell what they may do", ns, name, ref["kind"], ref["name"], source)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	helm, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	probe := func(ns string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "forged-release-probe"}}
	}
	if err := helm.Create(ctx, probe(ns)); err != nil {
		t.Errorf("provider-helm's identity for %s/%s cannot create a ConfigMap in %s, where it installs the chart: %v", ns, name, ns, err)
	}
	for what, o := range map[string]client.Object{
		"a ConfigMap in namespace " + other: probe(other),
		"a ClusterRoleBinding": &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "forged-release-probe"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:serviceaccounts:" + ns}},
		},
	} {
		err := helm.Create(ctx, o)
		if err == nil {
			_ = admin.Delete(context.WithoutCancel(ctx), o)
		}
		if !kerrors.IsForbidden(err) {
			t.Errorf("provider-helm's identity for the Release %s/%s (%s %q) could create %s (err %v): a forged release record would act with it", ns, name, ref["kind"], ref["name"], what, err)
		}
	}
}

// renderedXRStatus is the XR of a render's output.
type renderedXRStatus struct {
	Status map[string]any `json:"status"`
}

func renderedXR(t *testing.T, out []byte) renderedXRStatus {
	t.Helper()
	var xr renderedXRStatus
	if err := yaml.Unmarshal([]byte(strings.Split(strings.TrimPrefix(string(out), "---\n"), "\n---\n")[0]), &xr); err != nil {
		t.Fatal(err)
	}
	return xr
}

// condition is the XR's condition of type typ: its status, reason and
// message.
func (x renderedXRStatus) condition(typ string) map[string]string {
	cs, _ := x.Status["conditions"].([]any)
	for _, c := range cs {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			return map[string]string{"status": sprintf("%v", m["status"]), "reason": sprintf("%v", m["reason"]), "message": sprintf("%v", m["message"])}
		}
	}
	return nil
}

// settled waits until provider-helm has reconciled the Release's latest
// spec, failing unless it is then deployed and Synced (a Helm upgrade
// Kubernetes refuses leaves it Synced=False and failed), and until it is
// Ready.
func settled(t *testing.T, kubectl func(string, ...string) string, deadline time.Time) {
	t.Helper()
	const q = `jsonpath={.metadata.generation} {.status.conditions[?(@.type=='Synced')].observedGeneration} {.status.conditions[?(@.type=='Synced')].status} {.status.conditions[?(@.type=='Ready')].status} {.status.atProvider.state}`
	for {
		f := strings.Fields(kubectl("", "get", "releases.helm.m.crossplane.io", "search", "-n", "team-a", "-o", q))
		if len(f) == 5 && f[0] == f[1] {
			if f[2] != "True" || f[4] != "deployed" {
				t.Fatalf("the Release is not deployed and Synced (Synced %s, state %s):\n%s", f[2], f[4],
					kubectl("", "get", "releases.helm.m.crossplane.io", "search", "-n", "team-a", "-o", "jsonpath={.status}"))
			}
			// Ready follows once the chart's objects are.
			if f[3] == "True" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("provider-helm did not reconcile the Release's generation %v", f)
		}
		time.Sleep(time.Second)
	}
}

func claimTemplateSize(t *testing.T, kubectl func(string, ...string) string) string {
	t.Helper()
	return kubectl("", "get", "statefulset", "search", "-n", "team-a", "--ignore-not-found", "-o", "jsonpath={.spec.volumeClaimTemplates[?(@.metadata.name=='qdrant-storage')].spec.resources.requests.storage}")
}

// serviceMonitorCRD is the Prometheus Operator's ServiceMonitor kind, reduced
// to what the apiserver needs to store one.
const serviceMonitorCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

// volumes are n PersistentVolumes of 5Gi in StorageClass expandable, which
// allows expansion: claims in it can be grown. Nothing provisions or
// expands volumes on the test ground; the claims bind to these.
func volumes(dir string, n int) string {
	docs := []string{`apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: expandable}
provisioner: qdrantops.io/none
allowVolumeExpansion: true
`}
	for i := range n {
		docs = append(docs, sprintf(`apiVersion: v1
kind: PersistentVolume
metadata: {name: volume-%d}
spec:
  storageClassName: expandable
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: %s/volume-%d}
`, i, dir, i))
	}
	return strings.Join(docs, "---\n")
}

// composedDocs returns the rendered composed resources, without the XR, the
// function's results, and owner references to an XR that is not there.
func composedDocs(t *testing.T, out []byte) string {
	t.Helper()
	var docs []string
	for _, d := range strings.Split(strings.TrimPrefix(string(out), "---\n"), "\n---\n") {
		if !strings.Contains(d, "crossplane.io/composition-resource-name") || strings.Contains(d, "kind: Result") {
			continue
		}
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(d), &obj); err != nil {
			t.Fatal(err)
		}
		if md, ok := obj["metadata"].(map[string]any); ok {
			delete(md, "ownerReferences")
		}
		b, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	if len(docs) != 3 {
		t.Fatalf("want the Release and two Secrets, got %d documents", len(docs))
	}
	return strings.Join(docs, "---\n")
}

// chartRepo serves a chart folder as a Helm repository on loopback.
func chartRepo(t *testing.T, dir string) string {
	t.Helper()
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	base := filepath.Base(dir)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p) //nolint:gosec // Test fixtures.
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if err := tw.WriteHeader(&tar.Header{Name: base + "/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil || tw.Close() != nil || gz.Close() != nil {
		t.Fatalf("cannot package chart: %v", err)
	}
	sum := sha256.Sum256(tgz.Bytes())
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	index := fmt.Sprintf(`apiVersion: v1
entries:
  qdrant:
  - apiVersion: v2
    name: qdrant
    version: 0.1.0
    appVersion: v1.19.0
    digest: %s
    created: "2026-11-27T00:00:00Z"
    urls: [%s/qdrant-0.1.0.tgz]
generated: "2026-11-27T00:00:00Z"
`, hex.EncodeToString(sum[:]), srv.URL)
	mux.HandleFunc("/index.yaml", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(index)) })
	mux.HandleFunc("/qdrant-0.1.0.tgz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(tgz.Bytes()) })
	return srv.URL
}

func tailLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
