package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"sigs.k8s.io/yaml"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files of the render tests")

// tool finds a program cluster/build.sh built, skipping the test without it
// (but failing in CI, CI set to anything, which builds them). Under -short
// ('make test-unit') the tests that need one are skipped.
func tool(t *testing.T, name, file string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs %s, built by 'make tools'; skipped under -short", name)
	}
	out, err := exec.CommandContext(t.Context(), "../../cluster/build.sh", "--path", name).Output()
	p := filepath.Join(strings.TrimSpace(string(out)), file)
	if _, serr := os.Stat(p); err != nil || serr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not built (cluster/build.sh %s)", name, name)
		}
		t.Skipf("%s is not built; run 'make tools'", name)
	}
	return p
}

// serve runs the function on a loopback port, as 'crossplane render' expects
// of a Development runtime.
func serve(t *testing.T, f *Function) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	fnv1.RegisterFunctionRunnerServiceServer(s, f)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	return l.Addr().String()
}

// render runs the real crossplane CLI with Crossplane core as render engine,
// on the example XR and the package's Composition.
func render(t *testing.T, addr string, observed, required string) []byte {
	t.Helper()
	return renderWith(t, addr, "testdata/render/xr.yaml", "../../package/configuration/composition.yaml", observed, required)
}

func renderWith(t *testing.T, addr, xr, composition, observed, required string) []byte {
	t.Helper()
	cli, core := tool(t, "crossplane-cli", "crossplane"), tool(t, "crossplane-core", "crossplane")
	args := []string{"composition", "render", xr, composition, "testdata/render/functions.yaml",
		"--crossplane-binary=" + core, "-r", "-x", "-a", "render.crossplane.io/runtime-development-target=" + addr}
	if observed != "" {
		args = append(args, "-o", observed)
	}
	if required != "" {
		args = append(args, "-e", required)
	}
	cmd := exec.CommandContext(t.Context(), cli, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("crossplane composition render: %v\n%s", err, stderr.String())
	}
	return out
}

// validate checks rendered objects against the real CRDs of provider-helm,
// provider-upjet-aws, this project's provider and its XRD.
func validate(t *testing.T, rendered []byte) {
	t.Helper()
	cli := tool(t, "crossplane-cli", "crossplane")
	helm := filepath.Dir(tool(t, "provider-helm-crds", "helm.m.crossplane.io_releases.yaml"))
	aws := filepath.Dir(tool(t, "provider-aws-crds", "s3.aws.m.upbound.io_buckets.yaml"))
	ext := t.TempDir()
	for _, dir := range []string{helm, aws, "../../package/provider/crds", "../../package/configuration"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, f := range files {
			if strings.HasSuffix(f, "composition.yaml") {
				continue
			}
			b, err := os.ReadFile(f) //nolint:gosec // Test fixtures.
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(ext, filepath.Base(dir)+"-"+filepath.Base(f)), b, 0o600); err != nil { //nolint:gosec // G703: a file in the test's own t.TempDir(), named after a fixture.
				t.Fatal(err)
			}
		}
	}
	// Function results are not resources.
	var keep []string
	for _, doc := range strings.Split(string(rendered), "\n---\n") {
		if !strings.Contains(doc, "kind: Result") && strings.TrimSpace(doc) != "" && strings.TrimSpace(doc) != "---" {
			keep = append(keep, doc)
		}
	}
	res := filepath.Join(t.TempDir(), "rendered.yaml")
	if err := os.WriteFile(res, []byte(strings.Join(keep, "\n---\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	// Crossplane's own schemas come from the core we built, placed where the
	// CLI caches them, so that it downloads nothing.
	core := filepath.Dir(tool(t, "crossplane-core", "crossplane"))
	cache := t.TempDir()
	img := "crossplane/crossplane:" + filepath.Base(core)[len("crossplane-core-"):]
	pkgDir := filepath.Join(cache, strings.ReplaceAll(img, ":", "@"))
	if err := os.MkdirAll(pkgDir, 0o750); err != nil {
		t.Fatal(err)
	}
	var pkg bytes.Buffer
	crds, _ := filepath.Glob(filepath.Join(core, "crds", "*.yaml"))
	for _, f := range crds {
		b, err := os.ReadFile(f) //nolint:gosec // Built by cluster/build.sh.
		if err != nil {
			t.Fatal(err)
		}
		pkg.Write(b)
		pkg.WriteString("\n---\n")
	}
	if err := os.WriteFile(filepath.Join(pkgDir, "package.yaml"), pkg.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), cli, "resource", "validate", ext, res, "--skip-success-results", "--cache-dir", cache, "--crossplane-image", img)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "0 failure cases") {
		t.Errorf("crossplane resource validate: %v\n%s", err, out)
	}
}

