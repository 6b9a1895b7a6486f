package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis"
	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/jobs"
	usecase "github.com/qdrantops/qdrantops/provider-qdrantops/internal/restore"
)

// huge is an error text of 8 MB, as a use case's error may be when it
// quotes what Qdrant or the bucket answered.
var huge = strings.Repeat("x", 8<<20)

// events records the Events a controller emits.
type events struct{ got []event.Event }

func (r *events) Event(_ runtime.Object, e event.Event)    { r.got = append(r.got, e) }
func (r *events) WithAnnotations(...string) event.Recorder { return r }

// A failure's error text, however long, is bounded where the status and
// the Events take it, and still starts by saying what failed.
func TestFailedBoundsError(t *testing.T) {
	cases := map[string]struct {
		reason   string
		attempts int32
		err      error
		phase    v1alpha1.RestorePhase
		prefix   string
		suffix   string
	}{
		"LastAttempt": {
			reason:   "The last attempt's failure is bounded, and keeps its hint and its count of attempts.",
			attempts: 3,
			err:      &usecase.Error{Reason: usecase.ReasonShardFailed, Message: "cannot recover shard 0 of collection c: " + huge},
			phase:    v1alpha1.RestoreFailed,
			prefix:   "cannot recover shard 0 of collection c: xxx",
			suffix:   "...; " + hint(usecase.ReasonShardFailed) + " (after 3 attempts)",
		},
		"Retrying": {
			reason:   "A failure that is retried is bounded too: the condition says what failed.",
			attempts: 1,
			err:      &usecase.Error{Reason: usecase.ReasonQdrantUnreachable, Message: "cannot connect to the target Qdrant: " + huge},
			phase:    v1alpha1.RestorePending,
			prefix:   "cannot connect to the target Qdrant: xxx",
			suffix:   "...",
		},
		"Unclassified": {
			reason:   "An error the use case did not classify is bounded as well.",
			attempts: 3,
			err:      errors.New("restore: " + huge),
			phase:    v1alpha1.RestoreFailed,
			prefix:   "restore: xxx",
			suffix:   "... (after 3 attempts)",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := &external{connector: &connector{deps: Deps{MaxAttempts: 3, AttemptBackoff: time.Minute}, now: time.Now}}
			cr := &v1alpha1.Restore{}
			cr.Status.AtProvider.Attempts = tc.attempts
			e.failed(cr, tc.err)
			obs := cr.Status.AtProvider
			if obs.Phase != tc.phase {
				t.Errorf("%s\nphase: want %s, got %s", tc.reason, tc.phase, obs.Phase)
			}
			if len(obs.Error) > maxMessageBytes || !strings.HasPrefix(obs.Error, tc.prefix) || !strings.HasSuffix(obs.Error, tc.suffix) {
				t.Errorf("%s\nerror: want at most %d bytes starting %q and ending %q, got %d bytes: %.60q...%q",
					tc.reason, maxMessageBytes, tc.prefix, tc.suffix, len(obs.Error), obs.Error, obs.Error[max(0, len(obs.Error)-200):])
			}
			msg := cr.GetCondition(xpv2.TypeReady).Message
			if len(msg) > maxMessageBytes || !strings.Contains(msg, tc.prefix) {
				t.Errorf("%s\nReady condition: want at most %d bytes saying %q, got %d bytes: %.80q", tc.reason, maxMessageBytes, tc.prefix, len(msg), msg)
			}
		})
	}
}

