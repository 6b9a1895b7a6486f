package backup_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
)

// startProcess runs the real provider binary against the test apiserver.
func startProcess(t *testing.T, bin, kubeconfig, log string) *exec.Cmd {
	t.Helper()
	f, err := os.OpenFile(log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600) //nolint:gosec // G304: a log file in the test's own t.TempDir().
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "--poll", "2s", "--shard-retry-delay", "100ms", "--metrics-bind-address", "0", "--health-probe-bind-address", "0")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestProviderKilledMidBackupResumes(t *testing.T) {
	fixtures(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "provider")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./provider-qdrantops/cmd/provider")
	build.Dir = env.Root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cannot build the provider: %v\n%s", err, out)
	}
	kc := filepath.Join(dir, "kubeconfig")
	if err := env.Kubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "provider.log")

	// Big, slow shards: the kill lands mid-backup.
	emu.SetSnapshotPadding("products", 8<<20)
	emu.SlowStreams(6 << 20)
	defer emu.SetSnapshotPadding("products", 0)
	defer emu.SlowStreams(0)

	first := startProcess(t, bin, kc, log)
	apply(t, newBackup("restart", func(b *v1alpha1.Backup) {
		b.Spec.ForProvider.Collections = []v1alpha1.CollectionName{"products"}
		b.Spec.ForProvider.Parallelism = ptrTo(int32(1))
	}))
	waitFor(t, "restart", 60*time.Second, "two shards done", func(b *v1alpha1.Backup) bool {
		p := b.Status.AtProvider.Progress
		return p != nil && p.ShardsDone >= 2
	})
	// kill -9: no clean-up of any kind.
	_ = first.Process.Kill()
	_ = first.Wait()
	done := int(get(t, "restart").Status.AtProvider.Progress.ShardsDone)
	before := len(emu.Requests())

	second := startProcess(t, bin, kc, log)
	defer func() { _ = second.Process.Kill(); _ = second.Wait() }()
	b := waitFor(t, "restart", 90*time.Second, "Ready", func(b *v1alpha1.Backup) bool {
		return condition(b, xpv2.TypeReady).Status == corev1.ConditionTrue
	})
	if b.Status.AtProvider.Progress.ShardsDone != 6 {
		t.Errorf("resumed backup: %d of 6 shards", b.Status.AtProvider.Progress.ShardsDone)
	}
	streamed := 0
	for _, r := range emu.Requests()[before:] {
		if strings.HasSuffix(r.Path, "/snapshot") && strings.Contains(r.Path, "/products/") {
			streamed++
		}
	}
	if streamed > 6-done {
		t.Errorf("after the restart %d shards were streamed again; %d were done before the kill and must be kept", streamed, done)
	}
	ups, err := srv.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range ups.Uploads {
		if strings.Contains(aws.ToString(u.Key), "/restart/") {
			t.Errorf("incomplete multipart upload left: %s", aws.ToString(u.Key))
		}
	}
	// Shards are streamed: no snapshot is ever created on a node, so none
	// can be left behind by the kill.
	for _, r := range emu.Requests() {
		if r.Method == http.MethodPost && strings.Contains(r.Path, "/snapshots") {
			t.Errorf("a snapshot was created on node %d (%s %s); a crash could leave it behind", r.Node, r.Method, r.Path)
		}
	}
	// Each run was counted before it started: the first, and the resumed one.
	if got := b.Status.AtProvider.Attempts; got != 2 {
		t.Errorf("attempts: want 2 (the first run and the resumed one), got %d", got)
	}
	reasons := map[string]bool{}
	for _, e := range events(t, "restart") {
		reasons[e.Reason] = true
	}
	if !reasons["BackupResumed"] {
		t.Errorf("no BackupResumed event; got %v", reasons)
	}
}

func ptrTo[T any](v T) *T { return &v }
