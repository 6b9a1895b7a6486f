package examples_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	pkgmetav1 "github.com/crossplane/crossplane/apis/v2/pkg/meta/v1"

	"github.com/qdrantops/qdrantops/cluster/image"
)

// A built package: its image and the objects of its package.yaml.
type built struct {
	img  v1.Image
	meta *unstructured.Unstructured
	objs []*unstructured.Unstructured
}

// TestPackages builds the three packages as `make package` does, for this
// machine's architecture, and checks what a cluster would install: runtime
// images that run as non-root and are reproducible, metadata that Crossplane
// v2 resolves (fully qualified dependencies whose constraints the tested
// versions meet, a Composition naming the Function as Crossplane names it),
// and every example valid against the schemas the packages ship.
func TestPackages(t *testing.T) {
	out := t.TempDir()
	start := time.Now()
	cmd := exec.CommandContext(t.Context(), filepath.Join(env.Root, "cluster", "package.sh"), out, runtime.GOARCH)
	cmd.Dir = env.Root
	cmd.Env = append(os.Environ(), "XPKG_REGISTRY=ghcr.io/qdrantops", "VERSION=v0.1.0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cluster/package.sh: %v\n%s", err, stderr.String())
	}
	t.Logf("cluster/package.sh %s took %s", runtime.GOARCH, time.Since(start).Round(time.Second))

	pkgs := map[string]built{}
	for _, f := range []string{"provider-qdrantops-" + runtime.GOARCH, "function-compose-qdrant-" + runtime.GOARCH, "configuration-qdrantops"} {
		pkgs[f] = readPackage(t, filepath.Join(out, f+".xpkg"))
	}
	provider := pkgs["provider-qdrantops-"+runtime.GOARCH]
	function := pkgs["function-compose-qdrant-"+runtime.GOARCH]
	configuration := pkgs["configuration-qdrantops"]

	t.Run("RuntimeImages", func(t *testing.T) {
		for _, p := range []built{provider, function} {
			cf, err := p.img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.Config.User != "65532:65532" || cf.OS != "linux" || cf.Architecture != runtime.GOARCH || len(cf.Config.Entrypoint) != 1 {
				t.Errorf("%s: want a linux/%s image whose entrypoint runs as 65532:65532, got %s/%s user %q entrypoint %q",
					p.meta.GetName(), runtime.GOARCH, cf.OS, cf.Architecture, cf.Config.User, cf.Config.Entrypoint)
			}
		}
		// Build the function's runtime image again, here and now, and for
		// the other architecture: the digest package.sh built must come out
		// again, and the package must embed that image's layers.
		again, err := image.Build(t.Context(), image.Options{
			Dir: env.Root, Package: "./functions/compose-qdrant", Binary: "function", Arch: runtime.GOARCH,
			Labels: map[string]string{"org.opencontainers.image.source": image.Source},
		})
		if err != nil {
			t.Fatal(err)
		}
		d, err := again.Digest()
		if err != nil {
			t.Fatal(err)
		}
		built := regexp.MustCompile(`function-compose-qdrant linux/` + runtime.GOARCH + ` runtime image (sha256:[0-9a-f]{64})`).FindStringSubmatch(stderr.String())
		if built == nil || built[1] != d.String() {
			t.Errorf("Two builds of the function's image must give the same digest: package.sh said %q, built again %s", built, d)
		}
		if diff := cmp.Diff(layerDigests(t, again), layerDigests(t, function.img)[:2]); diff != "" {
			t.Errorf("The function package must embed its runtime image's layers: -want, +got:\n%s", diff)
		}

		other := "arm64"
		if runtime.GOARCH == "arm64" {
			other = "amd64"
		}
		img, err := image.Build(t.Context(), image.Options{Dir: env.Root, Package: "./functions/compose-qdrant", Binary: "function", Arch: other})
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != other || cf.Config.User != "65532:65532" {
			t.Errorf("want a linux/%s image run as 65532:65532, got %s user %q", other, cf.Architecture, cf.Config.User)
		}
	})

	t.Run("Metadata", func(t *testing.T) {
		checkDependencies(t, configuration.meta)
		checkFunctionRef(t, configuration)

		caps, _, _ := unstructured.NestedStringSlice(provider.meta.Object, "spec", "capabilities")
		if !pkgmetav1.CapabilitiesContainFuzzyMatch(caps, pkgmetav1.ProviderCapabilitySafeStart) {
			t.Errorf("The provider waits for its CRDs (safe start) and must say so for Crossplane to install them inactive; capabilities %q", caps)
		}
		if !slices.ContainsFunc(function.objs, func(o *unstructured.Unstructured) bool {
			return o.GetKind() == "CustomResourceDefinition" && o.GetName() == "inputs.compose.qdrantops.io"
		}) {
			t.Error("The function package must ship the CRD of its input, inputs.compose.qdrantops.io")
		}
	})

	t.Run("Validate", func(t *testing.T) {
		validate(t, provider, function, configuration)
	})
}

