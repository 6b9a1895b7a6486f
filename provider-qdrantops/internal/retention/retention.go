// Package retention decides which of a BackupSchedule's Backups to delete. It
// is pure: the backups, the policy, the current time and the schedule's time
// zone in, the names to prune out. It reads no clock and touches no API, so the
// controller can call it on every reconcile and tests can cover it exhaustively.
//
// The rules are grandfather-father-son (GFS), as in restic and borg: among the
// Completed backups keep the union of
//   - the newest KeepLast,
//   - the newest backup of each of the KeepDaily most recent calendar days that
//     have a backup,
//   - the newest of each of the KeepWeekly most recent ISO weeks that have one,
//   - the newest of each of the KeepMonthly most recent months that have one,
//
// with days, weeks and months taken in the schedule's time zone; then drop
// anything older than RetentionDays. The newest Completed backup is never
// pruned, whatever the policy says: it is the only one a restore can rely on.
package retention

import (
	"math"
	"slices"
	"strings"
	"time"
)

// A Backup is what retention needs to know about one Backup resource of the
// schedule. A Backup neither Completed nor Failed is still running and is never
// pruned: deleting it would abort work the schedule asked for.
type Backup struct {
	// Name of the Backup resource; what Prune returns.
	Name string
	// Time is the schedule tick the Backup was created for, or its creation
	// time. It places the backup in a day, week and month.
	Time time.Time
	// Completed is true once the backup is restorable.
	Completed bool
	// Failed is true once the backup has failed for good.
	Failed bool
}

// A Policy is a BackupSchedule's RetentionPolicy with its unset fields as 0.
// Negative values count as 0.
type Policy struct {
	KeepLast    int
	KeepDaily   int
	KeepWeekly  int
	KeepMonthly int
	// RetentionDays prunes Completed backups older than this many days
	// (24-hour days, counted from now), except the newest. 0 means no maximum
	// age, and so does any value above maxRetentionDays: such an age is longer
	// than a time.Duration can hold.
	RetentionDays int
}

// maxRetentionDays is the most 24-hour days a time.Duration holds: 106751,
// about 292 years. A longer RetentionDays would overflow into a negative
// maximum age and prune every Completed backup but the newest; Prune sets no
// maximum age instead, which is what a user asking for centuries means.
const maxRetentionDays = int(math.MaxInt64 / int64(24*time.Hour))

// keepsNothing is true when no keep rule is set. Such a policy keeps every
// Completed backup rather than only the newest: a schedule without a retention
// policy must never silently delete its users' backups, and a policy with only
// RetentionDays means "keep everything younger than that".
func (p Policy) keepsNothing() bool {
	return p.KeepLast <= 0 && p.KeepDaily <= 0 && p.KeepWeekly <= 0 && p.KeepMonthly <= 0
}

// newer orders backups newest first. Equal times are ordered by name, the
// greater name first, so that the result never depends on the input order;
// schedule Backup names end in their tick, so the greater name is the later one.
func newer(a, b Backup) int {
	if c := b.Time.Compare(a.Time); c != 0 {
		return c
	}
	return strings.Compare(b.Name, a.Name)
}

// Prune returns the names of the Backups to delete, sorted, and how many
// Completed backups are kept. now is the current time and loc the schedule's
// time zone (nil means UTC).
//
// Failed backups are pruned once a Completed backup with a later Time supersedes them,
// except the newest Failed one, which is kept so that users can see why a
// backup failed. Failed backups that no Completed one supersedes are kept: they
// are the evidence that the schedule is currently failing.
func Prune(backups []Backup, p Policy, now time.Time, loc *time.Location) (prune []string, kept int) {
	if loc == nil {
		loc = time.UTC
	}

	var completed, failed []Backup
	for _, b := range backups {
		switch {
		case b.Completed:
			completed = append(completed, b)
		case b.Failed:
			failed = append(failed, b)
		}
	}
	slices.SortFunc(completed, newer)
	slices.SortFunc(failed, newer)

	keep := make([]bool, len(completed))
	if p.keepsNothing() {
		for i := range keep {
			keep[i] = true
		}
	}
	for i := 0; i < p.KeepLast && i < len(completed); i++ {
		keep[i] = true
	}
	keepNewestPer(completed, keep, p.KeepDaily, func(t time.Time) [3]int {
		y, m, d := t.In(loc).Date()
		return [3]int{y, int(m), d}
	})
	keepNewestPer(completed, keep, p.KeepWeekly, func(t time.Time) [3]int {
		y, w := t.In(loc).ISOWeek()
		return [3]int{y, w, 0}
	})
	keepNewestPer(completed, keep, p.KeepMonthly, func(t time.Time) [3]int {
		y, m, _ := t.In(loc).Date()
		return [3]int{y, int(m), 0}
	})

	if p.RetentionDays > 0 && p.RetentionDays <= maxRetentionDays {
		// RetentionDays is at most maxRetentionDays, so maxAge cannot
		// overflow; Sub saturates at the longest Duration, which is longer
		// than maxAge, so a backup too old for a Duration still counts as
		// too old.
		maxAge := time.Duration(p.RetentionDays) * 24 * time.Hour
		for i, b := range completed {
			if now.Sub(b.Time) > maxAge {
				keep[i] = false
			}
		}
	}
	// Whatever the rules say, the newest Completed backup stays: without it
	// the cluster has nothing to restore from.
	if len(completed) > 0 {
		keep[0] = true
	}

	for i, b := range completed {
		if keep[i] {
			kept++
			continue
		}
		prune = append(prune, b.Name)
	}

	for i, f := range failed {
		if i == 0 {
			// The newest Failed backup tells users why backups fail.
			continue
		}
		if len(completed) > 0 && completed[0].Time.After(f.Time) {
			prune = append(prune, f.Name)
		}
	}

	slices.Sort(prune)
	return slices.Compact(prune), kept
}

// keepNewestPer marks, in completed (sorted newest first), the newest backup of
// each of the n most recent periods that have a backup; period maps a time to
// the period it falls in.
func keepNewestPer(completed []Backup, keep []bool, n int, period func(time.Time) [3]int) {
	if n <= 0 {
		return
	}
	// n comes from the user's policy and may be as large as an int32; the
	// map never holds more periods than there are backups, so that bounds the
	// size hint, or a huge keep count would allocate gigabytes per reconcile.
	seen := make(map[[3]int]bool, min(n, len(completed)))
	for i, b := range completed {
		k := period(b.Time)
		if seen[k] {
			continue
		}
		if len(seen) == n {
			return
		}
		seen[k] = true
		keep[i] = true
	}
}