// An error recorded before its text was bounded, or grown by the count of
// attempts, is bounded again when the attempts are used up.
func TestStartBoundsRecordedError(t *testing.T) {
	s := scheme(t)
	cr := &v1alpha1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "r", UID: "uid-1"}}
	cr.Status.AtProvider = v1alpha1.RestoreObservation{Phase: v1alpha1.RestorePending, Attempts: 3, Error: "cannot read the manifest: " + huge[:1<<20]}
	kube := fake.NewClientBuilder().WithScheme(s).WithObjects(cr).WithStatusSubresource(cr).Build()
	rec := &events{}
	e := &external{connector: &connector{kube: kube, recorder: rec, deps: Deps{MaxAttempts: 3}, now: time.Now}}
	started, err := e.start(context.Background(), cr)
	if err != nil || started {
		t.Fatalf("start with the attempts used up: want not started and no error, got %v, %v", started, err)
	}
	if got := cr.Status.AtProvider.Error; len(got) > maxMessageBytes || !strings.HasPrefix(got, "cannot read the manifest: x") || !strings.HasSuffix(got, "... (after 3 attempts)") {
		t.Errorf("error: want at most %d bytes, the cause then the attempts, got %d bytes ending %q", maxMessageBytes, len(got), got[max(0, len(got)-40):])
	}
	checkEvents(t, rec.got, "cannot read the manifest: x")
}

// checkEvents fails unless there are Events, each within Kubernetes' limit,
// the last saying what failed.
func checkEvents(t *testing.T, got []event.Event, prefix string) {
	t.Helper()
	if len(got) == 0 {
		t.Fatal("no Event emitted")
	}
	for _, ev := range got {
		if len(ev.Message) > maxEventBytes {
			t.Errorf("Event %s: %d bytes, want at most %d", ev.Reason, len(ev.Message), maxEventBytes)
		}
	}
	if last := got[len(got)-1]; !strings.HasPrefix(last.Message, prefix) {
		t.Errorf("Event %s: want it to start %q, got %.80q", last.Reason, prefix, last.Message)
	}
}

func scheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := apis.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// maxRequestBytes is the API server's limit on a request's body.
const maxRequestBytes = 3 << 20

// apiLimit refuses a status write, as the API server does, when the object
// is larger than the API server accepts; with conflict, it refuses every
// status write with a conflict instead.
func apiLimit(conflict bool) interceptor.Funcs {
	return interceptor.Funcs{SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
		if conflict {
			return kerrors.NewConflict(v1alpha1.RestoreGroupVersionKind.GroupVersion().WithResource("restores").GroupResource(), obj.GetName(), errors.New("the object has been modified"))
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		if len(b) > maxRequestBytes {
			return kerrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxRequestBytes))
		}
		return c.SubResource(sub).Update(ctx, obj, opts...)
	}}
}

