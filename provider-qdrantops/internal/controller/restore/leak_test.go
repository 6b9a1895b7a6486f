package restore_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

// leaks lists what of a presigned URL or a secret text holds: the query
// parameters that make a presigned URL a credential, and the secrets the
// tests hand out.
func leaks(text string) []string {
	var out []string
	for _, s := range []string{"X-Amz-Signature", "X-Amz-Credential", srv.AccessKey, srv.SecretKey, apiKey} {
		if strings.Contains(text, s) {
			out = append(out, s)
		}
	}
	return out
}

// A restore whose target's nodes cannot reach the object store fails when
// Qdrant cannot download a presigned URL, and Qdrant's error quotes the whole
// URL. Neither the status,
// nor the Events, nor the logs of any restore of this test binary hold a
// presigned URL or a secret.
func TestNoPresignedURLOrSecretLeaks(t *testing.T) {
	fixtures(t)
	p := startProvider(t)
	defer p.stop()
	ctx := context.Background()
	// What the provider hands the target's nodes, to prove that there were
	// URLs to leak.
	var mu sync.Mutex
	var handed []string
	newTarget(t, "leak-target", 1, func(o *qdrantemu.Options) {
		o.UnreachableHosts = []string{strings.TrimPrefix(srv.Endpoint, "http://")}
		o.Observe = func(x qdrantemu.Exchange) {
			if strings.HasSuffix(x.Request.URL.Path, "/snapshots/recover") {
				mu.Lock()
				defer mu.Unlock()
				handed = append(handed, string(x.RequestBody))
			}
		}
	})
	completedBackup(t, "holed", "reviews")

	apply(t, newRestore("holed", fromBackup("holed"), into("leak-target"), func(r *v1alpha1.Restore) {
		r.Spec.ForProvider.RecoveryMethod = v1alpha1.RecoveryURL
	}))
	r := waitFor(t, "holed", 90*time.Second, "Failed", failed)
	c := r.GetCondition(xpv2.TypeReady)
	if c.Reason != "ShardFailed" || !strings.Contains(c.Message, "shard 0 of collection reviews") || !strings.Contains(c.Message, "error sending request for url") || !strings.Contains(c.Message, "then create a new Restore") {
		t.Errorf("Ready of a restore whose shard is gone: %+v", c)
	}
	if r.Status.AtProvider.Attempts != 3 {
		t.Errorf("a shard that fails is retried with the restore: %d attempts, want 3", r.Status.AtProvider.Attempts)
	}
	evs := waitForEvents(t, "holed", "RestoreRetrying", "RestoreFailed")
	if n := len(evs["RestoreRetrying"]); n == 0 {
		t.Error("no RestoreRetrying event")
	}

	mu.Lock()
	defer mu.Unlock()
	if len(handed) == 0 || len(leaks(handed[0])) == 0 {
		t.Fatalf("the target was handed no presigned URL (%d recoveries): the scan below would prove nothing", len(handed))
	}
	restores := &v1alpha1.RestoreList{}
	if err := env.Client.List(ctx, restores); err != nil {
		t.Fatal(err)
	}
	evList := &corev1.EventList{}
	if err := env.Client.List(ctx, evList); err != nil {
		t.Fatal(err)
	}
	status, _ := json.Marshal(restores)
	evJSON, _ := json.Marshal(evList)
	for what, text := range map[string]string{"status": string(status), "events": string(evJSON), "logs": logs.String()} {
		if l := leaks(text); len(l) > 0 {
			t.Errorf("%s hold %v", what, l)
		}
	}
	if !strings.Contains(logs.String(), "holed") {
		t.Error("no logs of the restore captured to scan")
	}
}
