// Package examples_test checks that every example, applied as it is, is
// accepted by a real kube-apiserver serving the generated CRDs and XRD and
// Crossplane's own, and that the YAML the README shows is these files.
package examples_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/qdrantops/qdrantops/cluster/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, installHelmCRDs) }

// installHelmCRDs installs provider-helm's CRDs, which testenv does not: the
// tenancy examples write a namespaced provider-helm ProviderConfig.
func installHelmCRDs() (func(), error) {
	out, err := exec.CommandContext(context.Background(), filepath.Join(env.Root, "cluster", "build.sh"), "--path", "provider-helm-crds").Output()
	if err != nil {
		return nil, fmt.Errorf("cannot find provider-helm's CRDs (cluster/build.sh --path provider-helm-crds): %w", err)
	}
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{strings.TrimSpace(string(out))}, ErrorIfPathMissing: true}); err != nil {
		return nil, fmt.Errorf("cannot install provider-helm's CRDs: %w", err)
	}
	return func() {}, nil
}

// exampleDirs lists examples/ and every folder below it: the top folder is
// what a team applies to its namespace (and what make demo applies), the
// folders below are set-up steps (install/, tenancy/).
func exampleDirs(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(filepath.Join(root, "examples"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

func TestExamplesAreAccepted(t *testing.T) {
	var objs []*unstructured.Unstructured
	for _, dir := range exampleDirs(t, env.Root) {
		o, err := testenv.ReadObjects(dir)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o...)
	}
	if len(objs) < 14 {
		t.Fatalf("want at least 14 example objects, got %d", len(objs))
	}
	// Namespaces first, as kubectl apply -f examples/ would need them to be.
	sort.SliceStable(objs, func(i, j int) bool {
		return objs[i].GetKind() == "Namespace" && objs[j].GetKind() != "Namespace"
	})
	ctx := context.Background()
	seen := map[string]bool{}
	for _, o := range objs {
		// A namespace a cluster with Crossplane has already (crossplane-system).
		if ns := o.GetNamespace(); ns != "" && !slices.ContainsFunc(objs, func(n *unstructured.Unstructured) bool { return n.GetKind() == "Namespace" && n.GetName() == ns }) {
			n := &corev1.Namespace{}
			n.SetName(ns)
			if err := env.Client.Create(ctx, n); err != nil && !kerrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
		}
		want := o.DeepCopy()
		if err := env.Client.Create(ctx, o); err != nil {
			t.Errorf("%s %s/%s rejected: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
			continue
		}
		seen[o.GetKind()] = true
		seen[o.GetAPIVersion()+" "+o.GetKind()] = true
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), got); err != nil {
			t.Errorf("cannot read back %s %s: %v", o.GetKind(), o.GetName(), err)
			continue
		}
		// Nothing the user wrote may be pruned: every field of the example
		// must survive the schema (defaults may add more).
		if want.Object["spec"] == nil {
			continue // Namespaces and Secrets have nothing of the user's in spec.
		}
		if diff := cmp.Diff(want.Object["spec"], got.Object["spec"], testenv.SubsetOf()); diff != "" {
			t.Errorf("%s %s: the apiserver dropped fields of the example (-example +stored):\n%s", o.GetKind(), o.GetName(), diff)
		}
	}
	for _, k := range []string{"QdrantCluster", "Backup", "BackupSchedule", "Restore", "ProviderConfig", "ClusterProviderConfig", "Configuration", "ImageConfig", "helm.m.crossplane.io/v1beta1 ProviderConfig", "rbac.authorization.k8s.io/v1 RoleBinding"} {
		if !seen[k] {
			t.Errorf("examples/ has no accepted %s", k)
		}
	}
}

func TestConfigurationPackageIsAccepted(t *testing.T) {
	// The generated XRD and the Composition are checked by Crossplane's own
	// CRDs, as they would be when the Configuration package is installed.
	objs, err := testenv.ReadObjects(filepath.Join(env.Root, "package", "configuration"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Errorf("%s %s rejected: %v", o.GetKind(), o.GetName(), err)
		}
		kinds[o.GetKind()] = true
	}
	if !kinds["CompositeResourceDefinition"] || !kinds["Composition"] {
		t.Errorf("want an XRD and a Composition, got %v", kinds)
	}
}

// loopback matches the addresses of the test ground (127.0.0.0/8, localhost,
// ::1), which mean nothing on a user's cluster.
var loopback = regexp.MustCompile(`(?i)\b127\.\d+\.\d+\.\d+\b|\blocalhost\b|\[::1\]`)

// TestExamplesNameNoTestGround: examples are what users apply, so none may
// point at an address that only exists on the test ground.
func TestExamplesNameNoTestGround(t *testing.T) {
	for _, dir := range exampleDirs(t, env.Root) {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f) //nolint:gosec // G304: the repository's own examples.
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(string(b), "\n") {
				if loopback.MatchString(line) {
					t.Errorf("%s:%d names a loopback address: %s", f, i+1, line)
				}
			}
		}
	}
}

