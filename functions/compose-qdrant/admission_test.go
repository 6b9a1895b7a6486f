package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/robfig/cron/v3"
	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"

	"github.com/qdrantops/qdrantops/cluster/testenv"
)

// startControlPlane starts a real kube-apiserver and etcd serving the
// project's CRDs and the QdrantCluster XRD, for this test only. Without the
// binaries the test is skipped, except in CI, where that is a failure.
func startControlPlane(t *testing.T) *testenv.Env {
	t.Helper()
	if why := testenv.Available(); why != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("integration tests cannot run in CI: %s", why)
		}
		t.Skip(why)
	}
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("cannot stop the control plane: %v", err)
		}
	})
	return env
}

func createNamespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatalf("cannot create namespace %s: %v", name, err)
	}
}

// composeSchedule runs the function on an XR as the apiserver holds it and
// returns the BackupSchedule it composes, or nil.
func composeSchedule(t *testing.T, xr *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	s, err := resource.AsStruct(xr)
	if err != nil {
		t.Fatal(err)
	}
	observed := map[string]*fnv1.Resource{}
	// Twice: a created bucket's schedule is composed once the S3 provider
	// reports the bucket Ready, which the second run's observed bucket says.
	for range 2 {
		f := &Function{log: logging.NewNopLogger(), random: bytes.NewReader(bytes.Repeat([]byte{7}, 32))}
		rsp, err := f.RunFunction(context.Background(), &fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: s}, Resources: observed}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rsp.GetResults() {
			if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
				t.Fatalf("the function failed: %s", r.GetMessage())
			}
		}
		if d, ok := rsp.GetDesired().GetResources()[string(nameSchedule)]; ok {
			return &unstructured.Unstructured{Object: d.GetResource().AsMap()}
		}
		b, ok := rsp.GetDesired().GetResources()[string(nameBucket)]
		if !ok {
			return nil
		}
		bucket := b.GetResource().AsMap()
		bucket["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Available"}}}
		bs, err := structpb.NewStruct(bucket)
		if err != nil {
			t.Fatal(err)
		}
		observed[string(nameBucket)] = &fnv1.Resource{Resource: bs}
	}
	return nil
}

