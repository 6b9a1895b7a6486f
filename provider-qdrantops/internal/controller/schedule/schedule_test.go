package schedule_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/schedule"
)

// checkTicks checks that bs (oldest first) are one Backup for each of the
// consecutive ticks of an @every schedule of period, named for their tick.
func checkTicks(t *testing.T, sched string, bs []v1alpha1.Backup, period time.Duration) {
	t.Helper()
	for i := range bs {
		tick := tickOf(t, &bs[i])
		if want := schedule.BackupName(sched, tick); bs[i].Name != want {
			t.Errorf("Backup %s of tick %s: want the name %s", bs[i].Name, tick.UTC(), want)
		}
		if i > 0 {
			if gap := tick.Sub(tickOf(t, &bs[i-1])); gap != period {
				t.Errorf("Backups %s and %s: their ticks are %s apart, want one period (%s): a tick got none or two", bs[i-1].Name, bs[i].Name, gap, period)
			}
		}
	}
}

// TestOneBackupPerTick runs an @every 3s schedule for four ticks: each tick
// gets one Backup, named for it, created within a second of it, owned by
// the schedule and labelled; the first completes, and the schedule reports
// its success, the next tick and that it is not overdue.
func TestOneBackupPerTick(t *testing.T) {
	t.Parallel()
	const ns = "ticks"
	namespace(t, ns)
	arrivals := watchArrivals(t, ns)
	p := sharedProvider(t)
	// Allow, so that a Backup still running at the next tick cannot make
	// this test skip one.
	create(t, newSchedule(ns, "every3s", "@every 3s", func(s *v1alpha1.BackupSchedule) {
		s.Spec.ForProvider.ConcurrencyPolicy = v1alpha1.ConcurrencyAllow
	}))
	eventually(t, 40*time.Second, "four Backups and the first Completed", func() bool {
		bs := backups(t, ns)
		return len(bs) >= 4 && isCompleted(&bs[0])
	}, dump(t, ns, p))
	// Backups complete within two periods here, so the schedule says it is
	// on schedule once one has (it may say overdue for a moment when a
	// Backup's completion is seen late: the Backup controller looks every
	// few seconds).
	eventually(t, 20*time.Second, "BackupOverdue=False", func() bool {
		c := condition(getSchedule(t, ns, "every3s"), v1alpha1.TypeBackupOverdue)
		return c.Status == corev1.ConditionFalse && c.Reason == v1alpha1.ReasonBackupsOnSchedule
	}, dump(t, ns, p))

	bs := backups(t, ns)
	checkTicks(t, "every3s", bs, 3*time.Second)
	s := getSchedule(t, ns, "every3s")
	seen := arrivals()
	for _, b := range bs {
		tick := tickOf(t, &b)
		if late := seen[b.Name].Sub(tick); late < 0 || late > time.Second {
			t.Errorf("Backup %s was created %s after its tick, want within 1s", b.Name, late)
		}
		if !metav1.IsControlledBy(&b, s) {
			t.Errorf("Backup %s is not controlled by its schedule: %v", b.Name, b.OwnerReferences)
		}
		if b.Labels[v1alpha1.LabelBackupSchedule] != "every3s" {
			t.Errorf("Backup %s labels: %v", b.Name, b.Labels)
		}
		if ref := b.Spec.ProviderConfigReference; ref == nil || ref.Name != "default" || ref.Kind != "ProviderConfig" {
			t.Errorf("Backup %s does not use the schedule's providerConfigRef: %v", b.Name, ref)
		}
	}
	st := s.Status.AtProvider
	if st.LastSuccessfulBackupTime == nil || st.LastBackupName == "" || st.NextBackupTime == nil || st.LastTickTime == nil {
		t.Errorf("status misses a field: %+v", st)
	}
	if st.MissedTicks != 0 {
		t.Errorf("missedTicks: want 0, got %d", st.MissedTicks)
	}
	if c := condition(s, xpv2.TypeReady); c.Status != corev1.ConditionTrue || c.Reason != xpv2.ReasonAvailable {
		t.Errorf("Ready: %+v", c)
	}
	// Argo CD's health checks (docs/argocd) on these real objects.
	if got := health(t, s, v1alpha1.BackupScheduleGroupVersionKind); got != "Healthy" {
		t.Errorf("Argo CD health of the schedule: %s, want Healthy", got)
	}
	if got := health(t, &bs[0], v1alpha1.BackupGroupVersionKind); got != "Healthy" {
		t.Errorf("Argo CD health of the Completed Backup %s: %s, want Healthy", bs[0].Name, got)
	}
	if ev := events(t, ns, "every3s"); ev["BackupCreated"] < 4 {
		t.Errorf("want a BackupCreated Event per Backup; got %v", ev)
	}
}

