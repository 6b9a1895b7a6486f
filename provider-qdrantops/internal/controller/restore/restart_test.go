package restore_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	qdrantv1alpha1 "github.com/qdrantops/qdrantops/apis/qdrantops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

// A Completed Restore is never run again, not by a provider that restarts:
// its result was persisted before its job was forgotten.
func TestCompletedRestoreIsNotRunAgain(t *testing.T) {
	fixtures(t)
	first := startProvider(t)
	completedBackup(t, "nightly", "products", "reviews")
	target := newTarget(t, "once-target", 1)
	apply(t, newRestore("once", fromBackup("nightly"), into("once-target"), only("reviews")))
	done := waitFor(t, "once", 60*time.Second, "Ready", ready)
	waitForEvents(t, "once", "RestoreStarted", "RestoreCompleted")
	first.stop()
	before := len(target.Requests())
	mark := len(logs.String())

	second := startProvider(t)
	defer second.stop()
	// The new provider observes the Restore, twice at least.
	for deadline := time.Now().Add(30 * time.Second); observed(logs.String()[mark:], "once") < 2; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the new provider did not observe the restore; logs:\n%s", tail(logs.String()[mark:], 4000))
		}
	}
	if after := target.Requests()[before:]; len(after) > 0 {
		t.Errorf("the new provider sent %d requests to the target, first %s %s", len(after), after[0].Method, after[0].Path)
	}
	r := getRestore(t, "once")
	if r.Status.AtProvider.Phase != v1alpha1.RestoreCompleted || r.Status.AtProvider.Attempts != 1 || !r.Status.AtProvider.CompletionTime.Equal(done.Status.AtProvider.CompletionTime) {
		t.Errorf("after the restart: phase %s, attempts %d, completed %v (was %v)", r.Status.AtProvider.Phase, r.Status.AtProvider.Attempts, r.Status.AtProvider.CompletionTime, done.Status.AtProvider.CompletionTime)
	}
	for _, e := range events(t, "once") {
		if (e.Reason == "RestoreStarted" && e.Count > 1) || e.Reason == "RestoreResumed" {
			t.Errorf("event %s (count %d) after the restart", e.Reason, e.Count)
		}
	}
}

// observed counts the reconciles of a Restore that found it up to date.
func observed(logs, name string) int {
	n := 0
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "External resource is up to date") && strings.Contains(l, "managed/restore.") && strings.Contains(l, `"name"="`+name+`"`) {
			n++
		}
	}
	return n
}

// A provider that stops mid-restore leaves a journal in the Restore's
// status; the next one resumes from it: the collection it created is taken
// as its own, and the shards it recovered are not recovered again.
func TestRestoreResumesFromItsJournal(t *testing.T) {
	fixtures(t)
	first := startProvider(t)
	completedBackup(t, "nightly", "products", "reviews")
	target, recovers := slowTarget(t, "slow-target")
	apply(t, newRestore("resumed", fromBackup("nightly"), into("slow-target"), only("products"), func(r *v1alpha1.Restore) {
		r.Spec.ForProvider.Parallelism = ptrTo(int32(1))
	}))
	// The journal is in status while the restore runs.
	waitFor(t, "resumed", 60*time.Second, "two shards journaled", func(r *v1alpha1.Restore) bool {
		c := r.Status.AtProvider.RestoredCollections
		return len(c) == 1 && c[0].Created && len(c[0].RecoveredShards) >= 2
	})
	first.stop()
	journaled := len(getRestore(t, "resumed").Status.AtProvider.RestoredCollections[0].RecoveredShards)
	if journaled == 6 {
		t.Fatal("the restore recovered every shard before the stop; nothing to resume")
	}
	before := recovers.Load()

	second := startProvider(t)
	defer second.stop()
	r := waitFor(t, "resumed", 90*time.Second, "Ready", ready)
	if got, want := recovers.Load()-before, int32(6-journaled); got != want {
		t.Errorf("after the restart %d shards were recovered; %d of 6 were journaled before the stop, want %d", got, journaled, want)
	}
	c := r.Status.AtProvider.RestoredCollections[0]
	if c.Points == nil || *c.Points != 2000 || !c.Verified || len(c.RecoveredShards) != 6 {
		t.Errorf("resumed products: %+v", c)
	}
	if got := count(t, target, "products"); got != 2000 {
		t.Errorf("products in the target: %d points, want 2000", got)
	}
	if r.Status.AtProvider.Attempts != 2 {
		t.Errorf("attempts: %d, want 2 (the first run and the resumed one)", r.Status.AtProvider.Attempts)
	}
	evs := waitForEvents(t, "resumed", "RestoreResumed")
	if msg := evs["RestoreResumed"][0].Message; !strings.Contains(msg, "shards recovered before are kept") {
		t.Errorf("RestoreResumed: %q", msg)
	}
}

func ptrTo[T any](v T) *T { return &v }

// slowTarget starts an empty one-node cluster, named as a QdrantCluster of
// the namespace, behind a proxy that makes every shard recovery take 700 ms:
// a test can act between two shards. It counts the recoveries.
func slowTarget(t *testing.T, name string) (*qdrantemu.Cluster, *atomic.Int32) {
	t.Helper()
	target := newTarget(t, name+"-direct", 1)
	var recovers atomic.Int32
	u, err := url.Parse(target.URLs()[0])
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/snapshots/recover") || strings.HasSuffix(r.URL.Path, "/snapshots/upload") {
			recovers.Add(1)
			select {
			case <-time.After(700 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(slow.Close)
	apply(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: qdrantv1alpha1.ConnectionSecretName(name), Namespace: ns}, StringData: map[string]string{
		qdrantv1alpha1.ConnectionKeyEndpoint: slow.URL,
		qdrantv1alpha1.ConnectionKeyPeerURLs: slow.URL,
		qdrantv1alpha1.ConnectionKeyAPIKey:   apiKey,
	}})
	return target, &recovers
}
