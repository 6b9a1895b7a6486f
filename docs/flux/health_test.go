package flux_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"
	"github.com/fluxcd/pkg/apis/kustomize"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/testenv"
	"github.com/qdrantops/qdrantops/docs/argocd"
	"github.com/qdrantops/qdrantops/docs/flux"
)

func checks(t *testing.T) []kustomize.CustomHealthCheck {
	t.Helper()
	hc, err := flux.HealthChecks(flux.Example)
	if err != nil {
		t.Fatal(err)
	}
	return hc
}

// agree says how Flux's and Argo CD's checks disagree on obj, or "".
func agree(t *testing.T, hc []kustomize.CustomHealthCheck, obj *unstructured.Unstructured) string {
	t.Helper()
	a, err := argocd.Check(obj)
	if err != nil {
		t.Fatal(err)
	}
	f, err := flux.Check(t.Context(), hc, obj)
	if err != nil {
		t.Fatal(err)
	}
	w, ok := flux.ArgoCDEquivalent(a.Status)
	if !ok {
		t.Fatalf("Argo CD status %q has no Flux equivalent", a.Status)
	}
	want := []flux.Status{w}
	if _, hasStatus := obj.Object["status"]; !hasStatus && a.Status == "Progressing" {
		// CEL cannot ask whether status exists: Flux reports Unknown
		// and waits, as for InProgress.
		want = []flux.Status{flux.Unknown}
	}
	for _, w := range want {
		if f.Status == w {
			return ""
		}
	}
	return fmt.Sprintf("Argo CD %s (%s), Flux %s (%s), want %v", a.Status, a.Message, f.Status, f.Message, want)
}