// TestMetrics checks the last success metric an RPO alert reads.
func TestMetrics(t *testing.T) {
	t.Parallel()
	const ns = "metrics"
	namespace(t, ns)
	p := sharedProvider(t)
	create(t, newSchedule(ns, "rpo", "@every 2s"))
	eventually(t, 30*time.Second, "a Completed Backup", func() bool {
		s := getSchedule(t, ns, "rpo")
		return s.Status.AtProvider.LastSuccessfulBackupTime != nil
	}, dump(t, ns, p))
	eventually(t, 10*time.Second, "the metrics of the schedule", func() bool {
		v, ok := p.metric(t, "qdrantops_backupschedule_last_success_timestamp_seconds", `namespace="metrics"`, `schedule="rpo"`)
		return ok && v > 0
	}, func() string { return "" })
	v, _ := p.metric(t, "qdrantops_backupschedule_last_success_timestamp_seconds", `namespace="metrics"`, `schedule="rpo"`)
	if s := getSchedule(t, ns, "rpo"); s.Status.AtProvider.LastSuccessfulBackupTime.Unix() > int64(v) {
		t.Errorf("metric %v is older than the status's last success %s", v, s.Status.AtProvider.LastSuccessfulBackupTime)
	}
	// Backups here complete within two periods, but one seen late can make
	// the schedule overdue for a moment: it must be on schedule again soon.
	eventually(t, 20*time.Second, "the overdue metric at 0", func() bool {
		o, ok := p.metric(t, "qdrantops_backupschedule_overdue", `namespace="metrics"`, `schedule="rpo"`)
		return ok && o == 0
	}, func() string { return "" })

	// A schedule gone without the provider seeing its deletion (its
	// finalizer removed by hand) takes its series with it: a stale overdue
	// series would page for ever.
	s := getSchedule(t, ns, "rpo")
	orig := s.DeepCopy()
	s.SetFinalizers(nil)
	if err := env.Client.Patch(context.Background(), s, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the series of the deleted schedule gone", func() bool {
		_, ok := p.metric(t, "qdrantops_backupschedule_last_success_timestamp_seconds", `namespace="metrics"`, `schedule="rpo"`)
		return !ok
	}, func() string { return "" })
}

// TestForbidSkipsWhileABackupRuns slows the snapshot streams so that the
// first Backup is still running at the next ticks: Forbid skips them,
// counts them and says so.
func TestForbidSkipsWhileABackupRuns(t *testing.T) {
	t.Parallel()
	const ns = "forbid"
	// An emulator of its own: the slow streams must not slow the other
	// tests, which run at the same time.
	slow, err := qdrantemu.Start(qdrantemu.Options{Nodes: 1, APIKey: apiKey})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if err := slow.AddSample(qdrantemu.Sample{Name: "docs", ShardNumber: 2, ReplicationFactor: 1, Points: 100, Dim: 4}); err != nil {
		t.Fatal(err)
	}
	slow.SlowStreams(2 << 10)
	namespaceOf(t, ns, slow)
	p := sharedProvider(t)
	create(t, newSchedule(ns, "slow", "@every 2s"))
	eventually(t, 30*time.Second, "the first Backup running and two ticks skipped", func() bool {
		return getSchedule(t, ns, "slow").Status.AtProvider.MissedTicks >= 2
	}, dump(t, ns, p))
	bs := backups(t, ns)
	if len(bs) != 1 {
		t.Fatalf("Forbid: want one Backup while the first runs, got %d\n%s", len(bs), dump(t, ns, p)())
	}
	if isCompleted(&bs[0]) {
		t.Fatalf("the first Backup completed: the test needs it running")
	}
	if got := health(t, &bs[0], v1alpha1.BackupGroupVersionKind); got != "Progressing" {
		t.Errorf("Argo CD health of the running Backup: %s, want Progressing", got)
	}
	s := getSchedule(t, ns, "slow")
	if s.Status.AtProvider.LastMissedTime == nil || len(s.Status.AtProvider.ActiveBackups) != 1 {
		t.Errorf("status: %+v", s.Status.AtProvider)
	}
	if ev := events(t, ns, "slow"); ev["TickSkipped"] < 2 {
		t.Errorf("want TickSkipped Events; got %v", ev)
	}
}

