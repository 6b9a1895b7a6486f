package retention

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
)

func TestPolicyFrom(t *testing.T) {
	cases := map[string]struct {
		reason string
		rp     *v1alpha1.RetentionPolicy
		want   Policy
	}{
		"Absent": {
			reason: "A schedule without a retention policy has no rule, which keeps everything.",
			want:   Policy{},
		},
		"Partial": {
			reason: "Unset fields are 0, set ones carried over.",
			rp:     &v1alpha1.RetentionPolicy{KeepDaily: ptr.To[int32](7), RetentionDays: ptr.To[int32](90)},
			want:   Policy{KeepDaily: 7, RetentionDays: 90},
		},
		"Full": {
			reason: "Every field lands in its own place.",
			rp: &v1alpha1.RetentionPolicy{
				KeepLast: ptr.To[int32](1), KeepDaily: ptr.To[int32](2), KeepWeekly: ptr.To[int32](3),
				KeepMonthly: ptr.To[int32](4), RetentionDays: ptr.To[int32](5),
			},
			want: Policy{KeepLast: 1, KeepDaily: 2, KeepWeekly: 3, KeepMonthly: 4, RetentionDays: 5},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, PolicyFrom(tc.rp)); diff != "" {
				t.Errorf("\n%s\nPolicyFrom(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