// TestHealthAgreesWithArgoCDOnRenderedObjects holds the Flux checks to the
// Argo CD checks on the objects the composition function's tests hold to
// real ones: the XRs it rendered (the objects docs/argocd's tests use) and
// the BackupSchedule the real provider wrote, which
// TestObservedScheduleIsWhatTheApiserverHolds compares with the fixture.
func TestHealthAgreesWithArgoCDOnRenderedObjects(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	hc := checks(t)
	files, err := filepath.Glob(filepath.Join(root, "functions", "compose-qdrant", "testdata", "*", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	statuses := map[string]bool{}
	for _, f := range files {
		objs, err := testenv.ReadObjects(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			switch o.GroupVersionKind().GroupKind().String() {
			case "QdrantCluster.qdrantops.io", "BackupSchedule.ops.qdrantops.io", "Backup.ops.qdrantops.io", "Restore.ops.qdrantops.io":
			default:
				continue
			}
			kinds[o.GetKind()]++
			if why := agree(t, hc, o); why != "" {
				t.Errorf("%s %s in %s: %s", o.GetKind(), o.GetName(), filepath.Base(f), why)
			}
			a, _ := argocd.Check(o)
			statuses[o.GetKind()+"/"+a.Status] = true
		}
	}
	// The golden renders hold Running, not ready and first-reconcile XRs,
	// and the schedule the provider reconciled.
	for _, want := range []string{"QdrantCluster/Healthy", "QdrantCluster/Progressing", "BackupSchedule/Healthy"} {
		if !statuses[want] {
			t.Errorf("no rendered object is %s; got %v", want, statuses)
		}
	}
}

// condition is one state of a condition type in the enumeration: absent
// (status ""), or a status with an optional reason.
type condition struct{ status, reason string }

// TestHealthAgreesWithArgoCDOnEveryState holds the Flux checks to the
// Argo CD checks on every combination of what either reads: no status, or
// a status with each phase the CRD allows (and none, and one it does not),
// and the Synced, Ready and BackupOverdue conditions absent, True or False
// (Ready True also with reason Suspended). It is the two checks that are
// compared here, not a claim of which states the product reaches.
func TestHealthAgreesWithArgoCDOnEveryState(t *testing.T) {
	hc := checks(t)
	kinds := []struct {
		apiVersion, kind string
		phasePath        []string
		phases           []string
	}{
		{"qdrantops.io/v1alpha1", "QdrantCluster", []string{"status", "phase"}, []string{"Pending", "Running", "Upgrading", "Failed"}},
		{"ops.qdrantops.io/v1alpha1", "Backup", []string{"status", "atProvider", "phase"}, []string{"Pending", "Queued", "InProgress", "Completed", "Failed", "Expired", "Deleting"}},
		{"ops.qdrantops.io/v1alpha1", "Restore", []string{"status", "atProvider", "phase"}, []string{"Pending", "Queued", "InProgress", "Verifying", "Completed", "Failed"}},
		{"ops.qdrantops.io/v1alpha1", "BackupSchedule", []string{"status", "atProvider", "phase"}, nil},
	}
	conds := []condition{{}, {status: "True"}, {status: "False"}}
	ready := []condition{{}, {status: "True"}, {status: "True", reason: "Suspended"}, {status: "False"}}
	for _, k := range kinds {
		verdicts := map[string]int{}
		n := 0
		check := func(o *unstructured.Unstructured, what string) {
			n++
			if why := agree(t, hc, o); why != "" {
				t.Errorf("%s with %s: %s", k.kind, what, why)
			}
			a, _ := argocd.Check(o)
			verdicts[a.Status]++
		}
		bare := &unstructured.Unstructured{}
		bare.SetAPIVersion(k.apiVersion)
		bare.SetKind(k.kind)
		bare.SetName("x")
		check(bare, "no status")
		for _, phase := range append([]string{"", "Unheard"}, k.phases...) {
			for _, synced := range conds {
				for _, rd := range ready {
					for _, overdue := range conds {
						o := bare.DeepCopy()
						o.Object["status"] = map[string]any{}
						var cs []any
						var what []string
						for _, c := range []struct {
							typ string
							condition
						}{{"Synced", synced}, {"Ready", rd}, {"BackupOverdue", overdue}} {
							if c.status == "" {
								continue
							}
							m := map[string]any{"type": c.typ, "status": c.status}
							if c.reason != "" {
								m["reason"] = c.reason
							}
							cs = append(cs, m)
							what = append(what, c.typ+"="+c.status+c.reason)
						}
						if cs != nil {
							o.Object["status"].(map[string]any)["conditions"] = cs
						}
						if phase != "" {
							if err := unstructured.SetNestedField(o.Object, phase, k.phasePath...); err != nil {
								t.Fatal(err)
							}
						}
						check(o, fmt.Sprintf("phase %q, conditions %s", phase, strings.Join(what, ",")))
					}
				}
			}
		}
		// Each kind reaches every verdict its Argo CD check has, so the
		// comparison covered them all.
		var got []string
		for v := range verdicts {
			got = append(got, v)
		}
		sort.Strings(got)
		want := "Degraded,Healthy,Progressing"
		if k.kind == "BackupSchedule" {
			want = "Degraded,Healthy,Progressing,Suspended"
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s: the states reached Argo CD verdicts %v, want %s", k.kind, got, want)
		}
		t.Logf("%s: %d states agree (%v)", k.kind, n, verdicts)
	}
}

// TestObservedGenerationBehindIsInProgress: Flux waits for a controller to
// observe the latest spec before it believes the status, whatever the
// expressions say.
func TestObservedGenerationBehindIsInProgress(t *testing.T) {
	o := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "ops.qdrantops.io/v1alpha1", "kind": "BackupSchedule",
		"metadata": map[string]any{"name": "x", "generation": int64(3)},
		"status": map[string]any{
			"observedGeneration": int64(2),
			"conditions":         []any{map[string]any{"type": "Ready", "status": "True"}},
		},
	}}
	r, err := flux.Check(t.Context(), checks(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != flux.InProgress {
		t.Errorf("Check: %s (%s), want InProgress", r.Status, r.Message)
	}
}

// TestCheckObjectOfATypedObject: the typed entry point the provider's tests
// can use on the objects they produce gives what Check gives.
func TestCheckObjectOfATypedObject(t *testing.T) {
	s := &v1alpha1.BackupSchedule{}
	s.SetName("x")
	s.Status.SetConditions(xpv2.Condition{Type: "Synced", Status: corev1.ConditionFalse, Reason: "ReconcileError"})
	r, err := flux.CheckObject(t.Context(), s, v1alpha1.BackupScheduleGroupVersionKind)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != flux.Failed {
		t.Errorf("CheckObject: %s (%s), want Failed", r.Status, r.Message)
	}
}