// TestKilledProviderCatchesUpOnce kills the provider (kill -9) and starts it
// again three ticks later: the latest missed tick gets one catch-up Backup,
// within the starting deadline, the older ones are counted as missed, and
// no tick gets two Backups.
func TestKilledProviderCatchesUpOnce(t *testing.T) {
	const ns = "restart"
	namespace(t, ns)
	deleteSchedulesAtEnd(t, ns)
	const period = 4 * time.Second
	first := runProvider(t, "first", ns)
	create(t, newSchedule(ns, "every4s", "@every 4s", func(s *v1alpha1.BackupSchedule) {
		s.Spec.ForProvider.ConcurrencyPolicy = v1alpha1.ConcurrencyAllow
		s.Spec.ForProvider.StartingDeadlineSeconds = ptr.To[int64](60)
	}))
	eventually(t, 40*time.Second, "a first Backup", func() bool { return len(backups(t, ns)) >= 1 }, dump(t, ns, first))
	first.kill()
	killed := time.Now()
	before := backups(t, ns)
	lastBefore := tickOf(t, &before[len(before)-1])

	// Three ticks pass with no provider.
	time.Sleep(3*period + period/2)
	second := runProvider(t, "second", ns)
	restarted := time.Now()
	// The new process waits for the Lease the killed one held to expire.
	eventually(t, 60*time.Second, "a catch-up Backup, recorded in the status", func() bool {
		bs := backups(t, ns)
		return len(bs) > len(before) && getSchedule(t, ns, "every4s").Status.AtProvider.LastBackupName == bs[len(before)].Name
	}, dump(t, ns, second))
	// Events are sent after the fact: give them a moment before the kill.
	eventually(t, 10*time.Second, "a TicksMissed Event", func() bool { return events(t, ns, "every4s")["TicksMissed"] >= 1 }, dump(t, ns, second))
	second.kill()

	bs := backups(t, ns)
	catchUp := bs[len(before)]
	tick := tickOf(t, &catchUp)
	// The catch-up is for the latest tick before the second process
	// acted, so at least the three that passed while nothing ran.
	if missed := int(tick.Sub(lastBefore)/period) - 1; missed < 2 {
		t.Errorf("catch-up Backup %s: its tick %s is %s after the last one before the kill (%s); want at least two missed ticks between", catchUp.Name, tick.UTC(), tick.Sub(lastBefore), lastBefore.UTC())
	}
	if catchUp.CreationTimestamp.Sub(tick) > 60*time.Second {
		t.Errorf("catch-up Backup %s was created %s after its tick, past the starting deadline", catchUp.Name, catchUp.CreationTimestamp.Sub(tick))
	}
	if !tick.After(killed.Add(-period)) || tick.After(time.Now()) {
		t.Errorf("catch-up tick %s is not one that passed during the downtime (killed %s, restarted %s)", tick.UTC(), killed.UTC(), restarted.UTC())
	}
	s := getSchedule(t, ns, "every4s")
	if want := int64(tick.Sub(lastBefore)/period) - 1; s.Status.AtProvider.MissedTicks != want {
		t.Errorf("missedTicks: want %d (every tick between %s and the catch-up at %s), got %d", want, lastBefore.UTC(), tick.UTC(), s.Status.AtProvider.MissedTicks)
	}
	// After the catch-up the schedule goes on at its own ticks.
	for i := len(before) + 1; i < len(bs); i++ {
		if gap := tickOf(t, &bs[i]).Sub(tickOf(t, &bs[i-1])); gap != period {
			t.Errorf("after the catch-up, Backups %s and %s are %s apart", bs[i-1].Name, bs[i].Name, gap)
		}
	}
}

