package schedule

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/schedule"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestNewPlan(t *testing.T) {
	type sched struct {
		spec        string
		created     string
		suspend     bool
		allow       bool
		deadline    *int64
		keepLast    *int32
		lastTick    string
		lastSuccess string
	}
	type bk struct {
		name      string
		tick      string
		phase     v1alpha1.BackupPhase
		completed string
		deleting  bool
		notReady  bool
	}
	type want struct {
		action      action
		tick        string
		backup      string
		running     []string
		prune       []string
		kept        int
		lastSuccess string
		overdue     bool
		next        string
		missed      int64
	}
	cases := map[string]struct {
		reason  string
		sched   sched
		backups []bk
		inUse   map[string]bool
		now     string
		want    want
	}{
		"NothingDue": {
			reason: "Between ticks nothing is done and the next tick is reported.",
			sched:  sched{spec: "0 * * * *", lastTick: "2026-05-04T11:00:00Z"},
			now:    "2026-05-04T11:30:00Z",
			want:   want{action: actNone, next: "2026-05-04T12:00:00Z"},
		},
		"EveryCountsFromTheLastTick": {
			reason: "@every ticks follow the last tick, not the time of the reconcile: the next after 10:30:08.5 is 10:30:10, three seconds after 10:30:07.",
			sched:  sched{spec: "@every 3s", lastTick: "2026-05-04T10:30:07Z"},
			now:    "2026-05-04T10:30:08.5Z",
			want:   want{action: actNone, next: "2026-05-04T10:30:10Z", overdue: true},
		},
		"NewScheduleDoesNotCatchUp": {
			reason: "A schedule created between ticks has nothing due until its first tick.",
			sched:  sched{spec: "0 * * * *"},
			now:    "2026-05-04T10:59:59Z",
			want:   want{action: actNone, next: "2026-05-04T11:00:00Z"},
		},
		"Create": {
			reason: "(Created at 10:30, the 11:00 tick got no success: overdue.) At the tick its Backup is created, named for it.",
			sched:  sched{spec: "0 * * * *", lastTick: "2026-05-04T11:00:00Z"},
			now:    "2026-05-04T12:00:00.3Z",
			want:   want{action: actCreate, tick: "2026-05-04T12:00:00Z", backup: "nightly-1777896000", next: "2026-05-04T13:00:00Z", overdue: true},
		},
		"ForbidSkipsWhileRunning": {
			reason: "(Created at 10:30, the 11:00 tick got no success: overdue.) Forbid (the default) skips a tick while an earlier Backup runs.",
			sched:  sched{spec: "0 * * * *", lastTick: "2026-05-04T11:00:00Z"},
			backups: []bk{
				{name: "nightly-1777892400", tick: "2026-05-04T11:00:00Z", phase: v1alpha1.BackupInProgress},
			},
			now:  "2026-05-04T12:00:01Z",
			want: want{action: actSkipRunning, tick: "2026-05-04T12:00:00Z", backup: "nightly-1777896000", running: []string{"nightly-1777892400"}, next: "2026-05-04T13:00:00Z", overdue: true},
		},
		"AllowCreatesWhileRunning": {
			reason: "(Created at 10:30, the 11:00 tick got no success: overdue.) Allow creates the tick's Backup while an earlier one runs.",
			sched:  sched{spec: "0 * * * *", allow: true, lastTick: "2026-05-04T11:00:00Z"},
			backups: []bk{
				{name: "nightly-1777892400", tick: "2026-05-04T11:00:00Z", phase: v1alpha1.BackupQueued},
			},
			now:  "2026-05-04T12:00:01Z",
			want: want{action: actCreate, tick: "2026-05-04T12:00:00Z", backup: "nightly-1777896000", running: []string{"nightly-1777892400"}, next: "2026-05-04T13:00:00Z", overdue: true},
		},
		"AdoptOwnBackup": {
			reason: "(Created at 10:30, the 11:00 tick got no success: overdue.) A Backup of the due tick exists (created by a reconcile whose status write was lost): it is recorded, not skipped as running.",
			sched:  sched{spec: "0 * * * *", lastTick: "2026-05-04T11:00:00Z"},
			backups: []bk{
				{name: "nightly-1777896000", tick: "2026-05-04T12:00:00Z", phase: v1alpha1.BackupPending},
			},
			now:  "2026-05-04T12:00:02Z",
			want: want{action: actAdopt, tick: "2026-05-04T12:00:00Z", backup: "nightly-1777896000", running: []string{"nightly-1777896000"}, next: "2026-05-04T13:00:00Z", overdue: true},
		},
		"Suspended": {
			reason: "A suspended schedule handles its ticks without a Backup and without counting them missed.",
			sched:  sched{spec: "0 * * * *", created: "2026-05-04T08:30:00Z", suspend: true, lastTick: "2026-05-04T09:00:00Z"},
			now:    "2026-05-04T12:00:02Z",
			want:   want{action: actSuspended, tick: "2026-05-04T12:00:00Z", backup: "nightly-1777896000", next: "2026-05-04T13:00:00Z", missed: 2, overdue: true},
		},
		"PastDeadline": {
			reason: "(Created at 10:30, the 11:00 tick got no success: overdue.) A tick past its starting deadline is skipped and counted.",
			sched:  sched{spec: "0 * * * *", deadline: ptr.To[int64](60), lastTick: "2026-05-04T11:00:00Z"},
			now:    "2026-05-04T12:01:01Z",
			want:   want{action: actSkipLate, tick: "2026-05-04T12:00:00Z", backup: "nightly-1777896000", next: "2026-05-04T13:00:00Z", overdue: true, missed: 1},
		},
		"CatchUpOnce": {
			reason: "After downtime the latest tick runs within the deadline and the older are missed.",
			sched:  sched{spec: "0 * * * *", created: "2026-05-04T07:30:00Z", deadline: ptr.To[int64](600), lastTick: "2026-05-04T08:00:00Z"},
			now:    "2026-05-04T12:05:00Z",
			want:   want{action: actCreate, tick: "2026-05-04T12:00:00Z", backup: "nightly-1777896000", next: "2026-05-04T13:00:00Z", missed: 3, overdue: true},
		},
		"Overdue": {
			reason: "No success within two periods is overdue, counted from the last success.",
			sched:  sched{spec: "0 * * * *", lastTick: "2026-05-04T15:00:00Z", lastSuccess: "2026-05-04T13:00:05Z"},
			now:    "2026-05-04T15:30:00Z",
			want:   want{action: actNone, lastSuccess: "2026-05-04T13:00:05Z", overdue: true, next: "2026-05-04T16:00:00Z"},
		},
		"WeekdaysMondayNotOverdue": {
			reason: "0 3 * * 1-5 on Monday 03:00:30: Friday's 03:00 tick had a success, so the weekend is no gap.",
			sched:  sched{spec: "0 3 * * 1-5", created: "2026-04-20T00:00:00Z", lastTick: "2026-05-04T03:00:00Z", lastSuccess: "2026-05-01T03:05:00Z"},
			now:    "2026-05-04T03:00:30Z",
			want:   want{action: actNone, lastSuccess: "2026-05-01T03:05:00Z", next: "2026-05-05T03:00:00Z"},
		},
		"WeekdaysTuesdayOverdue": {
			reason: "On Tuesday 03:00:30 Monday's tick got no success: overdue, though the period is a day.",
			sched:  sched{spec: "0 3 * * 1-5", created: "2026-04-20T00:00:00Z", lastTick: "2026-05-05T03:00:00Z", lastSuccess: "2026-05-01T03:05:00Z"},
			now:    "2026-05-05T03:00:30Z",
			want:   want{action: actNone, lastSuccess: "2026-05-01T03:05:00Z", overdue: true, next: "2026-05-06T03:00:00Z"},
		},
		"YoungScheduleNotOverdue": {
			reason: "A schedule younger than two periods is not overdue without a success.",
			sched:  sched{spec: "0 * * * *", lastTick: "2026-05-04T11:00:00Z"},
			now:    "2026-05-04T11:59:00Z",
			want:   want{action: actNone, next: "2026-05-04T12:00:00Z"},
		},
		"OldScheduleWithoutSuccessIsOverdue": {
			reason: "A schedule older than two periods without any success is overdue.",
			sched:  sched{spec: "0 * * * *", created: "2026-05-04T09:59:59Z", lastTick: "2026-05-04T12:00:00Z"},
			now:    "2026-05-04T12:00:00Z",
			want:   want{action: actNone, overdue: true, next: "2026-05-04T13:00:00Z"},
		},
		"NewerSuccessFromBackups": {
			reason: "The last success is the newest completion among the Backups when it is newer than the status.",
			sched:  sched{spec: "0 * * * *", lastTick: "2026-05-04T12:00:00Z", lastSuccess: "2026-05-04T11:00:09Z"},
			backups: []bk{
				{name: "nightly-1777896000", tick: "2026-05-04T12:00:00Z", phase: v1alpha1.BackupCompleted, completed: "2026-05-04T12:00:07Z"},
			},
			now:  "2026-05-04T12:10:00Z",
			want: want{action: actNone, lastSuccess: "2026-05-04T12:00:07Z", kept: 1, next: "2026-05-04T13:00:00Z"},
		},
		"MissedTickWithABackup": {
			reason: "A kill between creating the 11:00 Backup and recording it, then downtime: 11:00 is not missed, it has its Backup; 12:00 is caught up.",
			sched:  sched{spec: "0 * * * *", deadline: ptr.To[int64](600), lastTick: "2026-05-04T10:00:00Z"},
			backups: []bk{
				{name: "nightly-1777892400", tick: "2026-05-04T11:00:00Z", phase: v1alpha1.BackupCompleted, completed: "2026-05-04T11:00:09Z"},
			},
			now:  "2026-05-04T12:05:00Z",
			want: want{action: actCreate, tick: "2026-05-04T12:00:00Z", backup: "nightly-1777896000", kept: 1, lastSuccess: "2026-05-04T11:00:09Z", next: "2026-05-04T13:00:00Z"},
		},
		"AdoptBeforeLate": {
			reason: "A Backup created for a tick whose status write was lost is recorded even past the deadline: the tick got its Backup and is not missed.",
			sched:  sched{spec: "0 * * * *", deadline: ptr.To[int64](60), lastTick: "2026-05-04T11:00:00Z"},
			backups: []bk{
				{name: "nightly-1777896000", tick: "2026-05-04T12:00:00Z", phase: v1alpha1.BackupCompleted, completed: "2026-05-04T12:00:09Z"},
			},
			now:  "2026-05-04T12:05:00Z",
			want: want{action: actAdopt, tick: "2026-05-04T12:00:00Z", backup: "nightly-1777896000", kept: 1, lastSuccess: "2026-05-04T12:00:09Z", next: "2026-05-04T13:00:00Z"},
		},
		"CompletedButNotReadyIsNoSuccess": {
			reason: "A Completed Backup whose manifest is gone (Ready=False) is neither the last success nor the newest Completed that retention keeps.",
			sched:  sched{spec: "0 * * * *", keepLast: ptr.To[int32](1), lastTick: "2026-05-04T12:00:00Z"},
			backups: []bk{
				{name: "nightly-1777892400", tick: "2026-05-04T11:00:00Z", phase: v1alpha1.BackupCompleted, completed: "2026-05-04T11:00:05Z"},
				{name: "nightly-1777896000", tick: "2026-05-04T12:00:00Z", phase: v1alpha1.BackupCompleted, completed: "2026-05-04T12:00:05Z", notReady: true},
			},
			now:  "2026-05-04T12:10:00Z",
			want: want{action: actNone, kept: 1, lastSuccess: "2026-05-04T11:00:05Z", next: "2026-05-04T13:00:00Z"},
		},
		"FutureCompletionIgnored": {
			reason: "A completion time in the future (a skewed clock, a forged status) would silence BackupOverdue for ever: it is not a success.",
			sched:  sched{spec: "0 * * * *", created: "2026-05-04T08:30:00Z", lastTick: "2026-05-04T12:00:00Z", lastSuccess: "2099-01-01T00:00:00Z"},
			backups: []bk{
				{name: "nightly-1777896000", tick: "2026-05-04T12:00:00Z", phase: v1alpha1.BackupCompleted, completed: "2098-01-01T00:00:00Z"},
			},
			now:  "2026-05-04T12:10:00Z",
			want: want{action: actNone, kept: 1, overdue: true, next: "2026-05-04T13:00:00Z"},
		},
		"RestoreKeepsItsBackup": {
			reason: "Retention does not prune a Backup a Restore still reads; it counts as kept until then.",
			sched:  sched{spec: "0 * * * *", keepLast: ptr.To[int32](1), lastTick: "2026-05-04T12:00:00Z"},
			backups: []bk{
				{name: "nightly-1777888800", tick: "2026-05-04T10:00:00Z", phase: v1alpha1.BackupCompleted, completed: "2026-05-04T10:00:05Z"},
				{name: "nightly-1777892400", tick: "2026-05-04T11:00:00Z", phase: v1alpha1.BackupCompleted, completed: "2026-05-04T11:00:05Z"},
				{name: "nightly-1777896000", tick: "2026-05-04T12:00:00Z", phase: v1alpha1.BackupCompleted, completed: "2026-05-04T12:00:05Z"},
			},
			inUse: map[string]bool{"nightly-1777888800": true},
			now:   "2026-05-04T12:10:00Z",
			want:  want{action: actNone, prune: []string{"nightly-1777892400"}, kept: 2, lastSuccess: "2026-05-04T12:00:05Z", next: "2026-05-04T13:00:00Z"},
		},
		"Prune": {
			reason: "Retention prunes over the schedule's Backups; Backups being deleted are neither counted nor pruned.",
			sched:  sched{spec: "0 * * * *", keepLast: ptr.To[int32](1), lastTick: "2026-05-04T12:00:00Z"},
			backups: []bk{
				{name: "nightly-1777888800", tick: "2026-05-04T10:00:00Z", phase: v1alpha1.BackupCompleted, completed: "2026-05-04T10:00:05Z"},
				{name: "nightly-1777892400", tick: "2026-05-04T11:00:00Z", phase: v1alpha1.BackupCompleted, completed: "2026-05-04T11:00:05Z", deleting: true},
				{name: "nightly-1777896000", tick: "2026-05-04T12:00:00Z", phase: v1alpha1.BackupCompleted, completed: "2026-05-04T12:00:05Z"},
			},
			now:  "2026-05-04T12:10:00Z",
			want: want{action: actNone, prune: []string{"nightly-1777888800"}, kept: 1, lastSuccess: "2026-05-04T12:00:05Z", next: "2026-05-04T13:00:00Z"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			// Created shortly before the tick a case is about, unless it says.
			created := "2026-05-04T10:30:00Z"
			if tc.sched.created != "" {
				created = tc.sched.created
			}
			cr := &v1alpha1.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "app", CreationTimestamp: metav1.NewTime(mustTime(t, created))}}
			fp := &cr.Spec.ForProvider
			fp.Schedule, fp.Suspend, fp.StartingDeadlineSeconds = tc.sched.spec, tc.sched.suspend, tc.sched.deadline
			if tc.sched.allow {
				fp.ConcurrencyPolicy = v1alpha1.ConcurrencyAllow
			}
			if tc.sched.keepLast != nil {
				fp.RetentionPolicy = &v1alpha1.RetentionPolicy{KeepLast: tc.sched.keepLast}
			}
			if tc.sched.lastTick != "" {
				cr.Status.AtProvider.LastTickTime = ptr.To(metav1.NewTime(mustTime(t, tc.sched.lastTick)))
			}
			if tc.sched.lastSuccess != "" {
				cr.Status.AtProvider.LastSuccessfulBackupTime = ptr.To(metav1.NewTime(mustTime(t, tc.sched.lastSuccess)))
			}
			var backups []v1alpha1.Backup
			for _, b := range tc.backups {
				o := v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: b.name, Labels: map[string]string{v1alpha1.LabelScheduleTick: unix(t, b.tick)}}}
				o.Status.AtProvider.Phase = b.phase
				if b.completed != "" {
					o.Status.AtProvider.CompletionTime = ptr.To(metav1.NewTime(mustTime(t, b.completed)))
				}
				if b.notReady {
					o.SetConditions(xpv2.Condition{Type: xpv2.TypeReady, Status: corev1.ConditionFalse, Reason: "ManifestMissing"})
				}
				if b.deleting {
					o.DeletionTimestamp = ptr.To(metav1.NewTime(mustTime(t, b.tick)))
				}
				backups = append(backups, o)
			}
			s, err := schedule.Parse(fp.Schedule, fp.TimeZone)
			if err != nil {
				t.Fatal(err)
			}
			p := newPlan(cr, s, time.UTC, backups, tc.inUse, mustTime(t, tc.now))

			got := want{action: p.action, running: p.running, prune: p.prune, kept: p.kept, overdue: p.overdue, missed: p.due.Missed}
			got.backup = p.backupName
			got.tick = formatOrEmpty(p.due.Tick)
			got.lastSuccess = formatOrEmpty(p.lastSuccess)
			got.next = formatOrEmpty(p.next)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("\n%s\nnewPlan(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func unix(t *testing.T, s string) string {
	t.Helper()
	return strconv.FormatInt(mustTime(t, s).Unix(), 10)
}

func formatOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
