package main

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
)

// helmReleaseNameMax is Helm's limit on release names (chartutil's
// ValidateReleaseName): 53, so that "<release>-<10 characters>" names fit 63.
const helmReleaseNameMax = 53

// maxReplicas is the XRD's maximum of spec.replicas: ordinals run to 99.
const maxReplicas = 100

// nameProblems composes a QdrantCluster of the given name with the most
// replicas and says which of the names that follow from it, in what the
// function composes and in what the chart renders from its values, are not
// valid.
func nameProblems(t *testing.T, name string) []string {
	t.Helper()
	x := strings.Replace(strings.Replace(xrBase, `"name": "search"`, `"name": "`+name+`"`, 1), `"replicas": 3`, `"replicas": `+strconv.Itoa(maxReplicas), 1)
	composed := run0(t, &fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: resource.MustStructJSON(strings.Replace(x, "%s", "", 1))}}})
	var problems []string
	check := func(what, value string, errs []string) {
		for _, e := range errs {
			problems = append(problems, what+" "+value+": "+e)
		}
	}
	rel := composed["release"]
	release, _ := at(rel, "metadata", "annotations", "crossplane.io/external-name").(string)
	if len(release) > helmReleaseNameMax {
		problems = append(problems, sprintf("Helm release name %s: longer than Helm's %d", release, helmReleaseNameMax))
	}
	check("Helm release name", release, validation.IsDNS1123Subdomain(release))
	for n, res := range composed {
		objName, _ := at(res, "metadata", "name").(string)
		check(n+" name", objName, validation.IsDNS1123Subdomain(objName))
	}
	// What the chart renders from fullnameOverride: the StatefulSet, and
	// under the same name its ConfigMap, ServiceAccount, PodDisruptionBudget
	// and ServiceMonitor; the Services; each pod (its hostname, and the
	// statefulset.kubernetes.io/pod-name label); the pods' revision label,
	// "<StatefulSet>-<hash>" with a hash of up to 10 characters (a uint32 in
	// decimal); each node's claim.
	sts, _ := at(rel, "spec", "forProvider", "values", "fullnameOverride").(string)
	check("StatefulSet", sts, validation.IsDNS1123Subdomain(sts))
	check("Service", sts, validation.IsDNS1035Label(sts))
	check("headless Service", sts+"-headless", validation.IsDNS1035Label(sts+"-headless"))
	last := sprintf("%s-%d", sts, maxReplicas-1)
	check("pod", last, validation.IsDNS1123Label(last))
	check("pod-name label", last, validation.IsValidLabelValue(last))
	revision := sts + "-" + strings.Repeat("9", 10)
	check("controller-revision-hash label", revision, validation.IsValidLabelValue(revision))
	claim := sprintf("%s-%s-%d", storageVolume, sts, maxReplicas-1)
	check("claim", claim, validation.IsDNS1123Subdomain(claim))
	return problems
}

// run0 runs the function, failing on a fatal result, and returns its
// desired composed resources.
func run0(t *testing.T, req *fnv1.RunFunctionRequest) map[string]map[string]any {
	t.Helper()
	f := &Function{log: logging.NewNopLogger(), random: bytes.NewReader(bytes.Repeat([]byte{1}, 32))}
	rsp, err := f.RunFunction(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range rsp.GetResults() {
		if res.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			t.Fatal(res.GetMessage())
		}
	}
	out := map[string]map[string]any{}
	for n, d := range rsp.GetDesired().GetResources() {
		out[n] = d.GetResource().AsMap()
	}
	return out
}

// TestLongestName computes the longest QdrantCluster name whose composed and
// chart-rendered names are all valid, and holds the XRD's admission rule to
// it: the XRD must refuse exactly the names that cannot work.
func TestLongestName(t *testing.T) {
	longest := 0
	for n := 1; n <= 63; n++ {
		if len(nameProblems(t, strings.Repeat("a", n))) == 0 {
			longest = n
		}
	}
	if want := 52; longest != want {
		t.Errorf("the longest name that works is %d characters, want %d (the StatefulSet's revision label, <name>-<10 characters>, allows 52)", longest, want)
	}
	if p := nameProblems(t, strings.Repeat("a", longest+1)); len(p) == 0 {
		t.Errorf("a %d-character name has no problem", longest+1)
	}

	xrd, err := os.ReadFile("../../package/configuration/definition.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`size\(self\.metadata\.name\) <= ([0-9]+)`).FindSubmatch(xrd)
	if m == nil {
		t.Fatal("the XRD has no rule on the length of a QdrantCluster's name")
	}
	if limit, _ := strconv.Atoi(string(m[1])); limit != longest {
		t.Errorf("the XRD admits names of up to %d characters; the longest that works is %d", limit, longest)
	}
}