// TestTwoReplicasCreateOneBackupPerTick runs two provider processes with
// leader election, as a rolling update does: each tick gets one Backup, and
// only the leader creates them.
func TestTwoReplicasCreateOneBackupPerTick(t *testing.T) {
	const ns = "replicas"
	namespace(t, ns)
	deleteSchedulesAtEnd(t, ns)
	a, b := runProvider(t, "a", ns), runProvider(t, "b", ns)
	create(t, newSchedule(ns, "every2s", "@every 2s", func(s *v1alpha1.BackupSchedule) {
		s.Spec.ForProvider.ConcurrencyPolicy = v1alpha1.ConcurrencyAllow
	}))
	eventually(t, 60*time.Second, "five Backups", func() bool { return len(backups(t, ns)) >= 5 }, dump(t, ns, a, b))
	a.kill()
	b.kill()
	checkTicks(t, "every2s", backups(t, ns), 2*time.Second)
	leaders := 0
	for _, p := range []*provider{a, b} {
		if strings.Contains(p.logs(t), "Starting workers") {
			leaders++
		}
	}
	if leaders != 1 {
		t.Errorf("want one process running controllers, got %d", leaders)
	}
}

// TestSuspendStopsBackupsButPrunes suspends a schedule and tightens its
// retention: no Backup is created any more, the schedule says Suspended,
// and retention still prunes: the pruned Backups are deleted by the garbage
// collector and their objects in S3 go with them.
func TestSuspendStopsBackupsButPrunes(t *testing.T) {
	t.Parallel()
	const ns = "suspend"
	namespace(t, ns)
	p := sharedProvider(t)
	create(t, newSchedule(ns, "every2s", "@every 2s"))
	eventually(t, 60*time.Second, "three Completed Backups", func() bool {
		n := 0
		for _, b := range backups(t, ns) {
			if isCompleted(&b) {
				n++
			}
		}
		return n >= 3
	}, dump(t, ns, p))

	s := getSchedule(t, ns, "every2s")
	orig := s.DeepCopy()
	s.Spec.ForProvider.Suspend = true
	s.Spec.ForProvider.RetentionPolicy = &v1alpha1.RetentionPolicy{KeepLast: ptr.To[int32](1)}
	if err := env.Client.Patch(context.Background(), s, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "Ready says Suspended", func() bool {
		return condition(getSchedule(t, ns, "every2s"), xpv2.TypeReady).Reason == v1alpha1.ReasonSuspended
	}, dump(t, ns, p))
	suspended := time.Now()
	var newest v1alpha1.Backup
	for _, b := range backups(t, ns) {
		if isCompleted(&b) {
			newest = b
		}
	}

	// Retention keeps the newest Completed Backup; the garbage collector
	// deletes the others (and any still running finishes or stays).
	eventually(t, 60*time.Second, "only the newest Completed Backup left", func() bool {
		n := 0
		for _, b := range backups(t, ns) {
			if isCompleted(&b) && b.DeletionTimestamp == nil {
				n++
			}
		}
		return n == 1
	}, dump(t, ns, p))
	time.Sleep(3 * time.Second)
	for _, b := range backups(t, ns) {
		if b.CreationTimestamp.After(suspended.Add(time.Second)) {
			t.Errorf("Backup %s was created at %s, after the schedule was suspended at %s", b.Name, b.CreationTimestamp.UTC(), suspended.UTC())
		}
	}
	found := false
	for _, b := range backups(t, ns) {
		if b.Name == newest.Name {
			found = true
		}
	}
	if !found {
		t.Errorf("the newest Completed Backup %s was pruned", newest.Name)
	}
	if got := health(t, getSchedule(t, ns, "every2s"), v1alpha1.BackupScheduleGroupVersionKind); got != "Suspended" {
		t.Errorf("Argo CD health of a suspended schedule: %s, want Suspended", got)
	}
	st := getSchedule(t, ns, "every2s").Status.AtProvider
	if st.NextBackupTime != nil || st.LastPruneTime == nil || st.KeptBackups != 1 {
		t.Errorf("status of a suspended, pruned schedule: next %v, last prune %v, kept %d", st.NextBackupTime, st.LastPruneTime, st.KeptBackups)
	}
	if ev := events(t, ns, "every2s"); ev["BackupPruned"] < 1 {
		t.Errorf("want a BackupPruned Event; got %v", ev)
	}
	// The pruned Backups' objects are gone with them: only the kept
	// Backup (and any that was running) has objects left.
	eventually(t, 30*time.Second, "the pruned Backups' objects deleted", func() bool {
		out, err := srv.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("every2s/" + ns + "/")})
		if err != nil {
			t.Fatal(err)
		}
		live := map[string]bool{}
		for _, b := range backups(t, ns) {
			live[b.Name] = true
		}
		for _, o := range out.Contents {
			parts := strings.Split(aws.ToString(o.Key), "/")
			if len(parts) > 3 && !live[parts[3]] {
				return false
			}
		}
		return true
	}, dump(t, ns, p))
}