// TestXRLimitsFitTheBackupSchedule creates QdrantClusters on a real apiserver
// and, for every one it accepts, the BackupSchedule the function composes
// from it: what the XRD lets in must never fail later, when Crossplane
// applies the BackupSchedule. Each field copied into the BackupSchedule is
// tried at its limit and just past it.
func TestXRLimitsFitTheBackupSchedule(t *testing.T) {
	env := startControlPlane(t)
	const ns = "admission"
	longNS := strings.Repeat("n", 63)
	createNamespace(t, env.Client, ns)
	createNamespace(t, env.Client, longNS)

	s := strings.Repeat
	cases := map[string]struct {
		reason    string
		namespace string // ns when empty
		name      string // "search" when empty
		backup    string // spec.backup, YAML flow style
		spec      string // more of the spec, YAML lines indented by two spaces
		wantXR    string // "" when the XR is accepted, else part of the rejection
	}{
		"Plain": {
			reason: "An ordinary backup configuration.",
			backup: `{schedule: "0 2 * * *", bucket: {create: true, region: eu-central-1}}`,
		},
		"NameAtLimit": {
			reason: "A 52-character cluster name names a BackupSchedule, which allows 52.",
			name:   s("a", 52),
			backup: `{schedule: "@daily", bucket: {name: shared-backups}}`,
		},
		"NameTooLong": {
			reason: "A 53-character cluster name would name a BackupSchedule the apiserver refuses.",
			name:   s("a", 53),
			backup: `{schedule: "@daily", bucket: {name: shared-backups}}`,
			wantXR: "at most 52 characters",
		},
		"NameWithDot": {
			reason: "A dotted name is a valid object name but not a Service's, which the chart derives from it.",
			name:   "a.b",
			backup: `{schedule: "@daily", bucket: {name: shared-backups}}`,
			wantXR: "DNS-1035 label",
		},
		"GeneratedBucketAtLimits": {
			reason:    "The longest namespace and cluster name still give a bucket name the BackupSchedule accepts.",
			namespace: longNS,
			name:      s("c", 52),
			backup:    `{schedule: "@daily", bucket: {create: true, region: eu-central-1}}`,
		},
		"ScheduleAtLimit": {
			reason: "128 characters of schedule, the BackupSchedule's limit.",
			backup: `{schedule: "` + s("1", 120) + ` * * * *", bucket: {name: shared-backups}}`,
		},
		"ScheduleTooLong": {
			reason: "129 characters of schedule.",
			backup: `{schedule: "` + s("1", 121) + ` * * * *", bucket: {name: shared-backups}}`,
			wantXR: "spec.backup.schedule: Too long",
		},
		"ScheduleEvery": {
			reason: "An @every descriptor is a schedule.",
			backup: `{schedule: "@every 6h", timeZone: "America/New_York", bucket: {name: shared-backups}}`,
		},
		"ScheduleFourFields": {
			reason: "A cron schedule has five fields, as the BackupSchedule requires.",
			backup: `{schedule: "0 2 * *", bucket: {name: shared-backups}}`,
			wantXR: "schedule must be five cron fields",
		},
		"ScheduleWithTimeZone": {
			reason: "The time zone goes in timeZone, as the BackupSchedule requires.",
			backup: `{schedule: "CRON_TZ=Europe/Berlin 0 2 * * *", bucket: {name: shared-backups}}`,
			wantXR: "set the schedule's time zone in timeZone",
		},
		"TimeZoneLocal": {
			reason: "Local is the provider host's zone, not a zone: the BackupSchedule refuses it.",
			backup: `{schedule: "@daily", timeZone: Local, bucket: {name: shared-backups}}`,
			wantXR: "timeZone must name a zone",
		},
		"TimeZoneNotAName": {
			reason: "A time zone is an IANA name, never a path.",
			backup: `{schedule: "@daily", timeZone: "../etc/zone", bucket: {name: shared-backups}}`,
			wantXR: "spec.backup.timeZone in body should match",
		},
		"TimeZoneAtLimit": {
			reason: "64 characters of time zone, the BackupSchedule's limit.",
			backup: `{schedule: "@daily", timeZone: "` + s("z", 64) + `", bucket: {name: shared-backups}}`,
		},
		"TimeZoneTooLong": {
			reason: "65 characters of time zone.",
			backup: `{schedule: "@daily", timeZone: "` + s("z", 65) + `", bucket: {name: shared-backups}}`,
			wantXR: "spec.backup.timeZone: Too long",
		},
		"RegionAtLimit": {
			reason: "64 characters of region, the BackupSchedule's limit.",
			backup: `{schedule: "@daily", bucket: {name: shared-backups, region: "` + s("r", 64) + `"}}`,
		},
		"RegionTooLong": {
			reason: "65 characters of region.",
			backup: `{schedule: "@daily", bucket: {name: shared-backups, region: "` + s("r", 65) + `"}}`,
			wantXR: "spec.backup.bucket.region: Too long",
		},
		"PrefixAtLimit": {
			reason: "256 bytes of prefix, the BackupSchedule's limit.",
			backup: `{schedule: "@daily", bucket: {name: shared-backups, prefix: "` + s("p/", 128) + `"}}`,
		},
		"PrefixTooLong": {
			reason: "257 bytes of prefix.",
			backup: `{schedule: "@daily", bucket: {name: shared-backups, prefix: "` + s("p", 257) + `"}}`,
			wantXR: "spec.backup.bucket.prefix: Too long",
		},
		"PrefixTooManyBytes": {
			reason: "129 two-byte characters: few enough characters, too many bytes for an object key.",
			backup: `{schedule: "@daily", bucket: {name: shared-backups, prefix: "` + s("é", 129) + `"}}`,
			wantXR: "at most 256 bytes",
		},
		"PrefixDotDot": {
			reason: "A '..' segment would reach out of the prefix.",
			backup: `{schedule: "@daily", bucket: {name: shared-backups, prefix: "a/../b/"}}`,
			wantXR: "'.' or '..' segments",
		},
		"PrefixEmptySegment": {
			reason: "An empty segment.",
			backup: `{schedule: "@daily", bucket: {name: shared-backups, prefix: "a//b/"}}`,
			wantXR: "empty segments",
		},
		"BucketAtLimit": {
			reason: "A 63-character bucket name.",
			backup: `{schedule: "@daily", bucket: {name: "` + s("b", 63) + `"}}`,
		},
		"BucketIPAddress": {
			reason: "S3 refuses bucket names formatted as an IP address.",
			backup: `{schedule: "@daily", bucket: {name: "192.168.0.1"}}`,
			wantXR: "formatted as an IP address",
		},
		"BucketAdjacentDots": {
			reason: "S3 refuses adjacent dots.",
			backup: `{schedule: "@daily", bucket: {name: "a..b"}}`,
			wantXR: "two adjacent dots",
		},
		"BucketDotHyphen": {
			reason: "S3 refuses a dot next to a hyphen.",
			backup: `{schedule: "@daily", bucket: {name: "a.-b"}}`,
			wantXR: "dot next to a hyphen",
		},
		"BucketReservedPrefix": {
			reason: "S3 reserves xn--.",
			backup: `{schedule: "@daily", bucket: {name: "xn--backups"}}`,
			wantXR: "prefix S3 reserves",
		},
		"BucketReservedSuffix": {
			reason: "S3 reserves -s3alias.",
			backup: `{schedule: "@daily", bucket: {name: "backups-s3alias"}}`,
			wantXR: "suffix S3 reserves",
		},
		"CreatedBucketWithoutRegion": {
			reason: "A created bucket needs a region: the S3 provider requires one, and an empty one is none.",
			backup: `{schedule: "@daily", bucket: {create: true}}`,
			wantXR: "region is required with create: true",
		},
		"CreatedBucketEmptyRegion": {
			reason: "An empty region is no region.",
			backup: `{schedule: "@daily", bucket: {create: true, region: ""}}`,
			wantXR: "region is required with create: true",
		},
		"NamedBucketCreated": {
			reason: "A created bucket cannot be named: it could take over a bucket the cluster does not own.",
			backup: `{schedule: "@daily", bucket: {create: true, region: eu-central-1, name: someone-elses-bucket}}`,
			wantXR: "name cannot be set with create: true",
		},
		"StorageClassName": {
			reason: "A StorageClass name goes into the chart's values.",
			backup: `{schedule: "@daily", bucket: {name: shared-backups}}`,
			spec:   "  persistence: {storageClassName: fast.ssd-1}\n",
		},
		"StorageClassNameInjection": {
			reason: "The chart prints storageClassName unquoted: a newline and '---' would add objects of the tenant's choosing to the release.",
			backup: `{schedule: "@daily", bucket: {name: shared-backups}}`,
			spec:   "  persistence: {storageClassName: \"standard\\n---\\napiVersion: rbac.authorization.k8s.io/v1\\nkind: ClusterRoleBinding\"}\n",
			wantXR: "spec.persistence.storageClassName in body should match",
		},
		"StorageClassNameTooLong": {
			reason: "A StorageClass name is at most 253 characters.",
			backup: `{schedule: "@daily", bucket: {name: shared-backups}}`,
			spec:   "  persistence: {storageClassName: " + s("a", 254) + "}\n",
			wantXR: "may not be more than 253",
		},
		"RetentionAtLimits": {
			reason: "Retention is the BackupSchedule's own type: its largest values pass both.",
			backup: `{schedule: "@daily", retention: {keepLast: 10000, keepDaily: 10000, keepWeekly: 10000, keepMonthly: 10000, retentionDays: 36500}, bucket: {name: shared-backups}}`,
		},
		"RetentionPastLimits": {
			reason: "A keep count past 10,000 is refused: retention's work grows with it.",
			backup: `{schedule: "@daily", retention: {keepDaily: 10001}, bucket: {name: shared-backups}}`,
			wantXR: "should be less than or equal to 10000",
		},
		"ProviderConfig": {
			reason: "The providerConfigRef is copied as is, up to the 63 characters of the label Crossplane puts its name in.",
			backup: `{schedule: "@daily", bucket: {name: shared-backups}, providerConfigRef: {kind: ProviderConfig, name: "` + s("p", 63) + `"}}`,
		},
		"ProviderConfigTooLong": {
			reason: "A 64-character providerConfigRef name could never be used: the ProviderConfigUsage label refuses it.",
			backup: `{schedule: "@daily", bucket: {name: shared-backups}, providerConfigRef: {kind: ProviderConfig, name: "` + s("p", 64) + `"}}`,
			wantXR: "providerConfigRef.name must be at most 63 characters",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			xr := obj(t, "apiVersion: qdrantops.io/v1alpha1\nkind: QdrantCluster\nmetadata: {name: search}\nspec:\n  version: 1.19.0\n  backup: "+tc.backup+"\n"+tc.spec)
			xr.SetNamespace(or(tc.namespace, ns))
			xr.SetName(or(tc.name, "search"))
			err := env.Client.Create(context.Background(), xr, client.DryRunAll)
			switch {
			case tc.wantXR == "" && err != nil:
				t.Fatalf("%s\nthe QdrantCluster was rejected: %v", tc.reason, err)
			case tc.wantXR != "" && err == nil:
				t.Fatalf("%s\nthe QdrantCluster was accepted; want it rejected with %q", tc.reason, tc.wantXR)
			case tc.wantXR != "":
				if !strings.Contains(err.Error(), tc.wantXR) {
					t.Fatalf("%s\nwant the rejection to say %q, got: %v", tc.reason, tc.wantXR, err)
				}
				return
			}
			// The XR as the apiserver holds it, defaults applied, is what
			// the function sees.
			bs := composeSchedule(t, xr)
			if bs == nil {
				t.Fatalf("%s\nthe function composed no BackupSchedule", tc.reason)
			}
			if err := env.Client.Create(context.Background(), bs, client.DryRunAll); err != nil {
				t.Errorf("%s\nthe QdrantCluster was accepted but the BackupSchedule composed from it is rejected: %v", tc.reason, err)
			}
		})
	}
}

