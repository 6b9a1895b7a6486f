package main

import (
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
)

// s3NameProblem says why S3 would refuse a bucket name, or "" when it would
// not: S3's general purpose bucket naming rules.
func s3NameProblem(n string) string {
	switch {
	case len(n) < 3 || len(n) > 63:
		return "not 3 to 63 characters"
	case !regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`).MatchString(n):
		return "not lowercase letters, digits, dots and hyphens between a letter or digit"
	case strings.Contains(n, ".."), strings.Contains(n, ".-"), strings.Contains(n, "-."):
		return "adjacent dots, or a dot next to a hyphen"
	case regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$`).MatchString(n):
		return "formatted as an IP address"
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(n, p) {
			return "reserved prefix " + p
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(n, s) {
			return "reserved suffix " + s
		}
	}
	return ""
}

// testUID is a QdrantCluster's UID, as the apiserver would give it.
const testUID = "5f0c1e2a-0000-4000-8000-000000000001"

func TestGeneratedBucketName(t *testing.T) {
	long := strings.Repeat
	cases := map[string]struct {
		reason    string
		namespace string
		name      string
		want      string // "" to check only the rules
	}{
		"Readable": {
			reason:    "Namespace, cluster and 'backups' stay readable; sha256(\"team-a/search/\" + testUID) begins 9860ea6c.",
			namespace: "team-a", name: "search",
			want: "team-a-search-backups-9860ea6c",
		},
		"Longest": {
			reason:    "The longest namespace (63) and QdrantCluster name (52) are cut to fit 63 characters with the hash.",
			namespace: long("n", 63), name: long("c", 52),
		},
		"CutAtHyphen": {
			reason:    "A cut that ends on a hyphen drops it rather than leave a double hyphen before the hash.",
			namespace: long("n", 53), name: "c",
		},
		"ReservedPrefix": {
			reason:    "A namespace may begin with a prefix S3 reserves (xn--, sthree-); the name then gets a prefix of its own.",
			namespace: "xn--team", name: "search",
		},
		"ReservedPrefixSthree": {
			reason:    "sthree- is reserved too.",
			namespace: "sthree-team", name: "search",
		},
		"Dotted": {
			reason:    "Dots would break virtual-hosted TLS; they become hyphens.",
			namespace: "team", name: "a.b",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := generatedBucketName(tc.namespace, tc.name, testUID)
			if tc.want != "" && got != tc.want {
				t.Errorf("%s\nwant %q, got %q", tc.reason, tc.want, got)
			}
			if p := s3NameProblem(got); p != "" {
				t.Errorf("%s\n%q breaks S3's naming rules: %s", tc.reason, got, p)
			}
			if strings.Contains(got, "--") && !strings.Contains(tc.namespace+tc.name, "--") {
				t.Errorf("%s\n%q has a double hyphen its inputs do not have", tc.reason, got)
			}
			if strings.Contains(got, ".") {
				t.Errorf("%s\n%q has a dot", tc.reason, got)
			}
			if again := generatedBucketName(tc.namespace, tc.name, testUID); again != got {
				t.Errorf("%s\nnot deterministic: %q then %q", tc.reason, got, again)
			}
		})
	}
}

func TestGeneratedBucketNamesDoNotCollide(t *testing.T) {
	cases := map[string]struct {
		reason string
		a, b   [3]string // namespace, name, UID
	}{
		"HyphenShift": {
			reason: "Namespace a-b with cluster c reads the same as namespace a with cluster b-c.",
			a:      [3]string{"a-b", "c", testUID}, b: [3]string{"a", "b-c", testUID},
		},
		"SameAfterCut": {
			reason: "Two long names that differ only past the cut.",
			a:      [3]string{"team", strings.Repeat("x", 51) + "1", testUID}, b: [3]string{"team", strings.Repeat("x", 51) + "2", testUID},
		},
		"DotAndHyphen": {
			reason: "A dot becomes a hyphen, so a.b and a-b read the same.",
			a:      [3]string{"team", "a.b", testUID}, b: [3]string{"team", "a-b", testUID},
		},
		"SameNameOtherUID": {
			reason: "A namespace and cluster made again under the old names (or a name computed before the XR exists) get another bucket: the UID is in the hash.",
			a:      [3]string{"team", "search", testUID}, b: [3]string{"team", "search", "5f0c1e2a-0000-4000-8000-000000000002"},
		},
		"ReservedPrefixAdded": {
			reason: "The prefix added before a reserved one reads like a namespace named qdrant-xn--team.",
			a:      [3]string{"xn--team", "c", testUID}, b: [3]string{"qdrant-xn--team", "c", testUID},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			x, y := generatedBucketName(tc.a[0], tc.a[1], tc.a[2]), generatedBucketName(tc.b[0], tc.b[1], tc.b[2])
			if x == y {
				t.Errorf("%s\n%s/%s and %s/%s share bucket %q", tc.reason, tc.a[0], tc.a[1], tc.b[0], tc.b[1], x)
			}
		})
	}
}

// TestBucketResourcesRegion checks that a bucket's resources carry its region,
// and no region key at all when it has none (an XR stored before the XRD
// required one with create: true): "" is no region, and the S3 provider
// would take it as one.
func TestBucketResourcesRegion(t *testing.T) {
	cases := map[string]struct {
		reason string
		region string
		want   any
	}{
		"Region":   {reason: "The region is copied onto every resource.", region: "eu-central-1", want: "eu-central-1"},
		"NoRegion": {reason: "No region composes no region key.", region: "", want: nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			xr := &v1alpha1.QdrantCluster{}
			xr.SetName("search")
			xr.SetNamespace("team-a")
			xr.Spec.Backup = &v1alpha1.Backup{Schedule: "@daily", Bucket: v1alpha1.Bucket{Create: true, Region: tc.region}}
			for rn, o := range bucketResources(xr, "team-a-search-backups") {
				got, found, err := unstructured.NestedFieldNoCopy(o.Object, "spec", "forProvider", "region")
				if err != nil {
					t.Fatal(err)
				}
				if !found {
					got = nil
				}
				if got != tc.want {
					t.Errorf("%s\n%s: spec.forProvider.region = %#v (present %t), want %#v", tc.reason, rn, got, found, tc.want)
				}
			}
		})
	}
}