// TestUnknownTimeZone: a time zone admission cannot tell is wrong ends in
// Synced=False with the parser's message and an Event, not in a hot loop.
func TestUnknownTimeZone(t *testing.T) {
	t.Parallel()
	const ns = "badzone"
	namespace(t, ns)
	p := sharedProvider(t)
	create(t, newSchedule(ns, "mars", "@daily", func(s *v1alpha1.BackupSchedule) {
		s.Spec.ForProvider.TimeZone = "Mars/Olympus_Mons"
	}))
	eventually(t, 30*time.Second, "Synced=False", func() bool {
		return condition(getSchedule(t, ns, "mars"), xpv2.TypeSynced).Status == corev1.ConditionFalse
	}, dump(t, ns, p))
	time.Sleep(5 * time.Second)
	s := getSchedule(t, ns, "mars")
	if got := health(t, s, v1alpha1.BackupScheduleGroupVersionKind); got != "Degraded" {
		t.Errorf("Argo CD health of a schedule that does not parse: %s, want Degraded", got)
	}
	if c := condition(s, xpv2.TypeSynced); !strings.Contains(c.Message, `"Mars/Olympus_Mons"`) {
		t.Errorf("Synced message does not name the time zone: %q", c.Message)
	}
	ev := events(t, ns, "mars")
	if ev["CannotObserveExternalResource"] < 1 {
		t.Errorf("want a Warning Event; got %v", ev)
	}
	// Exponential backoff from 1s: a handful of tries in ~6s, not a loop.
	if n := ev["CannotObserveExternalResource"]; n > 8 {
		t.Errorf("%d tries in a few seconds: a hot loop", n)
	}
	if bs := backups(t, ns); len(bs) != 0 {
		t.Errorf("a schedule that does not parse created Backups: %d", len(bs))
	}
}

// TestDeletingAScheduleFollowsItsManagementPolicies deletes two schedules:
// the Backups of the one whose management policies include Delete (the
// default) are deleted with it by the garbage collector; those of the one
// without Delete are kept, with no owner left.
func TestDeletingAScheduleFollowsItsManagementPolicies(t *testing.T) {
	t.Parallel()
	const ns = "deletion"
	namespace(t, ns)
	p := sharedProvider(t)
	allow := func(s *v1alpha1.BackupSchedule) { s.Spec.ForProvider.ConcurrencyPolicy = v1alpha1.ConcurrencyAllow }
	create(t,
		newSchedule(ns, "drop", "@every 2s", allow),
		newSchedule(ns, "keep", "@every 2s", allow, func(s *v1alpha1.BackupSchedule) {
			s.Spec.ManagementPolicies = xpv2.ManagementPolicies{xpv2.ManagementActionObserve, xpv2.ManagementActionCreate, xpv2.ManagementActionUpdate, xpv2.ManagementActionLateInitialize}
		}),
	)
	of := func(sched string) []v1alpha1.Backup {
		var out []v1alpha1.Backup
		for _, b := range backups(t, ns) {
			if b.Labels[v1alpha1.LabelBackupSchedule] == sched {
				out = append(out, b)
			}
		}
		return out
	}
	eventually(t, 30*time.Second, "two Backups of each schedule", func() bool { return len(of("drop")) >= 2 && len(of("keep")) >= 2 }, dump(t, ns, p))
	for _, name := range []string{"drop", "keep"} {
		if err := env.Client.Delete(context.Background(), getSchedule(t, ns, name)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "both schedules gone", func() bool {
		l := &v1alpha1.BackupScheduleList{}
		if err := env.Client.List(context.Background(), l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		return len(l.Items) == 0
	}, dump(t, ns, p))
	eventually(t, 60*time.Second, "the Backups of the schedule with Delete deleted", func() bool { return len(of("drop")) == 0 }, dump(t, ns, p))
	kept := of("keep")
	if len(kept) < 2 {
		t.Fatalf("the Backups of the schedule without Delete: want them kept, %d left\n%s", len(kept), dump(t, ns, p)())
	}
	for _, b := range kept {
		if len(b.OwnerReferences) != 0 || b.DeletionTimestamp != nil {
			t.Errorf("kept Backup %s: owners %v, deleting %v", b.Name, b.OwnerReferences, b.DeletionTimestamp)
		}
	}
}