// A finished restore whose result the API server refuses, for the journal
// of its collections is too large, is recorded as a minimal failure rather
// than left in its running phase for ever.
func TestObserveJobRecordsRefusedResult(t *testing.T) {
	// Ten collections of 65536 recovered shards each: over 3 MiB of status.
	rec := usecase.Record{Created: []string{}, Recovered: map[string][]uint32{}}
	for i := range 10 {
		name := fmt.Sprintf("c%d", i)
		rec.Created = append(rec.Created, name)
		ids := make([]uint32, 65536)
		for id := range ids {
			ids[id] = uint32(id) + 1_000_000
		}
		rec.Recovered[name] = ids
	}
	small := usecase.Record{Created: []string{"c0"}, Recovered: map[string][]uint32{"c0": {0}}}
	cases := map[string]struct {
		reason   string
		journal  usecase.Record
		err      error
		conflict bool
		wantErr  bool
		want     v1alpha1.RestorePhase
		prefix   string // of the recorded error
		reasonOf xpv2.ConditionReason
		entries  int
	}{
		"CompletedTooLarge": {
			reason:  "A completed restore whose status is too large is recorded Failed, without its collections.",
			journal: rec, want: v1alpha1.RestoreFailed, reasonOf: reasonNotRecorded,
			prefix: "the restore completed, but the API server refused to record its result: ",
		},
		"FailedTooLarge": {
			reason:  "A failed one too, with its own error, bounded.",
			journal: rec, err: &usecase.Error{Reason: usecase.ReasonShardFailed, Message: "cannot recover shard 3: " + huge, Permanent: true},
			want: v1alpha1.RestoreFailed, reasonOf: reasonNotRecorded,
			prefix: "the restore failed (cannot recover shard 3: xxx",
		},
		"FailedHugeError": {
			reason:  "A failure with a huge error text and a small status is recorded as it is, bounded.",
			journal: small, err: &usecase.Error{Reason: usecase.ReasonShardFailed, Message: "cannot recover shard 3: " + huge, Permanent: true},
			want: v1alpha1.RestoreFailed, reasonOf: usecase.ReasonShardFailed, prefix: "cannot recover shard 3: xxx", entries: 1,
		},
		"Conflict": {
			reason:  "A conflict is no refusal: the next reconcile, finding the job, tries again.",
			journal: small, conflict: true, wantErr: true, want: v1alpha1.RestoreInProgress, entries: 0,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cr := &v1alpha1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "r", UID: "uid-1"}}
			cr.Status.AtProvider = v1alpha1.RestoreObservation{Phase: v1alpha1.RestoreInProgress, Attempts: 1, S3Path: "s3://backups/team-a/nightly"}
			kube := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(cr.DeepCopy()).WithStatusSubresource(cr).WithInterceptorFuncs(apiLimit(tc.conflict)).Build()
			if err := kube.Get(ctx, client.ObjectKeyFromObject(cr), cr); err != nil {
				t.Fatal(err)
			}
			rec := &events{}
			e := &external{connector: &connector{kube: kube, recorder: rec, runner: jobs.NewRunner[jobResult](ctx, jobs.NewSlots()), deps: Deps{MaxAttempts: 1}, now: time.Now}}
			st := jobs.State[jobResult]{Done: true, Err: tc.err, Progress: jobResult{Journaled: true, Journal: tc.journal, StartedAt: time.Now()}}
			err := e.observeJob(ctx, cr, st)
			if (err != nil) != tc.wantErr {
				t.Fatalf("%s\nobserveJob: want error %t, got %v", tc.reason, tc.wantErr, err)
			}
			got := &v1alpha1.Restore{}
			if err := kube.Get(ctx, client.ObjectKeyFromObject(cr), got); err != nil {
				t.Fatal(err)
			}
			obs := got.Status.AtProvider
			if diff := cmp.Diff(tc.want, obs.Phase); diff != "" {
				t.Errorf("%s\nrecorded phase: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.entries, len(obs.RestoredCollections)); diff != "" {
				t.Errorf("%s\nrecorded collections: -want, +got:\n%s", tc.reason, diff)
			}
			if tc.wantErr {
				return
			}
			if len(obs.Error) > maxMessageBytes || !strings.HasPrefix(obs.Error, tc.prefix) {
				t.Errorf("%s\nrecorded error: want at most %d bytes starting %q, got %d bytes: %.120q", tc.reason, maxMessageBytes, tc.prefix, len(obs.Error), obs.Error)
			}
			if c := got.GetCondition(xpv2.TypeReady); c.Reason != tc.reasonOf || len(c.Message) > maxMessageBytes {
				t.Errorf("%s\nReady condition: want reason %s within %d bytes, got %s of %d bytes", tc.reason, tc.reasonOf, maxMessageBytes, c.Reason, len(c.Message))
			}
			if c := got.GetCondition(v1alpha1.TypeWarning); c.Reason != "" {
				t.Errorf("%s\nWarning condition of a failed restore: want none, got %s", tc.reason, c.Reason)
			}
			checkEvents(t, rec.got, obs.Error[:min(len(obs.Error), 40)])
		})
	}
}

