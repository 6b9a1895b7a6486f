package schedule

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	"github.com/crossplane/crossplane-runtime/v2/pkg/meta"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
)

// recorder keeps the reasons of the Events it is given.
type recorder struct{ reasons []string }

func (r *recorder) Event(_ runtime.Object, e event.Event) {
	r.reasons = append(r.reasons, string(e.Reason))
}
func (r *recorder) WithAnnotations(...string) event.Recorder { return r }

// noMetrics reports nothing.
type noMetrics struct{}

func (noMetrics) observed(*v1alpha1.BackupSchedule, plan) {}
func (noMetrics) missed(*v1alpha1.BackupSchedule, int64)  {}
func (noMetrics) forget(string, string)                   {}

func testSchedule() *v1alpha1.BackupSchedule {
	cr := &v1alpha1.BackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "app", UID: types.UID("schedule-uid"),
		CreationTimestamp: metav1.NewTime(time.Date(2026, 5, 4, 7, 30, 0, 0, time.UTC))}}
	cr.Spec.ForProvider.Schedule = "0 * * * *"
	cr.Spec.ForProvider.StartingDeadlineSeconds = ptr.To[int64](600)
	cr.Status.AtProvider.LastTickTime = ptr.To(metav1.NewTime(time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)))
	return cr
}

func newExternal(t *testing.T, c client.Client, now time.Time) (*external, *recorder) {
	t.Helper()
	rec := &recorder{}
	return &external{kube: c, reader: c, recorder: rec, metrics: noMetrics{}, now: func() time.Time { return now }}, rec
}

func scheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestUpdateCountsMissedTicksOnce: after downtime, the catch-up's create
// fails; the status the reconciler then writes must not count the missed
// ticks, or every retry would count them again. Once the create succeeds
// they are counted once.
func TestUpdateCountsMissedTicksOnce(t *testing.T) {
	now := time.Date(2026, 5, 4, 12, 5, 0, 0, time.UTC)
	fail := true
	c := fake.NewClientBuilder().WithScheme(scheme(t)).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
			if fail {
				return errors.New("apiserver unavailable")
			}
			return c.Create(ctx, o, opts...)
		},
	}).Build()
	cr := testSchedule()
	for i := range 3 {
		e, _ := newExternal(t, c, now)
		if _, err := e.Observe(context.Background(), cr); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Update(context.Background(), cr); err == nil {
			t.Fatalf("try %d: want the create's error", i)
		}
	}
	if got := cr.Status.AtProvider.MissedTicks; got != 0 {
		t.Errorf("after three failed creates: missedTicks %d, want 0 (nothing handled yet)", got)
	}
	fail = false
	e, rec := newExternal(t, c, now)
	if _, err := e.Observe(context.Background(), cr); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Update(context.Background(), cr); err != nil {
		t.Fatal(err)
	}
	// Ticks at 09:00, 10:00 and 11:00 were missed; 12:00 is caught up.
	if got := cr.Status.AtProvider.MissedTicks; got != 3 {
		t.Errorf("missedTicks: want 3, got %d", got)
	}
	if diff := cmp.Diff([]string{"BackupCreated", "TicksMissed"}, rec.reasons); diff != "" {
		t.Errorf("Events: -want, +got:\n%s", diff)
	}
	if got := cr.Status.AtProvider.LastBackupName; got != "nightly-1777896000" {
		t.Errorf("lastBackupName: %q", got)
	}
}

