package restore_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
)

// runBinary runs the real provider binary against the test apiserver, as
// Crossplane runs it: as its ServiceAccount, with POD_NAMESPACE set, leader
// election on. Its output goes to log; t's end kills it.
func runBinary(t *testing.T, bin, kubeconfig, log string) *exec.Cmd {
	t.Helper()
	f, err := os.OpenFile(log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600) //nolint:gosec // G304: a log file in the test's own t.TempDir().
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	cmd := exec.CommandContext(t.Context(), bin, "--poll", "2s", "--shard-retry-delay", "100ms", "--restore-url-ttl", "2m",
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "POD_NAMESPACE="+providerAccount.Namespace)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// shardTransfer matches the requests that put a shard snapshot into a
// cluster: a recovery from a URL, or an upload.
var shardTransfer = regexp.MustCompile(`^/collections/([^/]+)/shards/(\d+)/snapshots/(recover|upload)$`)

// transfers counts the shard transfers among requests, by collection and
// shard.
func transfers(requests []qdrantemu.Request) map[string]map[uint32]int {
	out := map[string]map[uint32]int{}
	for _, r := range requests {
		m := shardTransfer.FindStringSubmatch(r.Path)
		if m == nil || r.Method != http.MethodPost {
			continue
		}
		id, err := strconv.ParseUint(m[2], 10, 32)
		if err != nil {
			continue
		}
		if out[m[1]] == nil {
			out[m[1]] = map[uint32]int{}
		}
		out[m[1]][uint32(id)]++
	}
	return out
}

// TestProviderKilledMidRestoreResumes kills the provider process with
// SIGKILL while it uploads shards, as an OOM kill or a lost node would: no
// clean-up of any kind runs. The next process resumes the restore from the
// journal in its status, and the result is the one an uninterrupted restore
// gives.
func TestProviderKilledMidRestoreResumes(t *testing.T) {
	fixtures(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "provider")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./provider-qdrantops/cmd/provider")
	build.Dir = env.Root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cannot build the provider: %v\n%s", err, out)
	}
	kc := filepath.Join(dir, "kubeconfig")
	if err := env.KubeconfigAs(kc, providerAccount); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "provider.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(log) //nolint:gosec // G304: the test's own log file.
			t.Logf("provider log:\n%s", tail(string(b), 6000))
		}
	})

	// The binary's Backup controller makes the backup, unless a test before
	// this one made it.
	first := runBinary(t, bin, kc, log)
	b := completedBackup(t, "nightly", "products", "reviews")
	m := readManifest(t, b)

	// Every shard takes 700 ms to reach the target, and shards go one at a
	// time through the provider (Upload): the kill lands mid-restore, in the
	// middle of a transfer or between two.
	target, _ := slowTarget(t, "killed-target")
	apply(t, newRestore("killed", fromBackup("nightly"), into("killed-target"), func(r *v1alpha1.Restore) {
		r.Spec.ForProvider.Parallelism = ptrTo(int32(1))
		r.Spec.ForProvider.RecoveryMethod = v1alpha1.RecoveryUpload
	}))
	waitFor(t, "killed", 60*time.Second, "two shards journaled", func(r *v1alpha1.Restore) bool {
		n := 0
		for _, c := range r.Status.AtProvider.RestoredCollections {
			n += len(c.RecoveredShards)
		}
		return n >= 2
	})
	// kill -9.
	_ = first.Process.Kill()
	_ = first.Wait()
	// A transfer the dead process had sent reaches the target now or never:
	// the slow proxy holds it 700 ms and, its body unread, notices the dead
	// client only once it forwards it.
	time.Sleep(1500 * time.Millisecond)

	killed := getRestore(t, "killed")
	if killed.Status.AtProvider.Phase == v1alpha1.RestoreCompleted {
		t.Fatal("the restore completed before the kill; nothing to resume")
	}
	journaled := map[string]map[uint32]bool{}
	for _, c := range killed.Status.AtProvider.RestoredCollections {
		journaled[c.Name] = map[uint32]bool{}
		for _, id := range c.RecoveredShards {
			journaled[c.Name][id] = true
		}
	}
	before := len(target.Requests())

	runBinary(t, bin, kc, log)
	// The new process waits for the dead one's leader lease to expire.
	r := waitFor(t, "killed", 60*time.Second, "Ready or Failed", func(r *v1alpha1.Restore) bool { return ready(r) || failed(r) })
	if !ready(r) || r.Status.AtProvider.Phase != v1alpha1.RestoreCompleted {
		t.Fatalf("the resumed restore did not complete: phase %s, Ready: %s", r.Status.AtProvider.Phase, r.GetCondition(xpv2.TypeReady).Message)
	}
	if got := r.Status.AtProvider.Attempts; got != 2 {
		t.Errorf("attempts: want 2 (the first run and the resumed one), got %d", got)
	}
	restored := map[string]v1alpha1.RestoredCollection{}
	for _, c := range r.Status.AtProvider.RestoredCollections {
		restored[c.Name] = c
	}
	var want []string
	for _, mc := range m.Collections {
		want = append(want, mc.Name)
		c, ok := restored[mc.Name]
		if !ok {
			t.Errorf("collection %s of the backup is not in the status", mc.Name)
			continue
		}
		if c.Points == nil || *c.Points != int64(mc.Points) || !c.Verified || c.ShardsRestored != int32(mc.ShardNumber) || len(c.RecoveredShards) != int(mc.ShardNumber) {
			t.Errorf("resumed %s: points %v, verified %t, shards %d, journal %v; the manifest has %d points in %d shards", mc.Name, ptrValue(c.Points), c.Verified, c.ShardsRestored, c.RecoveredShards, mc.Points, mc.ShardNumber)
		}
		if got := count(t, target, mc.Name); got != int(mc.Points) {
			t.Errorf("%s in the target: %d points, the manifest has %d", mc.Name, got, mc.Points)
		}
	}
	sort.Strings(want)
	if diff := cmp.Diff(want, collections(t, target)); diff != "" {
		t.Errorf("collections in the target (-manifest +target):\n%s", diff)
	}

	// A shard journaled before the kill is not transferred again; every
	// other shard is transferred once by the new process.
	after := transfers(target.Requests()[before:])
	for _, mc := range m.Collections {
		for _, s := range mc.Shards {
			n := after[mc.Name][s.ID]
			if journaled[mc.Name][s.ID] && n != 0 {
				t.Errorf("%s shard %d was journaled before the kill and transferred %d times after it", mc.Name, s.ID, n)
			}
			if !journaled[mc.Name][s.ID] && n != 1 {
				t.Errorf("%s shard %d was not journaled before the kill and transferred %d times after it, want 1", mc.Name, s.ID, n)
			}
		}
	}
	// Through the provider, as asked: the target never fetched a shard
	// itself, so the kill cut transfers in the provider's hands.
	for _, rq := range target.Requests() {
		if m := shardTransfer.FindStringSubmatch(rq.Path); m != nil && m[3] == "recover" {
			t.Errorf("a shard was recovered from a URL (%s); the restore asked for uploads", rq.Path)
		}
	}

	evs := waitForEvents(t, "killed", "RestoreResumed")
	if msg := evs["RestoreResumed"][0].Message; !strings.Contains(msg, "shards recovered before are kept") {
		t.Errorf("RestoreResumed: %q", msg)
	}
}

func ptrValue[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// readManifest reads the manifest a completed Backup wrote.
func readManifest(t *testing.T, b *v1alpha1.Backup) manifest.Manifest {
	t.Helper()
	key, ok := strings.CutPrefix(b.Status.AtProvider.S3Path, "s3://"+bucket+"/")
	if !ok {
		t.Fatalf("backup %s: S3 path %q is not in bucket %s", b.Name, b.Status.AtProvider.S3Path, bucket)
	}
	out, err := srv.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key + manifest.ManifestName)})
	if err != nil {
		t.Fatalf("cannot read the manifest of backup %s: %v", b.Name, err)
	}
	defer out.Body.Close() //nolint:errcheck // Read-only.
	raw, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// collections lists the collections of an emulated cluster, sorted, as a
// user would.
func collections(t *testing.T, c *qdrantemu.Cluster) []string {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, c.URLs()[0]+"/collections", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("api-key", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // Read-only.
	var out struct {
		Result struct {
			Collections []struct {
				Name string `json:"name"`
			} `json:"collections"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("cannot list collections: %v", err)
	}
	names := make([]string, 0, len(out.Result.Collections))
	for _, col := range out.Result.Collections {
		names = append(names, col.Name)
	}
	sort.Strings(names)
	return names
}