// A running job's retry note and a failed attempt's error are bounded where
// the status and the Events take them.
func TestObserveJobBoundsMessages(t *testing.T) {
	cases := map[string]struct {
		reason string
		st     jobs.State[jobResult]
		phase  v1alpha1.RestorePhase
		prefix string // of the Ready condition's message
		event  string // prefix of the last Event, "" none
	}{
		"Retrying": {
			reason: "A shard retried for an error of any length says so within bounds.",
			st:     jobs.State[jobResult]{Progress: jobResult{Status: usecase.Status{Retrying: "retrying shard 2 of c: " + huge}}},
			phase:  v1alpha1.RestoreInProgress,
			prefix: "Reading the backup's manifest and checking the target; retrying shard 2 of c: xxx",
		},
		"AttemptFailed": {
			reason: "An attempt that failed for a reason that may pass is retried, its error bounded.",
			st:     jobs.State[jobResult]{Done: true, Err: &usecase.Error{Reason: usecase.ReasonQdrantUnreachable, Message: "cannot list the target's collections: " + huge}},
			phase:  v1alpha1.RestorePending,
			prefix: "Attempt 1 of 3 failed, retrying in 1m0s: cannot list the target's collections: xxx",
			event:  "cannot list the target's collections: xxx",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cr := &v1alpha1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "r", UID: "uid-1"}}
			cr.Status.AtProvider = v1alpha1.RestoreObservation{Phase: v1alpha1.RestoreInProgress, Attempts: 1}
			kube := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(cr.DeepCopy()).WithStatusSubresource(cr).WithInterceptorFuncs(apiLimit(false)).Build()
			if err := kube.Get(ctx, client.ObjectKeyFromObject(cr), cr); err != nil {
				t.Fatal(err)
			}
			rec := &events{}
			e := &external{connector: &connector{kube: kube, recorder: rec, runner: jobs.NewRunner[jobResult](ctx, jobs.NewSlots()), deps: Deps{MaxAttempts: 3, AttemptBackoff: time.Minute}, now: time.Now}}
			if err := e.observeJob(ctx, cr, tc.st); err != nil {
				t.Fatalf("%s\nobserveJob: %v", tc.reason, err)
			}
			if cr.Status.AtProvider.Phase != tc.phase {
				t.Errorf("%s\nphase: want %s, got %s", tc.reason, tc.phase, cr.Status.AtProvider.Phase)
			}
			if got := cr.Status.AtProvider.Error; len(got) > maxMessageBytes {
				t.Errorf("%s\nerror: %d bytes, want at most %d", tc.reason, len(got), maxMessageBytes)
			}
			if msg := cr.GetCondition(xpv2.TypeReady).Message; len(msg) > maxMessageBytes || !strings.HasPrefix(msg, tc.prefix) {
				t.Errorf("%s\nReady condition: want at most %d bytes starting %q, got %d bytes: %.100q", tc.reason, maxMessageBytes, tc.prefix, len(msg), msg)
			}
			if tc.event != "" {
				checkEvents(t, rec.got, tc.event)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	gr := v1alpha1.RestoreGroupVersionKind.GroupVersion().WithResource("restores").GroupResource()
	cases := map[string]struct {
		reason string
		err    error
		want   bool
	}{
		"TooLarge":    {"The API server's limit on a request is a refusal.", kerrors.NewRequestEntityTooLargeError("limit is 3145728"), true},
		"Invalid":     {"A status the schema refuses is refused again.", kerrors.NewInvalid(v1alpha1.RestoreGroupVersionKind.GroupKind(), "r", nil), true},
		"EtcdLimit":   {"etcd's limit, reported as an internal error, is a refusal.", kerrors.NewInternalError(errors.New("etcdserver: request is too large")), true},
		"GRPCLimit":   {"So is the limit of the API server's connection to etcd.", kerrors.NewInternalError(errors.New("rpc error: code = ResourceExhausted desc = trying to send message larger than max (3145929 vs. 2097152)")), true},
		"Conflict":    {"A conflict passes with the next read.", kerrors.NewConflict(gr, "r", errors.New("modified")), false},
		"Internal":    {"Another internal error may pass.", kerrors.NewInternalError(errors.New("etcd leader changed")), false},
		"Unavailable": {"An API server away may come back.", kerrors.NewServiceUnavailable("later"), false},
		"Timeout":     {"So may a timeout.", kerrors.NewTimeoutError("slow", 1), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := refused(fmt.Errorf("cannot update: %w", tc.err)); got != tc.want {
				t.Errorf("%s\nrefused(%v): want %t, got %t", tc.reason, tc.err, tc.want, got)
			}
		})
	}
}
