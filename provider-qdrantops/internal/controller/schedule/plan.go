package schedule

import (
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/retention"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/schedule"
)

// An action is what a reconcile does about the tick that is due.
type action int

const (
	// actNone: no tick is due.
	actNone action = iota
	// actCreate: create the tick's Backup.
	actCreate
	// actAdopt: the tick's Backup exists already (a reconcile created it and
	// could not record it): record it.
	actAdopt
	// actSkipRunning: concurrencyPolicy Forbid and a Backup still runs.
	actSkipRunning
	// actSkipLate: the tick passed its starting deadline.
	actSkipLate
	// actSuspended: the tick passed while suspended; it is handled silently.
	actSuspended
)

// A plan is what one reconcile of a BackupSchedule observed and decided. It
// is computed without I/O from the schedule, its Backups and the time, so
// that Observe can report it and Update can carry it out.
type plan struct {
	due    schedule.Due
	action action
	// backupName is the Backup of due.Tick.
	backupName string
	// running names the schedule's Backups that are neither Completed nor
	// Failed, sorted.
	running []string
	// prune names the Backups retention deletes, sorted.
	prune []string
	// kept counts the Completed Backups retention keeps.
	kept int
	// lastSuccess is when the newest Completed Backup completed, zero if
	// none is known.
	lastSuccess time.Time
	// next is the tick after now, zero if the schedule never fires again.
	next time.Time
	// cutoff is the tick before the latest tick at or before now, zero if
	// there are not two yet.
	cutoff time.Time
	// overdue is true when no Backup completed since cutoff: two ticks have
	// passed without a success, the latest one's Backup being given until
	// the next tick.
	overdue bool
}

// upToDate is true when the reconcile has nothing to do: no tick is due and
// retention prunes nothing.
func (p plan) upToDate() bool {
	return p.action == actNone && len(p.prune) == 0
}

// newPlan decides what a reconcile at now does for cr, given its Backups
// (those it controls), the names of those a Restore still reads (retention
// leaves them alone until it is done) and its parsed schedule in its time
// zone.
func newPlan(cr *v1alpha1.BackupSchedule, s schedule.Schedule, loc *time.Location, backups []v1alpha1.Backup, inUse map[string]bool, now time.Time) plan {
	fp := cr.Spec.ForProvider
	var p plan

	byName := make(map[string]bool, len(backups))
	isCompleted := make(map[string]bool, len(backups))
	rb := make([]retention.Backup, 0, len(backups))
	for i := range backups {
		b := &backups[i]
		if b.GetDeletionTimestamp() != nil {
			// Going away: neither running nor for retention to count.
			continue
		}
		byName[b.Name] = true
		phase := b.Status.AtProvider.Phase
		// A Completed Backup that is not Ready (its manifest is gone from
		// the bucket) cannot be restored: it is no success, and retention
		// must not keep it as "the newest Completed" in place of one that
		// can.
		completed := phase == v1alpha1.BackupCompleted && b.GetCondition(xpv2.TypeReady).Status != corev1.ConditionFalse
		failed := phase == v1alpha1.BackupFailed || (phase == v1alpha1.BackupCompleted && !completed)
		isCompleted[b.Name] = completed
		if !completed && !failed {
			p.running = append(p.running, b.Name)
		}
		// A completion in the future is a clock gone wrong or a forged
		// status: it would silence BackupOverdue for ever.
		if ct := b.Status.AtProvider.CompletionTime; completed && ct != nil && ct.After(p.lastSuccess) && !ct.After(now) {
			p.lastSuccess = ct.Time
		}
		rb = append(rb, retention.Backup{Name: b.Name, Time: tickOf(b), Completed: completed, Failed: failed})
	}
	slices.Sort(p.running)
	if t := cr.Status.AtProvider.LastSuccessfulBackupTime; t != nil && t.After(p.lastSuccess) && !t.After(now) {
		// Pruned or deleted Backups still count: the time only moves on.
		p.lastSuccess = t.Time
	}
	prune, kept := retention.Prune(rb, retention.PolicyFrom(fp.RetentionPolicy), now, loc)
	p.kept = kept
	for _, name := range prune {
		if inUse[name] {
			// A Restore reads it: deleting it now would pull its objects
			// from under the restore. Pruned once the restore ends.
			if isCompleted[name] {
				p.kept++
			}
			continue
		}
		p.prune = append(p.prune, name)
	}

	var deadline time.Duration
	if fp.StartingDeadlineSeconds != nil {
		deadline = time.Duration(*fp.StartingDeadlineSeconds) * time.Second
	}
	last := lastTick(cr)
	p.due = s.Due(last, now, deadline)
	p.next = s.NextAfter(last, now)

	// Overdue counts ticks, not a period: "0 3 * * 1-5" on Monday at 03:00
	// is not overdue for a Friday success, though 71 hours have passed.
	p.cutoff = s.OverdueCutoff(last, now)
	since := cr.GetCreationTimestamp().Time
	if !p.lastSuccess.IsZero() {
		since = p.lastSuccess
	}
	p.overdue = !p.cutoff.IsZero() && since.Before(p.cutoff)

	if p.due.Tick.IsZero() {
		return p
	}
	// A missed tick whose Backup exists was not missed: a reconcile created
	// it and was killed before it recorded the tick.
	for i := range backups {
		if tk := tickOf(&backups[i]); p.due.Missed > 0 && tk.After(last) && tk.Before(p.due.Tick) {
			p.due.Missed--
		}
	}
	if p.due.Missed == 0 {
		p.due.LatestMissed = time.Time{}
	}
	p.backupName = schedule.BackupName(cr.Name, p.due.Tick)
	switch {
	case byName[p.backupName]:
		// First: a reconcile created this tick's Backup and could not
		// record it (a kill, a lost status write). It is neither late,
		// nor skipped for itself running.
		p.action = actAdopt
		if !p.due.Run {
			// Due counted the tick as missed: it was not.
			p.due.Missed--
			p.due.LatestMissed = time.Time{}
			if p.due.Missed > 0 {
				p.due.LatestMissed = s.OverdueCutoff(last, p.due.Tick)
			}
		}
	case fp.Suspend:
		p.action = actSuspended
	case !p.due.Run:
		p.action = actSkipLate
	case fp.ConcurrencyPolicy != v1alpha1.ConcurrencyAllow && len(p.running) > 0:
		p.action = actSkipRunning
	default:
		p.action = actCreate
	}
	return p
}

// lastTick is the latest tick the schedule handled: ticks after it are due.
// Before the first, it is the schedule's creation, so that a new schedule
// does not catch up ticks from before it existed.
func lastTick(cr *v1alpha1.BackupSchedule) time.Time {
	last := cr.GetCreationTimestamp().Time
	st := cr.Status.AtProvider
	for _, t := range []*metav1.Time{st.LastTickTime, st.LastBackupTime} {
		if t != nil && t.After(last) {
			last = t.Time
		}
	}
	return last
}

// tickOf is the tick a Backup was created for, from its label, else its
// creation time.
func tickOf(b *v1alpha1.Backup) time.Time {
	if s, ok := b.GetLabels()[v1alpha1.LabelScheduleTick]; ok {
		if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(sec, 0)
		}
	}
	return b.GetCreationTimestamp().Time
}