// yamlBlock is a fenced YAML block of the README and the line before it.
type yamlBlock struct {
	line   int    // of the opening fence
	before string // the last non-empty line before the fence
	body   string
}

// yamlBlocks returns the README's fenced YAML blocks.
func yamlBlocks(readme string) ([]yamlBlock, error) {
	var out []yamlBlock
	lines := strings.SplitAfter(readme, "\n")
	last := ""
	for i := 0; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], "\n")
		if strings.TrimSpace(l) != "```yaml" {
			if strings.TrimSpace(l) != "" {
				last = l
			}
			continue
		}
		b := yamlBlock{line: i + 1, before: last}
		var body strings.Builder
		closed := false
		for i++; i < len(lines); i++ {
			if strings.TrimRight(lines[i], "\n") == "```" {
				closed = true
				break
			}
			body.WriteString(lines[i])
		}
		if !closed {
			return nil, fmt.Errorf("README.md:%d: a YAML block is not closed", b.line)
		}
		b.body = body.String()
		out = append(out, b)
		last = ""
	}
	return out, nil
}

// exampleRef finds the examples/ file the line before a block names.
var exampleRef = regexp.MustCompile(`examples/[A-Za-z0-9_./-]+\.yaml`)

// TestREADMEShowsTheExamples holds every YAML block of the README to the
// examples/ file the line before it names, byte for byte, so that what a
// reader copies is what TestExamplesAreAccepted applies.
func TestREADMEShowsTheExamples(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(env.Root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := yamlBlocks(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) < 5 {
		t.Fatalf("README.md shows %d YAML blocks; want at least the install, a QdrantCluster, a Backup, a Restore and a schedule", len(blocks))
	}
	shown := map[string]bool{}
	for _, b := range blocks {
		ref := exampleRef.FindString(b.before)
		if ref == "" {
			t.Errorf("README.md:%d: the line before a YAML block names no examples/ file: %q", b.line, b.before)
			continue
		}
		want, err := os.ReadFile(filepath.Join(env.Root, filepath.FromSlash(ref)))
		if err != nil {
			t.Errorf("README.md:%d: %v", b.line, err)
			continue
		}
		if !bytes.Equal(want, []byte(b.body)) {
			t.Errorf("README.md:%d is not %s (-file +README):\n%s", b.line, ref, cmp.Diff(string(want), b.body))
		}
		shown[ref] = true
	}
	for _, f := range []string{"examples/install/configuration.yaml", "examples/qdrantcluster.yaml", "examples/backup.yaml", "examples/restore.yaml", "examples/backupschedule.yaml", "examples/tenancy/clusterproviderconfig.yaml", "examples/tenancy/helm-providerconfig.yaml"} {
		if !shown[f] {
			t.Errorf("README.md does not show %s", f)
		}
	}
}