// TestObservedScheduleIsWhatTheApiserverHolds checks that the golden
// renders' observed BackupSchedule is a state the product reaches: the
// function's BackupSchedule for the render XR is applied to a real apiserver
// and reconciled by the real provider binary, and each fixture must hold what
// the apiserver then holds: the spec with the CRD's defaults, and the status
// the controller writes (conditions by type, status and reason; which
// atProvider fields are set). Times differ from run to run; the fixture's
// must agree with one another: its next backup is the schedule's next tick
// after the fixture's schedule became Ready.
func TestObservedScheduleIsWhatTheApiserverHolds(t *testing.T) {
	env := startControlPlane(t)
	xrs, err := testenv.ReadObjects(filepath.Join("testdata", "render", "xr.yaml"))
	if err != nil || len(xrs) != 1 {
		t.Fatalf("want one XR in testdata/render/xr.yaml: %v", err)
	}
	createNamespace(t, env.Client, xrs[0].GetNamespace())
	composed := composeSchedule(t, xrs[0])
	if composed == nil {
		t.Fatal("the function composed no BackupSchedule for testdata/render/xr.yaml")
	}
	if err := env.Client.Create(context.Background(), composed); err != nil {
		t.Fatalf("the composed BackupSchedule is rejected: %v", err)
	}
	log := runProvider(t, env)
	held := &unstructured.Unstructured{}
	held.SetGroupVersionKind(composed.GroupVersionKind())
	deadline := time.Now().Add(90 * time.Second)
	for {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(composed), held); err != nil {
			t.Fatal(err)
		}
		if c := conditionOf(held, "Ready"); c["status"] == "True" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the provider did not make the BackupSchedule Ready in 90s; it holds status %v\nprovider log:\n%s", held.Object["status"], providerLog(t, log))
		}
		time.Sleep(200 * time.Millisecond)
	}

	checked := 0
	for _, f := range []string{"observed-ready.yaml", "observed-not-ready.yaml"} {
		objs, err := testenv.ReadObjects(filepath.Join("testdata", "render", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.GetKind() != "BackupSchedule" {
				continue
			}
			checked++
			for k, v := range held.GetAnnotations() {
				if o.GetAnnotations()[k] != v {
					t.Errorf("%s: the observed BackupSchedule lacks annotation %s: %s, which the apiserver holds", f, k, v)
				}
			}
			if diff := cmp.Diff(held.GetFinalizers(), o.GetFinalizers()); diff != "" {
				t.Errorf("%s: the observed BackupSchedule's finalizers are not what the apiserver holds (-held +fixture):\n%s", f, diff)
			}
			if diff := cmp.Diff(held.Object["spec"], o.Object["spec"]); diff != "" {
				t.Errorf("%s: the observed BackupSchedule's spec is not what the apiserver holds (-held +fixture):\n%s", f, diff)
			}
			if diff := cmp.Diff(conditionsOf(held), conditionsOf(o)); diff != "" {
				t.Errorf("%s: the observed BackupSchedule's conditions are not what the controller writes (-held +fixture):\n%s", f, diff)
			}
			if diff := cmp.Diff(atProviderFields(held), atProviderFields(o)); diff != "" {
				t.Errorf("%s: the observed BackupSchedule's status.atProvider sets other fields than the controller does (-held +fixture):\n%s", f, diff)
			}
			if err := nextTickAfterReady(o); err != nil {
				t.Errorf("%s: the observed BackupSchedule's times disagree: %v", f, err)
			}
		}
	}
	if checked == 0 {
		t.Error("no fixture has an observed BackupSchedule: the golden renders never show a schedule's report")
	}
}

