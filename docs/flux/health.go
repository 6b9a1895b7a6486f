// Package flux holds a Flux example for qdrantops (qdrant-team-a.yaml: a
// GitRepository and a Kustomization with CEL health checks for the kinds
// qdrantops users apply) and evaluates those health checks in Go as
// kustomize-controller does, so that tests can hold them to real objects and
// to the Argo CD checks of docs/argocd.
package flux

import (
	"bytes"
	"context"
	_ "embed" // The shipped example is the one source of the expressions.
	"errors"
	"fmt"
	"io"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
)

// Example is docs/flux/qdrant-team-a.yaml, as users copy it.
//
//go:embed qdrant-team-a.yaml
var Example []byte

// A Status is what Flux's health assessment (kstatus) makes of an object.
type Status string

// Statuses a health check gives. Flux waits while an object is InProgress or
// Unknown, fails the Kustomization's health check at once when one is
// Failed, and is done when every object is Current.
const (
	Current    Status = "Current"
	InProgress Status = "InProgress"
	Failed     Status = "Failed"
	// Unknown is an expression that could not be evaluated, as on an object
	// without status yet (CEL cannot test whether a top-level field
	// exists); Flux keeps waiting, as for InProgress.
	Unknown Status = "Unknown"
)

// ArgoCDEquivalent is the Flux status that means what an Argo CD health
// status (docs/argocd) means: Healthy and Suspended (a BackupSchedule
// suspended on purpose, as its owner wants it) are Current, Degraded is
// Failed, Progressing is InProgress.
func ArgoCDEquivalent(argo string) (Status, bool) {
	s, ok := map[string]Status{"Healthy": Current, "Suspended": Current, "Degraded": Failed, "Progressing": InProgress}[argo]
	return s, ok
}

// A Result is a status and why.
type Result struct {
	Status  Status
	Message string
}

// HealthChecks returns the healthCheckExprs of the Kustomization in a
// multi-document manifest.
func HealthChecks(manifest []byte) ([]kustomize.CustomHealthCheck, error) {
	d := utilyaml.NewDocumentDecoder(io.NopCloser(bytes.NewReader(manifest)))
	defer d.Close() //nolint:errcheck // Closing a reader of bytes in memory cannot fail.
	buf := make([]byte, len(manifest)+1)
	for {
		n, err := d.Read(buf)
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the manifest has no Kustomization")
		}
		if err != nil {
			return nil, fmt.Errorf("cannot split the manifest: %w", err)
		}
		k := &kustomizev1.Kustomization{}
		if err := yaml.Unmarshal(buf[:n], k); err != nil {
			return nil, fmt.Errorf("cannot decode a document of the manifest: %w", err)
		}
		if k.Kind == kustomizev1.KustomizationKind {
			return k.Spec.HealthCheckExprs, nil
		}
	}
}

// Check evaluates the health check that checks names for obj's kind, as
// kustomize-controller does (RFC 0009 of Flux): an object whose
// status.observedGeneration differs from its metadata.generation is
// InProgress; then inProgress, failed and current are evaluated in that
// order and the first that holds decides; InProgress when none does. Flux
// matches a check by group and kind, whatever the version.
func Check(ctx context.Context, checks []kustomize.CustomHealthCheck, obj *unstructured.Unstructured) (Result, error) {
	gk := obj.GroupVersionKind().GroupKind()
	var hc *kustomize.CustomHealthCheck
	for i := range checks {
		if schema.FromAPIVersionAndKind(checks[i].APIVersion, checks[i].Kind).GroupKind() == gk {
			hc = &checks[i]
		}
	}
	if hc == nil {
		return Result{}, fmt.Errorf("no health check for %s", gk)
	}
	if hc.Current == "" {
		return Result{}, fmt.Errorf("the health check for %s has no current expression", gk)
	}
	content := obj.UnstructuredContent()
	og, ok, err := unstructured.NestedInt64(content, "status", "observedGeneration")
	if err == nil && ok {
		if g, ok, err := unstructured.NestedInt64(content, "metadata", "generation"); err == nil && ok && g != og {
			return Result{Status: InProgress, Message: fmt.Sprintf("observed generation %d of %d", og, g)}, nil
		}
	}
	for _, e := range []struct {
		expr   string
		status Status
	}{{hc.InProgress, InProgress}, {hc.Failed, Failed}, {hc.Current, Current}} {
		if e.expr == "" {
			continue
		}
		holds, err := evaluate(ctx, e.expr, content)
		if err != nil {
			var ee *evalError
			if errors.As(err, &ee) {
				return Result{Status: Unknown, Message: ee.Error()}, nil
			}
			return Result{}, fmt.Errorf("the health check for %s: %w", gk, err)
		}
		if holds {
			return Result{Status: e.status}, nil
		}
	}
	return Result{Status: InProgress}, nil
}

// CheckObject is Check, with the example's health checks, for a typed
// object of the kind gvk names.
func CheckObject(ctx context.Context, o runtime.Object, gvk schema.GroupVersionKind) (Result, error) {
	checks, err := HealthChecks(Example)
	if err != nil {
		return Result{}, err
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return Result{}, fmt.Errorf("cannot convert the %s: %w", gvk.Kind, err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return Check(ctx, checks, u)
}

// evalError is an expression that parsed but could not be evaluated on an
// object; kstatus reports the object Unknown.
type evalError struct{ err error }

func (e *evalError) Error() string { return e.err.Error() }

// evaluate parses and runs one expression in the environment Flux's runtime
// gives health checks: parsed, not type-checked (objects are not typed), with
// optional fields, the strings, sets and encoders extensions, and the
// object's top-level fields (apiVersion, kind, metadata, spec, status) as
// variables.
func evaluate(ctx context.Context, expr string, obj map[string]any) (bool, error) {
	env, err := cel.NewEnv(
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Sets(),
		ext.Encoders(),
	)
	if err != nil {
		return false, fmt.Errorf("cannot create a CEL environment: %w", err)
	}
	ast, iss := env.Parse(expr)
	if iss != nil && iss.Err() != nil {
		return false, fmt.Errorf("cannot parse %q: %w", expr, iss.Err())
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.InterruptCheckFrequency(100))
	if err != nil {
		return false, fmt.Errorf("cannot build a program of %q: %w", expr, err)
	}
	v, _, err := prg.ContextEval(ctx, obj)
	if err != nil {
		return false, &evalError{err: fmt.Errorf("cannot evaluate %q: %w", expr, err)}
	}
	b, ok := v.(types.Bool)
	if !ok {
		return false, &evalError{err: fmt.Errorf("%q gives %v, not a bool", expr, v)}
	}
	return bool(b), nil
}
