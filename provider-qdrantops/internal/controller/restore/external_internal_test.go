package restore

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis"
	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/clients"
	usecase "github.com/qdrantops/qdrantops/provider-qdrantops/internal/restore"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

func TestCollections(t *testing.T) {
	five := uint64(5)
	cases := map[string]struct {
		reason string
		base   []v1alpha1.RestoredCollection
		st     usecase.Status
		rec    usecase.Record
		want   []v1alpha1.RestoredCollection
	}{
		"JournalOverProgress": {
			reason: "The journal says what was created, replaced and recovered; progress says the rest.",
			st: usecase.Status{Collections: []usecase.CollectionStatus{
				{Name: "a", Source: "src-a", ShardsTotal: 3, ShardsRestored: 2, ExpectedPoints: 5, Points: &five, Verified: true, SampledPoints: 4, UploadedShards: 1},
			}},
			rec: usecase.Record{Created: []string{"a"}, Replaced: []string{"a"}, Recovered: map[string][]uint32{"a": {2, 0, 2}}},
			want: []v1alpha1.RestoredCollection{{
				Name: "a", SourceName: "src-a", ShardsTotal: 3, ShardsRestored: 2, ExpectedPoints: ptr.To[int64](5), Points: ptr.To[int64](5),
				Verified: true, SampledPoints: 4, UploadedShards: 1, Created: true, Replaced: true, RecoveredShards: []uint32{0, 2},
			}},
		},
		"BaseEntriesKept": {
			reason: "An entry of an earlier run stays, with its journal replaced by the current one, so that nothing the journal needs is dropped.",
			base: []v1alpha1.RestoredCollection{
				{Name: "old", SourceName: "old", ShardsTotal: 2, ShardsRestored: 1, Created: true, RecoveredShards: []uint32{1}},
			},
			st:  usecase.Status{Collections: []usecase.CollectionStatus{{Name: "new", Source: "new", ShardsTotal: 1}}},
			rec: usecase.Record{Created: []string{"old", "new"}, Recovered: map[string][]uint32{"old": {1}}},
			want: []v1alpha1.RestoredCollection{
				{Name: "new", SourceName: "new", ShardsTotal: 1, ExpectedPoints: ptr.To[int64](0), Created: true},
				{Name: "old", SourceName: "old", ShardsTotal: 2, ShardsRestored: 1, Created: true, RecoveredShards: []uint32{1}},
			},
		},
		"JournalOnlyEntries": {
			reason: "A journal entry of a collection no progress names yet still gets an entry.",
			rec:    usecase.Record{Created: []string{"b"}, Recovered: map[string][]uint32{"c": {0}}},
			want: []v1alpha1.RestoredCollection{
				{Name: "b", Created: true},
				{Name: "c", RecoveredShards: []uint32{0}},
			},
		},
		"CleanedUp": {
			reason: "After a failed run deleted what it created, the journal clears the entries' created and recovered shards.",
			base: []v1alpha1.RestoredCollection{
				{Name: "a", SourceName: "a", Created: true, Replaced: true, RecoveredShards: []uint32{0, 1}},
			},
			rec:  usecase.Record{Replaced: []string{"a"}, Recovered: map[string][]uint32{}},
			want: []v1alpha1.RestoredCollection{{Name: "a", SourceName: "a", Replaced: true}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := collections(tc.base, tc.st, tc.rec)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\ncollections(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// The journal read back from status is the journal written to it: what a
// restarted provider resumes from is what the run persisted.
func TestResumeRecordRoundTrip(t *testing.T) {
	rec := usecase.Record{Created: []string{"a", "b"}, Replaced: []string{"b"}, Recovered: map[string][]uint32{"a": {0, 1, 5}, "b": {3}}}
	got := resumeRecord(collections(nil, usecase.Status{}, rec))
	if diff := cmp.Diff(rec, got); diff != "" {
		t.Errorf("resumeRecord(collections(rec)): -want, +got:\n%s", diff)
	}
}

// A job still queued has reported nothing: its empty journal must not blank
// the journal of an earlier run in status.
func TestApplyKeepsJournalOfQueuedJob(t *testing.T) {
	obs := &v1alpha1.RestoreObservation{RestoredCollections: []v1alpha1.RestoredCollection{{Name: "a", Created: true, RecoveredShards: []uint32{0}}}}
	want := obs.DeepCopy()
	apply(obs, jobResult{})
	if diff := cmp.Diff(want, obs); diff != "" {
		t.Errorf("apply of a queued job: -want, +got:\n%s", diff)
	}
	apply(obs, jobResult{Journaled: true, Journal: usecase.Record{Created: []string{"a"}, Recovered: map[string][]uint32{"a": {0, 1}}}})
	if got := obs.RestoredCollections[0].RecoveredShards; !cmp.Equal(got, []uint32{0, 1}) {
		t.Errorf("apply of a running job: recovered shards %v, want [0 1]", got)
	}
}

func TestNextLook(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	restore := func(phase v1alpha1.RestorePhase, waited time.Duration) *v1alpha1.Restore {
		r := &v1alpha1.Restore{}
		r.Status.AtProvider.Phase = phase
		if waited > 0 {
			c := xpv2.Creating()
			c.LastTransitionTime = metav1.NewTime(now.Add(-waited))
			r.SetConditions(c)
		}
		return r
	}
	cases := map[string]struct {
		reason string
		r      *v1alpha1.Restore
		want   time.Duration
	}{
		"Running":      {reason: "Progress is reported every few seconds.", r: restore(v1alpha1.RestoreInProgress, 0), want: 5 * time.Second},
		"Settled":      {reason: "A finished restore waits for the poll.", r: restore(v1alpha1.RestoreCompleted, 0), want: time.Minute},
		"WaitingFresh": {reason: "A restore that just started waiting looks again soon.", r: restore(v1alpha1.RestorePending, time.Second), want: time.Second},
		"WaitingLong":  {reason: "The longer a restore waited, the longer it waits between looks.", r: restore(v1alpha1.RestorePending, 40*time.Second), want: 20 * time.Second},
		"WaitingCap":   {reason: "The wait never exceeds the poll interval.", r: restore(v1alpha1.RestorePending, time.Hour), want: time.Minute},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := nextLook(tc.r, time.Minute, now); got != tc.want {
				t.Errorf("%s\nnextLook: want %s, got %s", tc.reason, tc.want, got)
			}
		})
	}
}

func TestAttemptBackoff(t *testing.T) {
	for attempts, want := range map[int32]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 20: time.Hour} {
		if got := attemptBackoff(30*time.Second, attempts); got != want {
			t.Errorf("attemptBackoff after %d attempts: want %s, got %s", attempts, want, got)
		}
	}
}

func TestBoundWarnings(t *testing.T) {
	many := make([]string, 25)
	for i := range many {
		many[i] = "w"
	}
	got := boundWarnings(many)
	if len(got) != maxWarnings || got[maxWarnings-1] != "and 6 more warnings" {
		t.Errorf("25 warnings: got %d, last %q", len(got), got[len(got)-1])
	}
	long := boundWarnings([]string{strings.Repeat("é", 1000)})[0]
	if len(long) > maxWarningBytes || !strings.HasSuffix(long, "...") || !strings.HasPrefix(long, "é") {
		t.Errorf("a long warning: %d bytes, %q...", len(long), long[:8])
	}
}

func TestRestorable(t *testing.T) {
	backup := func(phase v1alpha1.BackupPhase, verified bool, ready corev1.ConditionStatus) *v1alpha1.Backup {
		b := &v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "nightly"}}
		b.Status.AtProvider.Phase = phase
		if verified {
			b.Status.AtProvider.Verification = &v1alpha1.Verification{Verified: true}
		}
		b.SetConditions(xpv2.Condition{Type: xpv2.TypeReady, Status: ready, Message: "the backup's manifest is missing from the bucket"})
		return b
	}
	cases := map[string]struct {
		reason string
		b      *v1alpha1.Backup
		want   string // empty: restorable
	}{
		"Completed":  {reason: "A completed, verified, Ready Backup is restored.", b: backup(v1alpha1.BackupCompleted, true, corev1.ConditionTrue)},
		"Running":    {reason: "A running Backup is waited for.", b: backup(v1alpha1.BackupInProgress, false, corev1.ConditionFalse), want: "Waiting for Backup nightly to complete: it is InProgress"},
		"New":        {reason: "A Backup not started yet is waited for.", b: backup("", false, corev1.ConditionFalse), want: "it is not started"},
		"Unverified": {reason: "A completed Backup must be verified.", b: backup(v1alpha1.BackupCompleted, false, corev1.ConditionTrue), want: "to be verified"},
		"NotReady":   {reason: "A Backup whose manifest went missing is not restored.", b: backup(v1alpha1.BackupCompleted, true, corev1.ConditionFalse), want: "manifest is missing"},
		"Failed":     {reason: "A failed Backup says it will not complete.", b: backup(v1alpha1.BackupFailed, false, corev1.ConditionFalse), want: "will not complete; restore from another backup"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := restorable(tc.b)
			var nr *waitError
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("%s\nrestorable: %v", tc.reason, err)
			case tc.want != "" && (!errors.As(err, &nr) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("%s\nrestorable: want a wait saying %q, got %v", tc.reason, tc.want, err)
			}
		})
	}
}

