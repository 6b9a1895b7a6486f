package retention

import (
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"testing/quick"
	"time"
	_ "time/tzdata" // The tests need America/New_York and Asia/Tokyo on any host.

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("cannot load time zone %q: %v", name, err)
	}
	return loc
}

// at parses an RFC 3339 time; the fixtures spell out their offsets so that the
// local day each backup falls on can be read off the case.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("cannot parse time %q: %v", s, err)
	}
	return ts
}

type backupModifier func(*Backup)

func completed(b *Backup) { b.Completed = true }
func failed(b *Backup)    { b.Failed = true }
func running(*Backup)     {}

func backup(name string, ts time.Time, m backupModifier) Backup {
	b := Backup{Name: name, Time: ts}
	m(&b)
	return b
}

func TestPrune(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour

	type args struct {
		backups []Backup
		policy  Policy
		now     time.Time
		loc     *time.Location
	}
	type want struct {
		prune []string
		kept  int
	}
	cases := map[string]struct {
		reason string
		args   args
		want   want
	}{
		"NoBackups": {
			reason: "A schedule without backups has nothing to prune.",
			args:   args{policy: Policy{KeepLast: 3}, now: now, loc: time.UTC},
			want:   want{},
		},
		"EmptyPolicyKeepsEverything": {
			reason: "A policy with no keep rule keeps every Completed backup: no policy must never mean deleting users' backups.",
			args: args{
				backups: []Backup{
					backup("a", now.Add(-3*day), completed),
					backup("b", now.Add(-2*day), completed),
					backup("c", now.Add(-1*day), completed),
				},
				now: now, loc: time.UTC,
			},
			want: want{kept: 3},
		},
		"NegativeValuesCountAsZero": {
			reason: "Negative keep counts are no rule at all, so everything is kept.",
			args: args{
				backups: []Backup{
					backup("a", now.Add(-2*day), completed),
					backup("b", now.Add(-1*day), completed),
				},
				policy: Policy{KeepLast: -1, KeepDaily: -2, KeepWeekly: -3, KeepMonthly: -4, RetentionDays: -5},
				now:    now, loc: time.UTC,
			},
			want: want{kept: 2},
		},
		"KeepLast": {
			reason: "KeepLast keeps the newest n Completed backups, whatever their input order.",
			args: args{
				backups: []Backup{
					backup("b3", now.Add(-3*time.Hour), completed),
					backup("b1", now.Add(-1*time.Hour), completed),
					backup("b5", now.Add(-5*time.Hour), completed),
					backup("b2", now.Add(-2*time.Hour), completed),
					backup("b4", now.Add(-4*time.Hour), completed),
				},
				policy: Policy{KeepLast: 2},
				now:    now, loc: time.UTC,
			},
			want: want{prune: []string{"b3", "b4", "b5"}, kept: 2},
		},
		"EqualTimesBreakTiesByName": {
			reason: "Of two backups with the same time the greater name counts as newer, so the result does not depend on input order.",
			args: args{
				backups: []Backup{
					backup("tick-b", now, completed),
					backup("tick-a", now, completed),
				},
				policy: Policy{KeepLast: 1},
				now:    now, loc: time.UTC,
			},
			want: want{prune: []string{"tick-a"}, kept: 1},
		},
		"DailyInNewYork": {
			reason: "Days are the schedule's days: 23:30 and 20:00 on March 10 in New York are March 11 in UTC, and only the later is the newest of its New York day.",
			args: args{
				backups: []Backup{
					backup("mar09-noon", at(t, "2026-03-09T12:00:00-04:00"), completed),
					backup("mar10-2000", at(t, "2026-03-10T20:00:00-04:00"), completed),
					backup("mar10-2330", at(t, "2026-03-10T23:30:00-04:00"), completed),
					backup("mar11-noon", at(t, "2026-03-11T12:00:00-04:00"), completed),
				},
				policy: Policy{KeepDaily: 2},
				now:    now, loc: ny,
			},
			want: want{prune: []string{"mar09-noon", "mar10-2000"}, kept: 2},
		},
		"DailyInUTC": {
			reason: "The same backups in UTC: both March 10 evening backups in New York fall on March 11, so March 9 is the second day kept.",
			args: args{
				backups: []Backup{
					backup("mar09-noon", at(t, "2026-03-09T12:00:00-04:00"), completed),
					backup("mar10-2000", at(t, "2026-03-10T20:00:00-04:00"), completed),
					backup("mar10-2330", at(t, "2026-03-10T23:30:00-04:00"), completed),
					backup("mar11-noon", at(t, "2026-03-11T12:00:00-04:00"), completed),
				},
				policy: Policy{KeepDaily: 2},
				now:    now, loc: time.UTC,
			},
			want: want{prune: []string{"mar10-2000", "mar10-2330"}, kept: 2},
		},
		"DailyCountsOnlyDaysWithBackups": {
			reason: "KeepDaily counts the most recent days that have a backup; days without one do not use up the count.",
			args: args{
				backups: []Backup{
					backup("d01", at(t, "2026-06-01T02:00:00Z"), completed),
					backup("d05", at(t, "2026-06-05T02:00:00Z"), completed),
					backup("d09", at(t, "2026-06-09T02:00:00Z"), completed),
					backup("d10", at(t, "2026-06-10T02:00:00Z"), completed),
				},
				policy: Policy{KeepDaily: 3},
				now:    now, loc: time.UTC,
			},
			want: want{prune: []string{"d01"}, kept: 3},
		},
		"WeeklyAcrossISOYearBoundary": {
			reason: "2026 has an ISO week 53 running from Monday 2026-12-28 to Sunday 2027-01-03; it is one week although it spans two calendar years.",
			args: args{
				backups: []Backup{
					backup("2026-12-27-w52", at(t, "2026-12-27T12:00:00Z"), completed),
					backup("2026-12-28-w53", at(t, "2026-12-28T12:00:00Z"), completed),
					backup("2026-12-31-w53", at(t, "2026-12-31T12:00:00Z"), completed),
					backup("2027-01-01-w53", at(t, "2027-01-01T12:00:00Z"), completed),
					backup("2027-01-03-w53", at(t, "2027-01-03T12:00:00Z"), completed),
					backup("2027-01-04-w01", at(t, "2027-01-04T12:00:00Z"), completed),
				},
				policy: Policy{KeepWeekly: 2},
				now:    now, loc: time.UTC,
			},
			want: want{
				prune: []string{"2026-12-27-w52", "2026-12-28-w53", "2026-12-31-w53", "2027-01-01-w53"},
				kept:  2,
			},
		},
		"WeeklyInNewYork": {
			reason: "03:00 UTC on Monday 2027-01-04 is Sunday evening in New York, still ISO week 2026-W53 there, so it supersedes the Saturday backup.",
			args: args{
				backups: []Backup{
					backup("w52", at(t, "2026-12-27T12:00:00Z"), completed),
					backup("sat", at(t, "2027-01-02T12:00:00Z"), completed),
					backup("sun-evening", at(t, "2027-01-04T03:00:00Z"), completed),
				},
				policy: Policy{KeepWeekly: 2},
				now:    now, loc: ny,
			},
			want: want{prune: []string{"sat"}, kept: 2},
		},
		"WeeklyInUTC": {
			reason: "The same backups in UTC: the Monday backup opens week 2027-W01, so week 52 falls out.",
			args: args{
				backups: []Backup{
					backup("w52", at(t, "2026-12-27T12:00:00Z"), completed),
					backup("sat", at(t, "2027-01-02T12:00:00Z"), completed),
					backup("sun-evening", at(t, "2027-01-04T03:00:00Z"), completed),
				},
				policy: Policy{KeepWeekly: 2},
				now:    now, loc: time.UTC,
			},
			want: want{prune: []string{"w52"}, kept: 2},
		},
		"MonthlyInNewYork": {
			reason: "23:30 on January 31 in New York is February in UTC; in New York it is the newest of January.",
			args: args{
				backups: []Backup{
					backup("dec20", at(t, "2025-12-20T12:00:00-05:00"), completed),
					backup("jan15", at(t, "2026-01-15T12:00:00-05:00"), completed),
					backup("jan31-late", at(t, "2026-01-31T23:30:00-05:00"), completed),
					backup("feb10", at(t, "2026-02-10T12:00:00-05:00"), completed),
				},
				policy: Policy{KeepMonthly: 2},
				now:    now, loc: ny,
			},
			want: want{prune: []string{"dec20", "jan15"}, kept: 2},
		},
		"MonthlyInUTC": {
			reason: "The same backups in UTC: the late January backup is February's, so January 15 is January's newest.",
			args: args{
				backups: []Backup{
					backup("dec20", at(t, "2025-12-20T12:00:00-05:00"), completed),
					backup("jan15", at(t, "2026-01-15T12:00:00-05:00"), completed),
					backup("jan31-late", at(t, "2026-01-31T23:30:00-05:00"), completed),
					backup("feb10", at(t, "2026-02-10T12:00:00-05:00"), completed),
				},
				policy: Policy{KeepMonthly: 2},
				now:    now, loc: time.UTC,
			},
			want: want{prune: []string{"dec20", "jan31-late"}, kept: 2},
		},
		"RulesAreAUnion": {
			reason: "A backup is kept when any rule keeps it: the last two, the newest of two days and of three months.",
			args: args{
				backups: []Backup{
					backup("oct", at(t, "2026-10-15T01:00:00Z"), completed),
					backup("nov-a", at(t, "2026-11-10T01:00:00Z"), completed),
					backup("nov-b", at(t, "2026-11-20T01:00:00Z"), completed),
					backup("dec01-a", at(t, "2026-12-01T01:00:00Z"), completed),
					backup("dec01-b", at(t, "2026-12-01T02:00:00Z"), completed),
					backup("dec02-a", at(t, "2026-12-02T01:00:00Z"), completed),
					backup("dec02-b", at(t, "2026-12-02T02:00:00Z"), completed),
					backup("dec02-c", at(t, "2026-12-02T03:00:00Z"), completed),
				},
				policy: Policy{KeepLast: 2, KeepDaily: 2, KeepMonthly: 3},
				now:    now, loc: time.UTC,
			},
			want: want{prune: []string{"dec01-a", "dec02-a", "nov-a"}, kept: 5},
		},
		"RetentionDaysDropsOld": {
			reason: "retentionDays prunes what the keep rules would keep once it is older than the maximum age.",
			args: args{
				backups: []Backup{
					backup("age1d", now.Add(-1*day), completed),
					backup("age6d", now.Add(-6*day), completed),
					backup("age8d", now.Add(-8*day), completed),
				},
				policy: Policy{KeepLast: 10, RetentionDays: 7},
				now:    now, loc: time.UTC,
			},
			want: want{prune: []string{"age8d"}, kept: 2},
		},
		"RetentionDaysBoundary": {
			reason: "A backup exactly retentionDays old is kept; one a second older is pruned.",
			args: args{
				backups: []Backup{
					backup("new", now.Add(-time.Hour), completed),
					backup("exactly7d", now.Add(-7*day), completed),
					backup("7d-and-1s", now.Add(-7*day-time.Second), completed),
				},
				policy: Policy{KeepLast: 10, RetentionDays: 7},
				now:    now, loc: time.UTC,
			},
			want: want{prune: []string{"7d-and-1s"}, kept: 2},
		},
		"RetentionDaysKeepsNewest": {
			reason: "When every backup is too old the newest Completed one stays: it is the only thing left to restore from.",
			args: args{
				backups: []Backup{
					backup("age30d", now.Add(-30*day), completed),
					backup("age20d", now.Add(-20*day), completed),
					backup("age10d", now.Add(-10*day), completed),
				},
				policy: Policy{KeepLast: 3, RetentionDays: 5},
				now:    now, loc: time.UTC,
			},
			want: want{prune: []string{"age20d", "age30d"}, kept: 1},
		},
		"RetentionDaysAlone": {
			reason: "A policy with only retentionDays keeps every Completed backup younger than the maximum age.",
			args: args{
				backups: []Backup{
					backup("age1d", now.Add(-1*day), completed),
					backup("age2d", now.Add(-2*day), completed),
					backup("age4d", now.Add(-4*day), completed),
				},
				policy: Policy{RetentionDays: 3},
				now:    now, loc: time.UTC,
			},
			want: want{prune: []string{"age4d"}, kept: 2},
		},
		"RetentionDaysLongestDuration": {
			reason: "106751 days is the longest maximum age a time.Duration holds; it still prunes, from the second past it, and a backup too old for Sub to measure counts as too old.",
			args: args{
				backups: []Backup{
					backup("new", now.Add(-time.Hour), completed),
					backup("exactly106751d", now.Add(-106751*day), completed),
					backup("106751d-and-1s", now.Add(-106751*day-time.Second), completed),
					backup("1000y", now.AddDate(-1000, 0, 0), completed),
				},
				policy: Policy{KeepLast: 10, RetentionDays: 106751},
				now:    now, loc: time.UTC,
			},
			want: want{prune: []string{"1000y", "106751d-and-1s"}, kept: 2},
		},
		"RetentionDaysPastDurationKeeps": {
			reason: "106752 days overflows a time.Duration; it must mean centuries, not a negative age that prunes all but the newest.",
			args: args{
				backups: []Backup{
					backup("new", now.Add(-time.Hour), completed),
					backup("100y", now.AddDate(-100, 0, 0), completed),
					backup("106750d", now.Add(-106750*day), completed),
				},
				policy: Policy{KeepLast: 10, RetentionDays: 106752},
				now:    now, loc: time.UTC,
			},
			want: want{kept: 3},
		},
		"RetentionDaysMaxInt32Keeps": {
			reason: "The largest retentionDays the API's int32 can carry keeps every backup younger than about 292 years.",
			args: args{
				backups: []Backup{
					backup("new", now.Add(-time.Hour), completed),
					backup("100y", now.AddDate(-100, 0, 0), completed),
					backup("106750d", now.Add(-106750*day), completed),
				},
				policy: Policy{RetentionDays: math.MaxInt32},
				now:    now, loc: time.UTC,
			},
			want: want{kept: 3},
		},
		"RetentionDaysMaxIntKeeps": {
			reason: "Prune takes any int: the largest keeps as the int32 maximum does.",
			args: args{
				backups: []Backup{
					backup("new", now.Add(-time.Hour), completed),
					backup("106750d", now.Add(-106750*day), completed),
				},
				policy: Policy{KeepLast: 10, RetentionDays: math.MaxInt},
				now:    now, loc: time.UTC,
			},
			want: want{kept: 2},
		},
		"RetentionDaysPastDurationSetsNoMaximum": {
			reason: "As documented, a retentionDays longer than a time.Duration sets no maximum age at all, even for a backup older than it.",
			args: args{
				backups: []Backup{
					backup("new", now.Add(-time.Hour), completed),
					backup("1000y", now.AddDate(-1000, 0, 0), completed),
				},
				policy: Policy{KeepLast: 10, RetentionDays: 106752},
				now:    now, loc: time.UTC,
			},
			want: want{kept: 2},
		},
		"FailedSupersededArePruned": {
			reason: "Failed backups older than the newest Completed one are pruned, except the newest Failed, kept for diagnosis.",
			args: args{
				backups: []Backup{
					backup("f1", now.Add(-6*time.Hour), failed),
					backup("c1", now.Add(-5*time.Hour), completed),
					backup("f2", now.Add(-4*time.Hour), failed),
					backup("f3", now.Add(-3*time.Hour), failed),
					backup("c2", now.Add(-2*time.Hour), completed),
				},
				policy: Policy{KeepLast: 5},
				now:    now, loc: time.UTC,
			},
			want: want{prune: []string{"f1", "f2"}, kept: 2},
		},
		"FailedNotSupersededAreKept": {
			reason: "Failed backups newer than every Completed one are the evidence that the schedule fails now; only older ones go.",
			args: args{
				backups: []Backup{
					backup("f1", now.Add(-6*time.Hour), failed),
					backup("c1", now.Add(-5*time.Hour), completed),
					backup("f2", now.Add(-4*time.Hour), failed),
					backup("f3", now.Add(-3*time.Hour), failed),
				},
				policy: Policy{KeepLast: 5},
				now:    now, loc: time.UTC,
			},
			want: want{prune: []string{"f1"}, kept: 1},
		},
		"FailedWithoutCompletedAreKept": {
			reason: "With no Completed backup nothing supersedes a Failed one.",
			args: args{
				backups: []Backup{
					backup("f1", now.Add(-6*time.Hour), failed),
					backup("f2", now.Add(-4*time.Hour), failed),
				},
				policy: Policy{KeepLast: 1},
				now:    now, loc: time.UTC,
			},
			want: want{},
		},
		"RunningAreNeverPruned": {
			reason: "A running backup is neither kept nor pruned by the policy, however old: deleting it would abort work in progress.",
			args: args{
				backups: []Backup{
					backup("stuck", now.Add(-90*day), running),
					backup("c1", now.Add(-2*time.Hour), completed),
					backup("c2", now.Add(-1*time.Hour), completed),
				},
				policy: Policy{KeepLast: 1, RetentionDays: 1},
				now:    now, loc: time.UTC,
			},
			want: want{prune: []string{"c1"}, kept: 1},
		},
		"NilLocationIsUTC": {
			reason: "Without a time zone days are UTC days.",
			args: args{
				backups: []Backup{
					backup("mar10-2000-ny", at(t, "2026-03-10T20:00:00-04:00"), completed),
					backup("mar10-2330-ny", at(t, "2026-03-10T23:30:00-04:00"), completed),
				},
				policy: Policy{KeepDaily: 1},
				now:    now,
			},
			want: want{prune: []string{"mar10-2000-ny"}, kept: 1},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			prune, kept := Prune(tc.args.backups, tc.args.policy, tc.args.now, tc.args.loc)
			got := want{prune: prune, kept: kept}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("\n%s\nPrune(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// scenario is a random input to Prune. Its backups cluster around the ISO and
// calendar year boundary of 2026/2027, several per day, so that days, weeks
// and months hold more than one backup and every rule has something to choose.
type scenario struct {
	Backups []Backup
	Policy  Policy
	Now     time.Time
	Loc     *time.Location
}

var locations = func() []*time.Location {
	locs := []*time.Location{time.UTC}
	for _, name := range []string{"America/New_York", "Asia/Tokyo", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			panic(fmt.Sprintf("cannot load time zone %q: %v", name, err))
		}
		locs = append(locs, loc)
	}
	return locs
}()

var base = time.Date(2026, 12, 28, 0, 0, 0, 0, time.UTC)

// randomBackup returns a backup named name at ts, Completed (most often),
// Failed or running.
func randomBackup(r *rand.Rand, name string, ts time.Time) Backup {
	b := Backup{Name: name, Time: ts}
	switch r.Intn(6) {
	case 0:
		b.Failed = true
	case 1:
	default:
		b.Completed = true
	}
	return b
}

// randomTime returns a time within 40 days either side of base.
func randomTime(r *rand.Rand) time.Time {
	// Quarter-hour steps make equal times, and so the name tie-break, common.
	return base.Add(time.Duration(r.Intn(80*24*4)-40*24*4) * 15 * time.Minute)
}

// Generate implements quick.Generator.
func (scenario) Generate(r *rand.Rand, size int) reflect.Value {
	s := scenario{
		Policy: Policy{
			KeepLast:    r.Intn(5),
			KeepDaily:   r.Intn(8),
			KeepWeekly:  r.Intn(5),
			KeepMonthly: r.Intn(4),
		},
		Now: base.Add(time.Duration(r.Intn(60*24)) * time.Hour),
		Loc: locations[r.Intn(len(locations))],
	}
	if r.Intn(3) > 0 {
		s.Policy.RetentionDays = 1 + r.Intn(60)
	}
	n := r.Intn(size + 1)
	for i := range n {
		s.Backups = append(s.Backups, randomBackup(r, fmt.Sprintf("b%03d", i), randomTime(r)))
	}
	return reflect.ValueOf(s)
}

// isNewer is the documented order of Prune, written again here so that the
// properties do not trust the code they check: later Time, then greater name.
func isNewer(a, b Backup) bool {
	return a.Time.After(b.Time) || (a.Time.Equal(b.Time) && a.Name > b.Name)
}

// newestCompleted returns the name of the newest Completed backup, by Time and
// then by name, as Prune orders them.
func newestCompleted(bs []Backup) (string, bool) {
	var newest *Backup
	for i := range bs {
		b := &bs[i]
		if !b.Completed {
			continue
		}
		if newest == nil || isNewer(*b, *newest) {
			newest = b
		}
	}
	if newest == nil {
		return "", false
	}
	return newest.Name, true
}

func without(bs []Backup, names []string) []Backup {
	return slices.DeleteFunc(slices.Clone(bs), func(b Backup) bool { return slices.Contains(names, b.Name) })
}

var quickConfig = &quick.Config{MaxCount: 3000, MaxCountScale: 0}

func TestPruneProperties(t *testing.T) {
	props := map[string]struct {
		reason string
		prop   func(s scenario) bool
	}{
		"NewestCompletedIsNeverPruned": {
			reason: "The newest Completed backup must survive every policy: it is what a restore needs.",
			prop: func(s scenario) bool {
				prune, _ := Prune(s.Backups, s.Policy, s.Now, s.Loc)
				newest, ok := newestCompleted(s.Backups)
				return !ok || !slices.Contains(prune, newest)
			},
		},
		"PruningTwicePrunesNothingMore": {
			reason: "Pruning what the first pass kept must prune nothing, or each reconcile would delete more.",
			prop: func(s scenario) bool {
				prune, kept := Prune(s.Backups, s.Policy, s.Now, s.Loc)
				again, keptAgain := Prune(without(s.Backups, prune), s.Policy, s.Now, s.Loc)
				return len(again) == 0 && keptAgain == kept
			},
		},
		"NewerBackupNeverRevivesPruned": {
			reason: "Adding a backup newer than all others must not bring back one already pruned: it was deleted.",
			prop: func(s scenario) bool {
				prune, _ := Prune(s.Backups, s.Policy, s.Now, s.Loc)
				latest := base.Add(-41 * 24 * time.Hour)
				for _, b := range s.Backups {
					if b.Time.After(latest) {
						latest = b.Time
					}
				}
				r := rand.New(rand.NewSource(int64(len(s.Backups)) + s.Now.Unix())) //nolint:gosec // Test data, not a secret.
				nb := randomBackup(r, "z-newer", latest.Add(time.Duration(1+r.Intn(3*24*4))*15*time.Minute))
				after, _ := Prune(append(slices.Clone(s.Backups), nb), s.Policy, s.Now, s.Loc)
				for _, name := range prune {
					if !slices.Contains(after, name) {
						return false
					}
				}
				return true
			},
		},
		"OnlyInputNamesSortedOnce": {
			reason: "Prune must only name backups it was given, each once, sorted, so deletions are deterministic.",
			prop: func(s scenario) bool {
				prune, _ := Prune(s.Backups, s.Policy, s.Now, s.Loc)
				for _, name := range prune {
					if !slices.ContainsFunc(s.Backups, func(b Backup) bool { return b.Name == name }) {
						return false
					}
				}
				return slices.IsSorted(prune) && len(slices.Compact(slices.Clone(prune))) == len(prune)
			},
		},
		"RunningAreNeverPruned": {
			reason: "A backup neither Completed nor Failed is still running and must never be deleted.",
			prop: func(s scenario) bool {
				prune, _ := Prune(s.Backups, s.Policy, s.Now, s.Loc)
				for _, b := range s.Backups {
					if !b.Completed && !b.Failed && slices.Contains(prune, b.Name) {
						return false
					}
				}
				return true
			},
		},
		"NewestFailedIsNeverPruned": {
			reason: "The newest Failed backup is kept so that users can read why backups fail.",
			prop: func(s scenario) bool {
				prune, _ := Prune(s.Backups, s.Policy, s.Now, s.Loc)
				var newest *Backup
				for i := range s.Backups {
					b := &s.Backups[i]
					if b.Failed && (newest == nil || isNewer(*b, *newest)) {
						newest = b
					}
				}
				return newest == nil || !slices.Contains(prune, newest.Name)
			},
		},
		"FailedPrunedOnlyWhenSuperseded": {
			reason: "A Failed backup with no later Completed one is evidence the schedule fails now and must stay.",
			prop: func(s scenario) bool {
				prune, _ := Prune(s.Backups, s.Policy, s.Now, s.Loc)
				for _, f := range s.Backups {
					if !f.Failed || !slices.Contains(prune, f.Name) {
						continue
					}
					if !slices.ContainsFunc(s.Backups, func(c Backup) bool { return c.Completed && c.Time.After(f.Time) }) {
						return false
					}
				}
				return true
			},
		},
		"KeptCountsCompletedNotPruned": {
			reason: "kept reports the Completed backups that stay, for status.keptBackups.",
			prop: func(s scenario) bool {
				prune, kept := Prune(s.Backups, s.Policy, s.Now, s.Loc)
				want := 0
				for _, b := range s.Backups {
					if b.Completed && !slices.Contains(prune, b.Name) {
						want++
					}
				}
				return kept == want
			},
		},
		"InputOrderDoesNotMatter": {
			reason: "The result depends on the backups, not on the order the API lists them in.",
			prop: func(s scenario) bool {
				prune, kept := Prune(s.Backups, s.Policy, s.Now, s.Loc)
				shuffled := slices.Clone(s.Backups)
				slices.Reverse(shuffled)
				again, keptAgain := Prune(shuffled, s.Policy, s.Now, s.Loc)
				return slices.Equal(prune, again) && kept == keptAgain
			},
		},
	}
	for name, p := range props {
		t.Run(name, func(t *testing.T) {
			if err := quick.Check(p.prop, quickConfig); err != nil {
				t.Errorf("%s\n%v", p.reason, err)
			}
		})
	}
}

// TestPruneMemoryBoundedByBackups checks that what Prune allocates follows the
// number of backups, not the keep counts: those come from users' policies, up
// to an int32, and a size hint taken from them would allocate gigabytes on
// every reconcile of the provider.
func TestPruneMemoryBoundedByBackups(t *testing.T) {
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	// Five backups on five days, weeks and months, so every rule has a
	// handful of periods and keeps all of them.
	var backups []Backup
	for i := range 5 {
		backups = append(backups, backup(fmt.Sprintf("b%d", i), now.AddDate(0, -i, -7*i), completed))
	}
	// Sorting, the keep marks and the result for five backups take a few
	// hundred bytes; a map sized for 1<<16 periods takes about 4 MiB.
	const maxBytes = 1 << 20

	// The moderate counts come first: should the map size follow the policy
	// again they fail at a few MiB, and the test stops before math.MaxInt32,
	// which would ask the runtime for some hundred GiB and bring down the
	// machine instead of failing.
	cases := []struct {
		name   string
		reason string
		policy Policy
	}{
		{name: "KeepDaily", reason: "A large KeepDaily must not size the day map.", policy: Policy{KeepDaily: 1 << 16}},
		{name: "KeepWeekly", reason: "A large KeepWeekly must not size the week map.", policy: Policy{KeepWeekly: 1 << 16}},
		{name: "KeepMonthly", reason: "A large KeepMonthly must not size the month map.", policy: Policy{KeepMonthly: 1 << 16}},
		{name: "KeepLast", reason: "A large KeepLast must not allocate or loop past the backups.", policy: Policy{KeepLast: 1 << 16}},
		{
			name:   "MaxInt32",
			reason: "The largest counts the API's int32 fields can carry must not allocate by their size.",
			policy: Policy{KeepLast: math.MaxInt32, KeepDaily: math.MaxInt32, KeepWeekly: math.MaxInt32, KeepMonthly: math.MaxInt32, RetentionDays: math.MaxInt32},
		},
		{
			name:   "MaxInt",
			reason: "Prune takes any int; the largest must not allocate by its size either.",
			policy: Policy{KeepLast: math.MaxInt, KeepDaily: math.MaxInt, KeepWeekly: math.MaxInt, KeepMonthly: math.MaxInt, RetentionDays: math.MaxInt},
		},
	}
	for i, tc := range cases {
		ok := t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			prune, kept := Prune(backups, tc.policy, now, time.UTC)
			runtime.ReadMemStats(&after)

			if got := after.TotalAlloc - before.TotalAlloc; got > maxBytes {
				t.Errorf("\n%s\nPrune(...) allocated %d bytes for %d backups, want at most %d", tc.reason, got, len(backups), maxBytes)
			}
			// Every rule keeps all five, so nothing goes.
			if diff := cmp.Diff([]string(nil), prune, cmpopts.EquateEmpty()); diff != "" || kept != len(backups) {
				t.Errorf("\n%s\nPrune(...): kept %d, want %d; prune -want, +got:\n%s", tc.reason, kept, len(backups), diff)
			}
		})
		if !ok && i < len(cases)-1 {
			t.Fatalf("%s failed; not trying the larger counts, which would exhaust memory rather than fail", tc.name)
		}
	}
}