// checkDependencies holds the Configuration's dependsOn to what Crossplane v2
// resolves: every package path names its registry (v2 has no default one),
// and the versions the test ground runs meet every constraint.
func checkDependencies(t *testing.T, meta *unstructured.Unstructured) {
	t.Helper()
	tested := map[string]string{
		"xpkg.crossplane.io/crossplane-contrib/provider-helm": toolVersion(t, "provider-helm"),
		// The s3.aws.m.upbound.io CRDs the function's output is validated against.
		"xpkg.upbound.io/upbound/provider-aws-s3":   toolVersion(t, "provider-aws-crds"),
		"ghcr.io/qdrantops/provider-qdrantops":      "v0.1.0",
		"ghcr.io/qdrantops/function-compose-qdrant": "v0.1.0",
	}
	deps, _, err := unstructured.NestedSlice(meta.Object, "spec", "dependsOn")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range deps {
		dep, _ := d.(map[string]any)
		pkg, _ := dep["package"].(string)
		constraint, _ := dep["version"].(string)
		if _, err := name.NewRepository(pkg, name.StrictValidation); err != nil || !strings.Contains(strings.Split(pkg, "/")[0], ".") {
			t.Errorf("dependsOn %q must be a repository that names its registry: %v", pkg, err)
		}
		c, err := semver.NewConstraint(constraint)
		if err != nil {
			t.Errorf("dependsOn %s: version %q: %v", pkg, constraint, err)
			continue
		}
		v, ok := tested[pkg]
		if !ok {
			t.Errorf("dependsOn %s: a package the tests do not know", pkg)
			continue
		}
		seen[pkg] = true
		if !c.Check(semver.MustParse(v)) {
			t.Errorf("dependsOn %s: the tested %s does not meet %q", pkg, v, constraint)
		}
	}
	for pkg := range tested {
		if !seen[pkg] {
			t.Errorf("The Configuration must depend on %s", pkg)
		}
	}
	core := toolVersion(t, "crossplane-core")
	constraint, _, _ := unstructured.NestedString(meta.Object, "spec", "crossplane", "version")
	if c, err := semver.NewConstraint(constraint); err != nil || !c.Check(semver.MustParse(core)) {
		t.Errorf("crossplane.version %q must admit the tested core %s (%v)", constraint, core, err)
	}
}

// checkFunctionRef holds the Composition to the name Crossplane gives the
// Function it installs for the Configuration's dependency: the package's
// repository without its registry, as a DNS label.
func checkFunctionRef(t *testing.T, configuration built) {
	t.Helper()
	var fn string
	deps, _, _ := unstructured.NestedSlice(configuration.meta.Object, "spec", "dependsOn")
	for _, d := range deps {
		dep, _ := d.(map[string]any)
		if dep["kind"] == "Function" {
			pkg, _ := dep["package"].(string)
			repo, err := name.NewRepository(pkg)
			if err != nil {
				t.Fatal(err)
			}
			// crossplane v2.3.4's resolver names it
			// xpkg.ToDNSLabel(repository): path separators become dashes.
			// (Importing pkg/xpkg would pull in every cloud's registry
			// credential helpers.)
			fn = strings.ReplaceAll(repo.RepositoryStr(), "/", "-")
		}
	}
	n := 0
	for _, o := range configuration.objs {
		if o.GetKind() != "Composition" {
			continue
		}
		steps, _, _ := unstructured.NestedSlice(o.Object, "spec", "pipeline")
		for _, s := range steps {
			step, _ := s.(map[string]any)
			got, _, _ := unstructured.NestedString(step, "functionRef", "name")
			n++
			if got != fn {
				t.Errorf("Composition %s step %v: functionRef %q, but Crossplane names the Function it installs %q", o.GetName(), step["step"], got, fn)
			}
		}
	}
	if n == 0 {
		t.Error("The Configuration must ship a Composition with a pipeline")
	}
}

