package schedule

import (
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"testing/quick"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestBackupName(t *testing.T) {
	// 2026-05-04T13:00:00Z; ten digits, as every tick until 2286.
	tick := time.Unix(1777899600, 0)
	cases := map[string]struct {
		reason   string
		schedule string
		tick     time.Time
		want     string
	}{
		"Short": {
			reason:   "A short name is kept whole.",
			schedule: "nightly",
			tick:     tick,
			want:     "nightly-1777899600",
		},
		"FractionDropped": {
			reason:   "The name counts whole seconds.",
			schedule: "nightly",
			tick:     tick.Add(999 * time.Millisecond),
			want:     "nightly-1777899600",
		},
		"LongestScheduleKeptWhole": {
			reason:   "The CRD's longest schedule name, 52 characters, plus an 11-character suffix is 63: nothing is cut.",
			schedule: strings.Repeat("a", 52),
			tick:     tick,
			want:     strings.Repeat("a", 52) + "-1777899600",
		},
		"LongerScheduleCut": {
			reason:   "A longer schedule name is cut to leave room for the suffix.",
			schedule: strings.Repeat("b", 70),
			tick:     tick,
			want:     strings.Repeat("b", 52) + "-1777899600",
		},
		"LaterTickCutsMore": {
			reason:   "An eleven-digit tick (after 2286) takes one more character from the schedule.",
			schedule: strings.Repeat("a", 52),
			tick:     time.Unix(10000000000, 0),
			want:     strings.Repeat("a", 51) + "-10000000000",
		},
		"DotsBecomeDashes": {
			reason:   "A Kubernetes name may hold dots, a DNS label may not.",
			schedule: "qdrant.prod",
			tick:     tick,
			want:     "qdrant-prod-1777899600",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := BackupName(tc.schedule, tc.tick)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("\n%s\nBackupName(%q, %v): -want, +got:\n%s", tc.reason, tc.schedule, tc.tick, diff)
			}
		})
	}
}

// nameInput is a schedule name Kubernetes accepts (a DNS-1123 subdomain, of
// any length up to 253, so cutting is exercised) and two distinct ticks
// between 1970 and the year 9999.
type nameInput struct {
	Schedule string
	A, B     time.Time
}

func (nameInput) Generate(r *rand.Rand, _ int) reflect.Value {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	const inner = alnum + "-."
	n := 1 + r.Intn(253)
	b := make([]byte, n)
	for i := range b {
		b[i] = inner[r.Intn(len(inner))]
	}
	// A subdomain is dot-separated labels that start and end alphanumeric.
	for i := range b {
		if (i == 0 || i == n-1 || b[i-1] == '.' || b[i+1] == '.') && !strings.ContainsRune(alnum, rune(b[i])) {
			b[i] = alnum[r.Intn(len(alnum))]
		}
	}
	// Mostly nearby ticks, which share a length, sometimes far apart ones.
	const year9999 = 253402300799
	a := r.Int63n(year9999)
	d := r.Int63n(1000) + 1
	if r.Intn(4) == 0 {
		d = r.Int63n(year9999-a) + 1
	}
	if a+d > year9999 {
		d = -d
	}
	return reflect.ValueOf(nameInput{Schedule: string(b), A: time.Unix(a, 0), B: time.Unix(a+d, 0)})
}

func TestBackupNameProperties(t *testing.T) {
	valid := func(in nameInput) bool {
		if errs := validation.IsDNS1123Subdomain(in.Schedule); len(errs) > 0 {
			t.Fatalf("generator made an invalid schedule name %q: %v", in.Schedule, errs)
		}
		for _, tick := range []time.Time{in.A, in.B} {
			name := BackupName(in.Schedule, tick)
			if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
				t.Logf("BackupName(%q, %d) = %q: %v", in.Schedule, tick.Unix(), name, errs)
				return false
			}
			if BackupName(in.Schedule, tick) != name {
				t.Logf("BackupName(%q, %d) is not stable", in.Schedule, tick.Unix())
				return false
			}
		}
		return true
	}
	unique := func(in nameInput) bool {
		a, b := BackupName(in.Schedule, in.A), BackupName(in.Schedule, in.B)
		if a == b {
			t.Logf("ticks %d and %d of %q share the name %q", in.A.Unix(), in.B.Unix(), in.Schedule, a)
			return false
		}
		return true
	}
	cfg := &quick.Config{MaxCount: 5000}
	if err := quick.Check(valid, cfg); err != nil {
		t.Errorf("Backup names must be DNS labels of at most 63 characters, the same for the same tick: %v", err)
	}
	if err := quick.Check(unique, cfg); err != nil {
		t.Errorf("Two ticks of a schedule must never share a Backup name: %v", err)
	}
}
