package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/crossplane/crossplane-runtime/v2/pkg/event"
	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis"
	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	usecase "github.com/qdrantops/qdrantops/provider-qdrantops/internal/backup"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/clients"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/jobs"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
)

// fakeStore is a store whose methods tests set; unset ones succeed empty.
type fakeStore struct {
	MockCheckBucket func(context.Context) error
}

func (f *fakeStore) PutStream(context.Context, string, func(context.Context) (io.ReadCloser, error)) (int64, string, error) {
	return 0, "", errors.New("not in this test")
}
func (f *fakeStore) PutBytes(context.Context, string, []byte, string) error { return nil }
func (f *fakeStore) Get(context.Context, string) (io.ReadCloser, int64, error) {
	return nil, 0, errors.New("not in this test")
}
func (f *fakeStore) Head(context.Context, string) (int64, error) { return 0, nil }
func (f *fakeStore) AbortUploads(context.Context, string, func(string) bool) (int, error) {
	return 0, nil
}
func (f *fakeStore) ListKeys(context.Context, string) ([]string, error) { return nil, nil }
func (f *fakeStore) DeleteKeys(context.Context, []string) (int, error)  { return 0, nil }
func (f *fakeStore) CheckBucket(ctx context.Context) error {
	if f.MockCheckBucket != nil {
		return f.MockCheckBucket(ctx)
	}
	return nil
}

func scheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := apis.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func pendingBackup(attempts int32) *v1alpha1.Backup {
	b := &v1alpha1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "team-a", UID: "uid-1"},
		Spec: v1alpha1.BackupSpec{ForProvider: v1alpha1.BackupParameters{BackupSource: v1alpha1.BackupSource{
			QdrantTarget: v1alpha1.QdrantTarget{Connection: &v1alpha1.QdrantConnection{URL: "http://127.0.0.1:1"}},
			Storage:      v1alpha1.Storage{S3: v1alpha1.S3Location{Bucket: "b"}},
		}}},
	}
	b.Status.AtProvider.Phase = v1alpha1.BackupPending
	b.Status.AtProvider.Attempts = attempts
	return b
}

// newExternal returns an external client over a fake apiserver holding cr;
// statusUpdate, when set, intercepts status writes.
func newExternal(t *testing.T, cr *v1alpha1.Backup, statusUpdate func(client.Object) error) *external {
	t.Helper()
	kube := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(cr).WithStatusSubresource(cr).
		WithInterceptorFuncs(interceptor.Funcs{SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			if statusUpdate != nil {
				if err := statusUpdate(obj); err != nil {
					return err
				}
			}
			return c.SubResource(sub).Update(ctx, obj, opts...)
		}}).Build()
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	c := &connector{
		kube:     kube,
		runner:   jobs.NewRunner[jobResult](context.Background(), jobs.NewSlots()),
		recorder: event.NewNopRecorder(),
		deps:     Deps{MaxAttempts: 3},
		connect: func(ctx context.Context, _ clients.Target) (usecase.Cluster, error) {
			<-block // The job never gets anywhere: these tests look at what comes before.
			return nil, ctx.Err()
		},
	}
	return &external{connector: c, store: &fakeStore{}}
}

// Every run is counted in the persisted status before it starts: if the
// count cannot be written, nothing starts.
func TestStartCountsTheAttemptFirst(t *testing.T) {
	cr := pendingBackup(1)
	var persisted []int32
	e := newExternal(t, cr, func(o client.Object) error {
		persisted = append(persisted, o.(*v1alpha1.Backup).Status.AtProvider.Attempts)
		return nil
	})
	started, err := e.start(context.Background(), cr)
	if err != nil || !started {
		t.Fatalf("start: %v, %v", started, err)
	}
	if diff := cmp.Diff([]int32{2}, persisted); diff != "" {
		t.Errorf("attempts persisted before the start: -want, +got:\n%s", diff)
	}
	if _, ok := e.runner.Get(string(cr.UID)); !ok {
		t.Error("no job started")
	}

	cr = pendingBackup(1)
	e = newExternal(t, cr, func(client.Object) error { return errors.New("etcd is unhappy") })
	if _, err := e.start(context.Background(), cr); err == nil {
		t.Error("start: want the status write's error")
	}
	if _, ok := e.runner.Get(string(cr.UID)); ok {
		t.Error("a job started although its attempt could not be recorded")
	}
}

// A backup whose attempts are used up (the provider crashed during each) is
// Failed, and nothing starts.
func TestStartStopsAfterTheBound(t *testing.T) {
	cr := pendingBackup(3)
	cr.Status.AtProvider.Error = "the backup was interrupted"
	e := newExternal(t, cr, nil)
	started, err := e.start(context.Background(), cr)
	if err != nil || started {
		t.Fatalf("start with attempts used up: want not started, got %v, %v", started, err)
	}
	obs := cr.Status.AtProvider
	if obs.Phase != v1alpha1.BackupFailed || obs.Error != "the backup was interrupted (after 3 attempts)" {
		t.Errorf("want Failed saying why and after how many attempts, got %s %q", obs.Phase, obs.Error)
	}
	if c := cr.GetCondition(xpv2.TypeReady); c.Reason != xpv2.ReasonUnavailable {
		t.Errorf("Ready: want Unavailable, got %+v", c)
	}
	if _, ok := e.runner.Get(string(cr.UID)); ok {
		t.Error("a job started past the bound")
	}
}