// TestUpdateNeverTakesOverABackup: a Backup of the tick's name that the
// schedule does not control is left alone, and the tick is counted missed.
func TestUpdateNeverTakesOverABackup(t *testing.T) {
	now := time.Date(2026, 5, 4, 9, 0, 1, 0, time.UTC)
	foreign := &v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly-1777885200", Namespace: "app", Labels: map[string]string{"mine": "yes"}}}
	c := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(foreign).Build()
	cr := testSchedule()
	e, rec := newExternal(t, c, now)
	if _, err := e.Observe(context.Background(), cr); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Update(context.Background(), cr); err != nil {
		t.Fatal(err)
	}
	got := &v1alpha1.Backup{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(foreign), got); err != nil {
		t.Fatal(err)
	}
	if len(got.OwnerReferences) != 0 || got.Labels["mine"] != "yes" {
		t.Errorf("the foreign Backup was changed: %+v", got.ObjectMeta)
	}
	st := cr.Status.AtProvider
	if st.MissedTicks != 1 || st.LastBackupName != "" || st.LastTickTime == nil || !st.LastTickTime.Equal(ptr.To(metav1.NewTime(time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)))) {
		t.Errorf("status: missed %d, last backup %q, last tick %v", st.MissedTicks, st.LastBackupName, st.LastTickTime)
	}
	if diff := cmp.Diff([]string{"BackupNameTaken"}, rec.reasons); diff != "" {
		t.Errorf("Events: -want, +got:\n%s", diff)
	}
}

// TestUpdatePrunesOnlyItsOwn: retention hands the schedule's own pruned
// Backups to the garbage collector (their only owner then is one that does
// not exist) and leaves a labelled Backup it does not control alone.
func TestUpdatePrunesOnlyItsOwn(t *testing.T) {
	now := time.Date(2026, 5, 4, 8, 30, 0, 0, time.UTC)
	cr := testSchedule()
	cr.Spec.ForProvider.RetentionPolicy = &v1alpha1.RetentionPolicy{KeepLast: ptr.To[int32](1)}
	owned := func(name string, tick time.Time) *v1alpha1.Backup {
		b := &v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "app",
			Labels:          map[string]string{v1alpha1.LabelBackupSchedule: "nightly", v1alpha1.LabelScheduleTick: formatUnixSeconds(tick)},
			OwnerReferences: []metav1.OwnerReference{meta.AsController(meta.TypedReferenceTo(cr, v1alpha1.BackupScheduleGroupVersionKind))}}}
		b.Status.AtProvider.Phase = v1alpha1.BackupCompleted
		b.Status.AtProvider.CompletionTime = ptr.To(metav1.NewTime(tick.Add(time.Minute)))
		return b
	}
	old := owned("nightly-1777874400", time.Date(2026, 5, 4, 6, 0, 0, 0, time.UTC))
	newest := owned("nightly-1777881600", time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC))
	// Labelled like the schedule's, older than anything, not controlled by it.
	impostor := owned("nightly-1777870800", time.Date(2026, 5, 4, 5, 0, 0, 0, time.UTC))
	impostor.OwnerReferences = nil
	c := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(old, newest, impostor).WithStatusSubresource(&v1alpha1.Backup{}).Build()
	e, rec := newExternal(t, c, now)
	obs, err := e.Observe(context.Background(), cr)
	if err != nil {
		t.Fatal(err)
	}
	if obs.ResourceUpToDate {
		t.Fatal("retention has a Backup to prune: the schedule is not up to date")
	}
	if _, err := e.Update(context.Background(), cr); err != nil {
		t.Fatal(err)
	}
	owners := func(b *v1alpha1.Backup) []metav1.OwnerReference {
		got := &v1alpha1.Backup{}
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(b), got); err != nil {
			t.Fatal(err)
		}
		return got.OwnerReferences
	}
	if diff := cmp.Diff([]metav1.OwnerReference{prunedOwner}, owners(old)); diff != "" {
		t.Errorf("the pruned Backup's owners: -want, +got:\n%s", diff)
	}
	if got := owners(newest); !metav1.IsControlledBy(&v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{OwnerReferences: got}}, cr) {
		t.Errorf("the newest Backup lost its schedule: %v", got)
	}
	if got := owners(impostor); len(got) != 0 {
		t.Errorf("a Backup the schedule does not control was touched: %v", got)
	}
	if cr.Status.AtProvider.KeptBackups != 1 || cr.Status.AtProvider.LastPruneTime == nil {
		t.Errorf("status: kept %d, last prune %v", cr.Status.AtProvider.KeptBackups, cr.Status.AtProvider.LastPruneTime)
	}
	if diff := cmp.Diff([]string{"BackupPruned"}, rec.reasons); diff != "" {
		t.Errorf("Events: -want, +got:\n%s", diff)
	}
}

func formatUnixSeconds(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