// validate runs `crossplane resource validate` on every example, the
// Composition and its steps' inputs, against the CRDs and XRD the packages
// ship and the CRDs of provider-helm and provider-aws-s3.
func validate(t *testing.T, pkgs ...built) {
	t.Helper()
	ext := t.TempDir()
	var schemas []*unstructured.Unstructured
	for _, p := range pkgs {
		for _, o := range p.objs {
			if k := o.GetKind(); k == "CustomResourceDefinition" || k == "CompositeResourceDefinition" {
				schemas = append(schemas, o)
			}
		}
	}
	writeObjects(t, filepath.Join(ext, "packages.yaml"), schemas)
	for _, tool := range []string{"provider-helm-crds", "provider-aws-crds"} {
		files, _ := filepath.Glob(filepath.Join(toolDir(t, tool), "*.yaml"))
		if len(files) == 0 {
			t.Fatalf("no CRDs in %s", toolDir(t, tool))
		}
		for _, f := range files {
			b, err := os.ReadFile(f) //nolint:gosec // Built by cluster/build.sh.
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(ext, tool+"-"+filepath.Base(f)), b, 0o600); err != nil { //nolint:gosec // G703: a file in t.TempDir(), named after a fixture.
				t.Fatal(err)
			}
		}
	}

	// The Composition as shipped, and each step's input as an object of its own
	// (the Composition's schema leaves inputs open; the function's CRD does not).
	var extra []*unstructured.Unstructured
	for _, o := range pkgs[len(pkgs)-1].objs {
		if o.GetKind() != "Composition" {
			continue
		}
		extra = append(extra, o)
		steps, _, _ := unstructured.NestedSlice(o.Object, "spec", "pipeline")
		for i, s := range steps {
			step, _ := s.(map[string]any)
			if in, ok := step["input"].(map[string]any); ok {
				u := &unstructured.Unstructured{Object: in}
				u.SetName(fmt.Sprintf("%s-step-%d", o.GetName(), i))
				extra = append(extra, u)
			}
		}
	}
	// An input as a platform that mirrors the chart writes it (the
	// Composition ships none): the function's CRD must admit it.
	extra = append(extra, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "compose.qdrantops.io/v1alpha1", "kind": "Input", "metadata": map[string]any{"name": "mirror"},
		"chart": map[string]any{"repository": "oci://registry.example.org/charts", "version": "1.19.0"},
	}})
	res := t.TempDir()
	writeObjects(t, filepath.Join(res, "composition.yaml"), extra)

	// Crossplane's own schemas come from the core the test ground built,
	// placed where the CLI caches them, so that it downloads nothing.
	core := toolDir(t, "crossplane-core")
	img := "xpkg.crossplane.io/crossplane/crossplane:" + toolVersion(t, "crossplane-core")
	cache := t.TempDir()
	cached := filepath.Join(cache, strings.ReplaceAll(img, ":", "@"))
	if err := os.MkdirAll(cached, 0o750); err != nil {
		t.Fatal(err)
	}
	crds, _ := filepath.Glob(filepath.Join(core, "crds", "*.yaml"))
	if len(crds) == 0 {
		t.Fatalf("no Crossplane CRDs in %s", core)
	}
	for _, f := range crds {
		b, err := os.ReadFile(f) //nolint:gosec // Built by cluster/build.sh.
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cached, filepath.Base(f)), b, 0o600); err != nil { //nolint:gosec // G703: a file in t.TempDir().
			t.Fatal(err)
		}
	}

	examples := filepath.Join(env.Root, "examples")
	cmd := exec.CommandContext(t.Context(), filepath.Join(toolDir(t, "crossplane-cli"), "crossplane"),
		"resource", "validate", ext, examples+","+res,
		"--cache-dir", cache, "--crossplane-image", img, "--error-on-missing-schemas", "--skip-success-results")
	b, err := cmd.CombinedOutput()
	t.Logf("crossplane resource validate:\n%s", b)
	if err != nil || !regexp.MustCompile(`(?m)^Total \d+ resources: 0 missing schemas, \d+ success cases, 0 failure cases$`).Match(b) {
		t.Errorf("Every example and the Composition must be valid against the packages' schemas: %v\n%s", err, b)
	}
}

// readPackage reads an .xpkg: its image and the objects of package.yaml.
func readPackage(t *testing.T, file string) built {
	t.Helper()
	img, err := tarball.ImageFromPath(file, nil)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	rc := mutate.Extract(img)
	defer rc.Close() //nolint:errcheck // Read-only.
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s: no package.yaml", file)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != "package.yaml" {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		p := built{img: img}
		for _, doc := range strings.Split(string(b), "\n---\n") {
			doc = strings.TrimPrefix(strings.TrimSpace(doc), "---")
			if strings.TrimSpace(doc) == "" {
				continue
			}
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if strings.HasPrefix(u.GetAPIVersion(), "meta.pkg.crossplane.io/") {
				p.meta = u
				continue
			}
			p.objs = append(p.objs, u)
		}
		if p.meta == nil {
			t.Fatalf("%s: no package metadata", file)
		}
		return p
	}
}

func layerDigests(t *testing.T, img v1.Image) []string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	ds := make([]string, 0, len(ls))
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d.String())
	}
	return ds
}

func writeObjects(t *testing.T, file string, objs []*unstructured.Unstructured) {
	t.Helper()
	var buf bytes.Buffer
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// toolDir is the folder cluster/build.sh keeps a test ground tool in.
func toolDir(t *testing.T, tool string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(env.Root, "cluster", "build.sh"), "--path", tool)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("cluster/build.sh --path %s: %v", tool, err)
	}
	dir := strings.TrimSpace(string(b))
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("%s is not built (make tools): %v", tool, err)
	}
	return dir
}

// toolVersion is the version of a tool the test ground runs, from the name
// of its folder (NAME-VERSION[-rN]).
func toolVersion(t *testing.T, tool string) string {
	t.Helper()
	v := regexp.MustCompile(`-(v\d+\.\d+\.\d+)(-r\d+)?$`).FindStringSubmatch(filepath.Base(toolDir(t, tool)))
	if v == nil {
		t.Fatalf("no version in %s", toolDir(t, tool))
	}
	return v[1]
}