// conditionOf is the condition of type typ of u, or nil.
func conditionOf(u *unstructured.Unstructured, typ string) map[string]any {
	cs, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range cs {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}

// conditionsOf is "type=status/reason" for each condition of u, sorted: what
// a reader of the conditions goes by, without times and messages.
func conditionsOf(u *unstructured.Unstructured) []string {
	cs, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		m, _ := c.(map[string]any)
		out = append(out, sprintf("%v=%v/%v", m["type"], m["status"], m["reason"]))
	}
	sortStrings(out)
	return out
}

// atProviderFields are the names of the status.atProvider fields u sets.
func atProviderFields(u *unstructured.Unstructured) []string {
	at, _, _ := unstructured.NestedMap(u.Object, "status", "atProvider")
	out := make([]string, 0, len(at))
	for k := range at {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}

// nextTickAfterReady says whether u's nextBackupTime, if set, is the first
// tick of its schedule after its Ready condition's lastTransitionTime.
func nextTickAfterReady(u *unstructured.Unstructured) error {
	next, ok, _ := unstructured.NestedString(u.Object, "status", "atProvider", "nextBackupTime")
	if !ok {
		return nil
	}
	ready, _ := conditionOf(u, "Ready")["lastTransitionTime"].(string)
	since, err := time.Parse(time.RFC3339, ready)
	if err != nil {
		return fmt.Errorf("cannot parse the Ready condition's lastTransitionTime %q: %w", ready, err)
	}
	spec, _, _ := unstructured.NestedString(u.Object, "spec", "forProvider", "schedule")
	tz, _, _ := unstructured.NestedString(u.Object, "spec", "forProvider", "timeZone")
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return fmt.Errorf("cannot load time zone %q: %w", tz, err)
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return fmt.Errorf("cannot parse schedule %q: %w", spec, err)
	}
	if want := s.Next(since.In(loc)).UTC().Format(time.RFC3339); next != want {
		return fmt.Errorf("nextBackupTime is %s; the first tick of %q in %s after the schedule became Ready at %s is %s", next, spec, or(tz, "UTC"), ready, want)
	}
	return nil
}

func obj(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatalf("bad fixture: %v", err)
	}
	return u
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
