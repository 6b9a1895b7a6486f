package flux_test

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/qdrantops/qdrantops/cluster/testenv"
	"github.com/qdrantops/qdrantops/docs/flux"
)

// documents splits the example into its YAML documents.
func documents(t *testing.T) [][]byte {
	t.Helper()
	d := utilyaml.NewDocumentDecoder(io.NopCloser(bytes.NewReader(flux.Example)))
	defer d.Close() //nolint:errcheck // A reader of bytes in memory.
	var docs [][]byte
	for {
		buf := make([]byte, len(flux.Example)+1)
		n, err := d.Read(buf)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, buf[:n])
	}
}

// TestExampleDecodesStrictlyIntoFluxTypes decodes the example into Flux's
// own Go types (kustomize-controller and source-controller API modules),
// refusing any field they do not have, and checks that the Kustomization
// applies the GitRepository's folder, waits, and health-checks the four
// kinds with expressions Flux can parse.
func TestExampleDecodesStrictlyIntoFluxTypes(t *testing.T) {
	var repo *sourcev1.GitRepository
	var ks *kustomizev1.Kustomization
	for _, doc := range documents(t) {
		tm := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &tm.Object); err != nil {
			t.Fatal(err)
		}
		switch tm.GetKind() {
		case sourcev1.GitRepositoryKind:
			repo = &sourcev1.GitRepository{}
			if err := yaml.UnmarshalStrict(doc, repo); err != nil {
				t.Errorf("GitRepository: %v", err)
			}
		case kustomizev1.KustomizationKind:
			ks = &kustomizev1.Kustomization{}
			if err := yaml.UnmarshalStrict(doc, ks); err != nil {
				t.Errorf("Kustomization: %v", err)
			}
		default:
			t.Errorf("unexpected %s in the example", tm.GetKind())
		}
	}
	if repo == nil || ks == nil {
		t.Fatalf("want a GitRepository and a Kustomization, got %v and %v", repo, ks)
	}
	if ks.APIVersion != kustomizev1.GroupVersion.String() || repo.APIVersion != sourcev1.GroupVersion.String() {
		t.Errorf("apiVersions %s and %s, want %s and %s", ks.APIVersion, repo.APIVersion, kustomizev1.GroupVersion, sourcev1.GroupVersion)
	}
	ref := ks.Spec.SourceRef
	if ref.Kind != sourcev1.GitRepositoryKind || ref.Name != repo.Name || (ref.Namespace != "" && ref.Namespace != repo.Namespace) || ks.Namespace != repo.Namespace {
		t.Errorf("the Kustomization's sourceRef %+v is not GitRepository %s/%s", ref, repo.Namespace, repo.Name)
	}
	if !ks.Spec.Wait {
		t.Error("the Kustomization does not wait: Flux evaluates healthCheckExprs only with wait or healthChecks")
	}
	got := map[string]bool{}
	for _, hc := range ks.Spec.HealthCheckExprs {
		got[hc.APIVersion+" "+hc.Kind] = true
		o := &unstructured.Unstructured{}
		o.SetAPIVersion(hc.APIVersion)
		o.SetKind(hc.Kind)
		o.Object["status"] = map[string]any{}
		// Parse errors are errors of Check; an object with an empty status
		// evaluates every expression.
		if _, err := flux.Check(t.Context(), ks.Spec.HealthCheckExprs, o); err != nil {
			t.Errorf("%s: %v", hc.Kind, err)
		}
	}
	for _, want := range []string{"qdrantops.io/v1alpha1 QdrantCluster", "ops.qdrantops.io/v1alpha1 Backup", "ops.qdrantops.io/v1alpha1 Restore", "ops.qdrantops.io/v1alpha1 BackupSchedule"} {
		if !got[want] {
			t.Errorf("no health check for %s", want)
		}
	}
}

// TestExampleIsAcceptedByFluxCRDs applies the example to a real apiserver
// serving Flux's CRDs, generated from Flux's API modules by controller-gen
// (the modules ship the types, not the CRDs), with strict field validation:
// the schema's types, enums, patterns and CEL rules all apply.
func TestExampleIsAcceptedByFluxCRDs(t *testing.T) {
	env := controlPlane(t)

	dir := t.TempDir()
	gen := exec.CommandContext(t.Context(), "go", "tool", "controller-gen", "crd",
		"paths=github.com/fluxcd/source-controller/api/v1;github.com/fluxcd/kustomize-controller/api/v1", "output:crd:dir="+dir)
	gen.Dir = env.Root
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("controller-gen: %v\n%s", err, out)
	}
	crds, err := testenv.ReadCRDs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{CRDs: crds}); err != nil {
		t.Fatal(err)
	}

	ctx := t.Context()
	ns := &corev1.Namespace{}
	ns.SetName("flux-system")
	if err := env.Client.Create(ctx, ns); err != nil && !kerrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	objs, err := testenv.ReadObjects(filepath.Join(env.Root, "docs", "flux", "qdrant-team-a.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		want := o.DeepCopy()
		if err := env.Client.Create(ctx, o, client.FieldValidation("Strict")); err != nil {
			t.Errorf("%s %s rejected: %v", o.GetKind(), o.GetName(), err)
			continue
		}
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want.Object["spec"], got.Object["spec"], testenv.SubsetOf()); diff != "" {
			t.Errorf("%s %s: the apiserver dropped fields (-example +stored):\n%s", o.GetKind(), o.GetName(), diff)
		}
	}
}
