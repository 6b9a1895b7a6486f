package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/crossplane/function-sdk-go/logging"
)

// TestEndToEndWithProviderHelm composes a QdrantCluster, applies the result to
// a real control plane where provider-helm (v1.3.0, out of cluster) installs
// the chart from a loopback chart repository, and kube-controller-manager,
// kube-scheduler and kwok make its pods ready; a second render, given what
// the apiserver then holds, reports the cluster Running. provider-helm binds
// every interface, so the whole test runs in a private network namespace.
func TestEndToEndWithProviderHelm(t *testing.T) {
	if os.Getenv("QDRANTOPS_E2E") != "1" {
		t.Skip("starts a control plane and provider-helm; 'make test' sets QDRANTOPS_E2E=1")
	}
	if os.Getenv("E2E_IN_NETNS") == "" {
		cmd := exec.CommandContext(t.Context(), "unshare", "-n", "--", os.Args[0], "-test.run=^TestEndToEndWithProviderHelm$", "-test.v", "-test.count=1") //nolint:gosec // G702: os.Args[0] is this test binary, run again in a network namespace.
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

	// provider-helm, its CRDs, and a ClusterProviderConfig that reads the
	// test ground's kubeconfig.
	helmCRDs := filepath.Dir(tool(t, "provider-helm-crds", "helm.m.crossplane.io_releases.yaml"))
	kubectl("", "apply", "-f", helmCRDs)
	kubectl("", "wait", "--for=condition=Established", "crd/releases.helm.m.crossplane.io", "crd/clusterproviderconfigs.helm.m.crossplane.io", "--timeout=60s")
	kubectl(`apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: helm.m.crossplane.io/v1beta1
kind: ClusterProviderConfig
metadata: {name: default}
spec:
  credentials:
    source: Filesystem
    fs: {path: `+kubeconfig+`}
`, "apply", "-f", "-")
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
	withInput := strings.Replace(string(base), "      name: function-compose-qdrant\n",
		"      name: function-compose-qdrant\n    input:\n      apiVersion: compose.qdrantops.io/v1alpha1\n      kind: Input\n      chart: {repository: \""+repo+"\", version: 0.1.0}\n", 1)
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

	// Second reconcile, given the observed Release and StatefulSet.
	observed := filepath.Join(state, "observed.yaml")
	// Everything composed, as Crossplane observes it: annotated with its
	// name in the pipeline.
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
	if err := os.WriteFile(observed, []byte(strings.Join(docs, "---\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	required := filepath.Join(state, "required.yaml")
	if err := os.WriteFile(required, []byte(kubectl("", "get", "statefulset", "search", "-n", "team-a", "-o", "yaml")), 0o600); err != nil {
		t.Fatal(err)
	}
	second := renderWith(t, addr, "testdata/render/xr-e2e.yaml", composition, observed, required)
	var xr struct {
		Status map[string]any `json:"status"`
	}
	if err := yaml.Unmarshal([]byte(strings.Split(strings.TrimPrefix(string(second), "---\n"), "\n---\n")[0]), &xr); err != nil {
		t.Fatal(err)
	}
	if xr.Status["readyReplicas"] != float64(3) || xr.Status["phase"] != "Running" || xr.Status["version"] != "1.19.0" {
		t.Errorf("second render: want readyReplicas 3, phase Running, version 1.19.0; got %v", xr.Status)
	}
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