// normalize orders the render's Result documents, which Crossplane emits in
// map order, so that golden files compare stably.
func normalize(out []byte) []byte {
	var docs, results []string
	for _, d := range strings.Split(strings.TrimPrefix(string(out), "---\n"), "\n---\n") {
		d = strings.TrimSpace(d)
		if strings.Contains(d, "kind: Result") {
			results = append(results, d)
			continue
		}
		docs = append(docs, d)
	}
	sort.Strings(results)
	return []byte("---\n" + strings.Join(append(docs, results...), "\n---\n") + "\n")
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	got = normalize(got)
	p := filepath.Join("testdata", "golden", name+".yaml")
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p) //nolint:gosec // Test fixtures.
	if err != nil {
		t.Fatalf("no golden file (run the test with -update): %v", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("render output differs from %s (run with -update after checking the change):\n%s", p, diffLines(string(want), string(got)))
	}
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y))
		}
		if len(out) > 20 {
			break
		}
	}
	return strings.Join(out, "\n")
}

func TestRenderGolden(t *testing.T) {
	addr := serve(t, &Function{log: logging.NewNopLogger(), random: bytes.NewReader(bytes.Repeat([]byte{0x42}, 64))})
	cases := map[string]struct {
		reason             string
		observed, required string
	}{
		"first-reconcile":           {reason: "Nothing exists yet: everything is composed, nothing is ready."},
		"observed-not-ready":        {reason: "Everything observed, pods not ready: the XR stays Pending.", observed: "testdata/render/observed-not-ready.yaml", required: "testdata/render/required-not-ready.yaml"},
		"observed-everything-ready": {reason: "Everything ready: the XR is Running and Ready.", observed: "testdata/render/observed-ready.yaml", required: "testdata/render/required-ready.yaml"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out := render(t, addr, tc.observed, tc.required)
			golden(t, name, out)
			validate(t, out)
		})
	}
}

func TestRenderKeepsTheGeneratedKey(t *testing.T) {
	// Two renders with different randomness: the second, given the first's
	// Secret as observed, composes the same key.
	first := render(t, serve(t, &Function{log: logging.NewNopLogger(), random: bytes.NewReader(bytes.Repeat([]byte{1}, 64))}), "", "")
	keySecret := findDoc(t, first, "crossplane.io/composition-resource-name: api-key")
	observed := filepath.Join(t.TempDir(), "observed.yaml")
	if err := os.WriteFile(observed, []byte(keySecret), 0o600); err != nil {
		t.Fatal(err)
	}
	second := render(t, serve(t, &Function{log: logging.NewNopLogger(), random: bytes.NewReader(bytes.Repeat([]byte{2}, 64))}), observed, "")
	k1, k2 := secretData(t, keySecret)["api-key"], secretData(t, findDoc(t, second, "crossplane.io/composition-resource-name: api-key"))["api-key"]
	if k1 == "" || k1 != k2 {
		t.Errorf("the generated API key changed between renders: %q then %q", k1, k2)
	}
	c1 := secretData(t, findDoc(t, first, "crossplane.io/composition-resource-name: connection"))["apiKey"]
	c2 := secretData(t, findDoc(t, second, "crossplane.io/composition-resource-name: connection"))["apiKey"]
	if c1 != k1 || c2 != k1 {
		t.Errorf("the connection Secret's key does not follow the generated one")
	}
}

func findDoc(t *testing.T, out []byte, marker string) string {
	t.Helper()
	for _, doc := range strings.Split(string(out), "\n---\n") {
		if strings.Contains(doc, marker) {
			return doc
		}
	}
	t.Fatalf("no rendered object with %q in:\n%s", marker, out)
	return ""
}

func secretData(t *testing.T, doc string) map[string]string {
	t.Helper()
	var s struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal([]byte(doc), &s); err != nil {
		t.Fatal(err)
	}
	return s.Data
}