// nopStore is a store that is never used: fromS3 only builds one.
type nopStore struct{}

func (nopStore) Get(context.Context, string) (io.ReadCloser, int64, error) {
	return nil, 0, errors.New("not in this test")
}
func (nopStore) Open(context.Context, string) (io.ReadCloser, error) {
	return nil, errors.New("not in this test")
}
func (nopStore) Presign(context.Context, string, time.Duration) (string, error) {
	return "", errors.New("not in this test")
}
func (nopStore) Head(context.Context, string) (int64, error) { return 0, errors.New("unused") }
func (nopStore) CheckBucket(context.Context) error           { return nil }

func TestFromS3(t *testing.T) {
	s := runtime.NewScheme()
	if err := apis.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	kube := fake.NewClientBuilder().WithScheme(s).WithObjects(
		&v1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "own"}, Spec: v1alpha1.ProviderConfigSpec{Credentials: v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceNone}}},
		&v1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Spec: v1alpha1.ClusterProviderConfigSpec{
			ProviderConfigSpec: v1alpha1.ProviderConfigSpec{Credentials: v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceNone}},
			Tenancy:            &v1alpha1.Tenancy{KeyPrefix: "tenants/{{namespace}}/", AllowedBuckets: []string{"backups"}},
		}},
	).Build()
	c := &connector{kube: kube, stores: clients.NewCache[store](4), newStore: func(s3store.Config) (store, error) { return nopStore{}, nil }}
	cases := map[string]struct {
		reason string
		config string
		bucket string
		path   string
		want   string // the root; empty when an error is wanted
		err    string
	}{
		"OwnConfig": {
			reason: "A namespace's own ProviderConfig enforces no prefix: the path is the folder.",
			config: "ProviderConfig/own", bucket: "backups", path: "prod/team-a/search/nightly", want: "prod/team-a/search/nightly/",
		},
		"ManifestKey": {
			reason: "The path may name the manifest itself.",
			config: "ProviderConfig/own", bucket: "backups", path: "prod/nightly/manifest.json", want: "prod/nightly/",
		},
		"EnforcedPrefix": {
			reason: "A ClusterProviderConfig's prefix comes first: another tenant's folder is out of reach.",
			config: "ClusterProviderConfig/shared", bucket: "backups", path: "tenants/team-b/search/nightly", want: "tenants/team-a/tenants/team-b/search/nightly/",
		},
		"DotDot": {
			reason: "A .. segment, which the schema refuses, is refused here too: it could climb out of the prefix.",
			config: "ClusterProviderConfig/shared", bucket: "backups", path: "../team-b/search/nightly", err: `the name ".."`,
		},
		"EmptySegment": {
			reason: "An empty segment is refused.",
			config: "ProviderConfig/own", bucket: "backups", path: "prod//nightly", err: "an empty name",
		},
		"BucketRoot": {
			reason: "A manifest at the bucket's root names no folder.",
			config: "ProviderConfig/own", bucket: "backups", path: "manifest.json", err: "names no folder",
		},
		"BucketNotAllowed": {
			reason: "The tenancy's allowed buckets hold for raw paths too.",
			config: "ClusterProviderConfig/shared", bucket: "elsewhere", path: "x/y", err: `bucket "elsewhere" is not allowed`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			kind, pcName, _ := strings.Cut(tc.config, "/")
			cr := &v1alpha1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "r"}}
			cr.Spec.ProviderConfigReference = &xpv2.ProviderConfigReference{Kind: kind, Name: pcName}
			src, err := c.fromS3(context.Background(), cr, v1alpha1.S3BackupPath{Bucket: tc.bucket, Path: tc.path})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("%s\nfromS3: want an error saying %q, got %v (root %q)", tc.reason, tc.err, err, src.root)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nfromS3: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, src.root); diff != "" {
				t.Errorf("%s\nroot: -want, +got:\n%s", tc.reason, diff)
			}
			if src.backupUID != "" {
				t.Errorf("%s\na raw path names no Backup, got uid %q", tc.reason, src.backupUID)
			}
		})
	}
}