// A finished job is forgotten only once its result is persisted; a status
// that cannot be written leaves the job to be recorded at the next try.
func TestFinishedJobIsForgottenOnlyOncePersisted(t *testing.T) {
	cr := pendingBackup(1)
	fail := true
	e := newExternal(t, cr, func(client.Object) error {
		if fail {
			return errors.New("request entity too large")
		}
		return nil
	})
	j := e.runner.Start(string(cr.UID), "c", "team-a/nightly", func(context.Context, func(jobResult)) (jobResult, error) {
		return jobResult{Status: usecase.Status{ShardsDone: 1, ShardsTotal: 1}, Verified: usecase.Verified{Shards: 1}}, nil
	})
	for !j.State().Done {
		time.Sleep(time.Millisecond)
	}
	if err := e.observeJob(context.Background(), cr, j.State()); err == nil {
		t.Error("observeJob: want the status write's error")
	}
	if _, ok := e.runner.Get(string(cr.UID)); !ok {
		t.Fatal("the job was forgotten before its result was persisted")
	}
	fail = false
	if err := e.observeJob(context.Background(), cr, j.State()); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.runner.Get(string(cr.UID)); ok {
		t.Error("the job is still remembered after its result was persisted")
	}
	if cr.Status.AtProvider.Phase != v1alpha1.BackupCompleted {
		t.Errorf("phase: want Completed, got %s", cr.Status.AtProvider.Phase)
	}
}

func TestExpired(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	done := func(d time.Time) *metav1.Time { return &metav1.Time{Time: d} }
	cases := map[string]struct {
		reason string
		done   *metav1.Time
		days   *int32
		want   bool
	}{
		"NoRetention":   {"Without retentionDays a backup is kept.", done(now.AddDate(-50, 0, 0)), nil, false},
		"NotCompleted":  {"A backup that never completed does not expire.", nil, ptr.To[int32](1), false},
		"Young":         {"A day-old backup with a week's retention is kept.", done(now.AddDate(0, 0, -1)), ptr.To[int32](7), false},
		"Old":           {"A backup older than its retention expires.", done(now.AddDate(0, 0, -8)), ptr.To[int32](7), true},
		"HugeRetention": {"A retention past what a Duration holds means keep, not delete at once.", done(now.AddDate(0, 0, -1)), ptr.To[int32](1_000_000), false},
		"MaxRetention":  {"The largest retention the schema allows keeps a backup.", done(now.AddDate(-99, 0, 0)), ptr.To[int32](36500), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := expired(tc.done, tc.days, now); got != tc.want {
				t.Errorf("%s\nexpired: want %v, got %v", tc.reason, tc.want, got)
			}
		})
	}
}

func TestQueueMessageNamesOnlyItsOwnNamespace(t *testing.T) {
	cases := map[string]struct {
		reason, behind, want string
	}{
		"SameNamespace":  {"A backup of the same namespace is named.", "team-a/weekly", "Waiting for weekly to finish (waited 1m30s): one backup or restore runs per Qdrant cluster at a time"},
		"OtherNamespace": {"Another tenant's backup is not.", "team-b/secret-project", "Waiting for another backup or restore of this Qdrant cluster to finish (waited 1m30s): one backup or restore runs per Qdrant cluster at a time"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, queueMessage("team-a", tc.behind, 90*time.Second)); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// Status stays small however many shards a backup has: 16,000 shards, the
// count that used to overflow etcd's object limit, take a few hundred bytes.
func TestStatusStaysSmall(t *testing.T) {
	st := usecase.Status{ShardsTotal: 16000, ShardsDone: 16000, ShardNumbers: map[string]int{}, Collections: map[string][]manifest.Shard{}}
	for _, c := range []string{"products", "reviews", "users"} {
		for id := range 16000 / 3 {
			st.Collections[c] = append(st.Collections[c], manifest.Shard{ID: uint32(id), Object: manifest.ShardObject(c, uint32(id)), SizeBytes: 1 << 30, SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", SourcePeer: 1})
		}
		st.ShardNumbers[c] = 16000 / 3
	}
	var obs v1alpha1.BackupObservation
	apply(&obs, st)
	b, err := json.Marshal(obs)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 2048 {
		t.Errorf("status of a 16,000-shard backup is %d bytes; want a summary under 2 KiB", len(b))
	}
	if obs.Collections[0].ShardsDone != 16000/3 || obs.Collections[0].SizeBytes != int64(16000/3)<<30 {
		t.Errorf("summary: %+v", obs.Collections[0])
	}

	// More collections than the schema lists: status still fits it.
	many := usecase.Status{ShardNumbers: map[string]int{}, Collections: map[string][]manifest.Shard{}}
	for i := range 1500 {
		c := fmt.Sprintf("c%04d", i)
		many.Collections[c] = []manifest.Shard{{ID: 0, SizeBytes: 1}}
		many.ShardNumbers[c] = 1
	}
	var obs2 v1alpha1.BackupObservation
	apply(&obs2, many)
	if len(obs2.Collections) != maxStatusCollections || obs2.Size != "1.5 KiB" {
		t.Errorf("1500 collections: status lists %d (want %d), size %q counts them all", len(obs2.Collections), maxStatusCollections, obs2.Size)
	}
}

// Metric labels are Kubernetes names: a connection's URL host, which a
// tenant chooses freely, never becomes one.
func TestMetricClusterIsNeverAHost(t *testing.T) {
	byRef := pendingBackup(0)
	byRef.Spec.ForProvider.Connection = nil
	byRef.Spec.ForProvider.ClusterRef = &v1alpha1.LocalReference{Name: "search"}
	byURL := pendingBackup(0)
	byURL.Spec.ForProvider.Connection = &v1alpha1.QdrantConnection{URL: "http://attacker-chosen-host.example.com:6333"}
	if got := metricCluster(byRef); got != "search" {
		t.Errorf("clusterRef: want the QdrantCluster's name, got %q", got)
	}
	if got := metricCluster(byURL); got != "connection" {
		t.Errorf("connection: want the fixed label, got %q", got)
	}
}
