package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
)

func TestMetricsValues(t *testing.T) {
	cases := map[string]struct {
		reason string
		xr     string
		want   map[string]any
	}{
		"Disabled": {
			reason: "Without metrics the chart renders no ServiceMonitor, and nothing says how to authorize one.",
			want:   map[string]any{"serviceMonitor": map[string]any{"enabled": false}},
		},
		"GeneratedKey": {
			reason: "Qdrant serves /metrics only with the API key: the ServiceMonitor authorizes with the key Secret the function composes.",
			xr:     `, "metrics": {"enabled": true}`,
			want: map[string]any{"serviceMonitor": map[string]any{
				"enabled":       true,
				"authorization": map[string]any{"type": "Bearer", "credentials": map[string]any{"name": "search-api-key", "key": "api-key"}},
			}},
		},
		"ReferencedKey": {
			reason: "A key from the user's own Secret is the one Qdrant checks: the ServiceMonitor reads that Secret.",
			xr:     `, "metrics": {"enabled": true}, "apiKey": {"secretRef": {"name": "my-key", "key": "token"}}`,
			want: map[string]any{"serviceMonitor": map[string]any{
				"enabled":       true,
				"authorization": map[string]any{"type": "Bearer", "credentials": map[string]any{"name": "my-key", "key": "token"}},
			}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := run(t, bytes.Repeat([]byte{9}, 32), &fnv1.RunFunctionRequest{Observed: &fnv1.State{Composite: xr(tc.xr)}})
			if r.fatal != "" {
				t.Fatalf("%s\n%s", tc.reason, r.fatal)
			}
			if diff := cmp.Diff(tc.want, at(r.resources["release"], "spec", "forProvider", "values", "metrics")); diff != "" {
				t.Errorf("%s\nmetrics values: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestVolumeSize(t *testing.T) {
	q := resource.MustParse
	noStatefulSet := statefulSetVolume{known: true}
	withStatefulSet := func(size string) statefulSetVolume { return statefulSetVolume{known: true, exists: true, size: size} }
	cases := map[string]struct {
		reason     string
		want       resource.Quantity
		released   string
		sts        statefulSetVolume
		wantSize   string
		wantReason string // "" when the size is not refused
	}{
		"FirstReconcile": {
			reason: "Nothing exists yet: the spec's size.",
			want:   q("20Gi"), sts: noStatefulSet,
			wantSize: "20Gi",
		},
		"Default": {
			reason:   "An XR read without the XRD's default asks for the default.",
			sts:      noStatefulSet,
			wantSize: "10Gi",
		},
		"Unchanged": {
			reason: "The size the volumes have.",
			want:   q("10Gi"), released: "10Gi", sts: withStatefulSet("10Gi"),
			wantSize: "10Gi",
		},
		"OtherSpelling": {
			reason: "Another spelling of the size the volumes have changes nothing in the values.",
			want:   q("10240Mi"), released: "10Gi", sts: withStatefulSet("10Gi"),
			wantSize: "10Gi",
		},
		"ShrinkRefused": {
			reason: "Volumes cannot shrink: the StatefulSet's size stays.",
			want:   q("10Gi"), released: "50Gi", sts: withStatefulSet("50Gi"),
			wantSize: "50Gi", wantReason: reasonShrinkRefused,
		},
		"ShrinkRefusedWithoutStatefulSet": {
			reason: "Without a StatefulSet the volumes still have the Release's size, and cannot shrink.",
			want:   q("10Gi"), released: "50Gi", sts: noStatefulSet,
			wantSize: "50Gi", wantReason: reasonShrinkRefused,
		},
		"GrowthRefused": {
			reason: "Growing the StatefulSet's claim template fails the Helm upgrade: the size stays and the refusal says why.",
			want:   q("20Gi"), released: "10Gi", sts: withStatefulSet("10Gi"),
			wantSize: "10Gi", wantReason: reasonGrowthRefused,
		},
		"GrowthRefusedStatefulSetUnknown": {
			reason: "Before Crossplane says whether the StatefulSet exists, growth is refused: it may well exist.",
			want:   q("20Gi"), released: "10Gi", sts: statefulSetVolume{},
			wantSize: "10Gi", wantReason: reasonGrowthRefused,
		},
		"GrowsWithoutStatefulSet": {
			reason: "The StatefulSet deleted (with --cascade=orphan, after the claims grew by hand): Helm creates it anew at the new size.",
			want:   q("20Gi"), released: "10Gi", sts: noStatefulSet,
			wantSize: "20Gi",
		},
		"FailedGrowthUndone": {
			reason: "A Release that already asks for more than the StatefulSet has (an upgrade that failed before) goes back to the StatefulSet's size, so that it deploys again.",
			want:   q("20Gi"), released: "20Gi", sts: withStatefulSet("10Gi"),
			wantSize: "10Gi", wantReason: reasonGrowthRefused,
		},
		"StatefulSetWithoutTemplate": {
			reason: "A StatefulSet without the storage claim template: the Release's size is the volumes' size.",
			want:   q("20Gi"), released: "10Gi", sts: withStatefulSet(""),
			wantSize: "10Gi", wantReason: reasonGrowthRefused,
		},
		"UnreadableReleasedSize": {
			reason: "An observed size that does not parse shows nothing about the volumes: the spec's size.",
			want:   q("20Gi"), released: "lots", sts: noStatefulSet,
			wantSize: "20Gi",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, refused := volumeSize("search", tc.want, tc.released, tc.sts)
			gotReason := ""
			if refused != nil {
				gotReason = refused.reason
			}
			if diff := cmp.Diff([]string{tc.wantSize, tc.wantReason}, []string{got.String(), gotReason}); diff != "" {
				t.Errorf("%s\nsize and refusal: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// statefulSetWithStorage is the chart's StatefulSet as the apiserver holds
// it, with the storage claim template's size.
const statefulSetWithStorage = `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"search","namespace":"team-a"},
 "spec":{"template":{"spec":{"containers":[{"name":"qdrant","image":"qdrant/qdrant:v1.19.0"}]}},
  "volumeClaimTemplates":[{"metadata":{"name":"qdrant-storage"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"%s"}}}}]},
 "status":{"readyReplicas":3,"updatedReplicas":3,"currentRevision":"a","updateRevision":"a"}}`

func TestPersistenceResized(t *testing.T) {
	key := obs(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"search-api-key"},"data":{"api-key":"a2V5"}}`)
	noStatefulSet := map[string]*fnv1.Resources{"statefulset": {}}
	cases := map[string]struct {
		reason      string
		size        string // spec.persistence.size
		released    string
		sts         map[string]*fnv1.Resources
		wantSize    string
		wantStatus  string
		wantReason  string
		wantMessage []string // parts of the condition's message, and of the warning when refused
	}{
		"Applied": {
			reason: "The size the volumes have: the condition says so, clearing any earlier refusal.",
			size:   "10Gi", released: "10Gi", sts: map[string]*fnv1.Resources{"statefulset": {Items: []*fnv1.Resource{obs(sprintf(statefulSetWithStorage, "10Gi"))}}},
			wantSize: "10Gi", wantStatus: "True", wantReason: reasonSizeApplied,
		},
		"GrowthRefused": {
			reason: "Growth with a StatefulSet is refused: the Release keeps its size, so it stays deployed, and the XR says how to grow by hand.",
			size:   "20Gi", released: "10Gi", sts: map[string]*fnv1.Resources{"statefulset": {Items: []*fnv1.Resource{obs(sprintf(statefulSetWithStorage, "10Gi"))}}},
			wantSize: "10Gi", wantStatus: "False", wantReason: reasonGrowthRefused,
			wantMessage: []string{"cannot grow from 10Gi to 20Gi", "PersistentVolumeClaim qdrant-storage-search-<ordinal> to 20Gi", "kubectl delete statefulset search --cascade=orphan"},
		},
		"GrownWithoutStatefulSet": {
			reason: "Once the StatefulSet is gone, the Release asks for the new size.",
			size:   "20Gi", released: "10Gi", sts: noStatefulSet,
			wantSize: "20Gi", wantStatus: "True", wantReason: reasonSizeApplied,
		},
		"ShrinkRefused": {
			reason: "Shrinking is refused as before.",
			size:   "10Gi", released: "50Gi", sts: map[string]*fnv1.Resources{"statefulset": {Items: []*fnv1.Resource{obs(sprintf(statefulSetWithStorage, "50Gi"))}}},
			wantSize: "50Gi", wantStatus: "False", wantReason: reasonShrinkRefused,
			wantMessage: []string{"cannot shrink from 50Gi to 10Gi"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			x := strings.Replace(xrBase, `"size": "10Gi"`, `"size": "`+tc.size+`"`, 1)
			req := &fnv1.RunFunctionRequest{
				Observed: &fnv1.State{
					Composite: obs(strings.Replace(x, "%s", "", 1)),
					Resources: map[string]*fnv1.Resource{"release": obs(sprintf(releaseReady, tc.released)), "api-key": key},
				},
				RequiredResources: tc.sts,
			}
			r := run(t, nil, req)
			if r.fatal != "" {
				t.Fatalf("%s\n%s", tc.reason, r.fatal)
			}
			if got := at(r.resources["release"], "spec", "forProvider", "values", "persistence", "size"); got != tc.wantSize {
				t.Errorf("%s\nvolume size: want %s, got %v", tc.reason, tc.wantSize, got)
			}
			c := r.condition[typePersistenceResized]
			if c == nil {
				t.Fatalf("%s\nno %s condition; got %v", tc.reason, typePersistenceResized, r.conds)
			}
			got := []string{strings.TrimPrefix(c.GetStatus().String(), "STATUS_CONDITION_"), c.GetReason(), c.GetTarget().String()}
			want := []string{strings.ToUpper(tc.wantStatus), tc.wantReason, fnv1.Target_TARGET_COMPOSITE.String()}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s\n%s condition (status, reason, target): -want, +got:\n%s", tc.reason, typePersistenceResized, diff)
			}
			for _, part := range tc.wantMessage {
				if !strings.Contains(c.GetMessage(), part) {
					t.Errorf("%s\ncondition message %q does not say %q", tc.reason, c.GetMessage(), part)
				}
			}
			if refused := tc.wantStatus == "False"; refused != (len(r.warnings) == 1) {
				t.Errorf("%s\nwant one warning exactly when the size is refused; got %v", tc.reason, r.warnings)
			}
		})
	}
}
