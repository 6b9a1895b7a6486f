package backup_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
)

// A providerProcess is the real provider binary running against the test
// apiserver.
type providerProcess struct {
	cmd     *exec.Cmd
	log     string
	metrics string
}

func (p *providerProcess) stop() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

func (p *providerProcess) logs(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(p.log)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// backupBytes is what the process's metrics say it uploaded.
func (p *providerProcess) backupBytes(t *testing.T) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.metrics + "/metrics") //nolint:noctx // A local test server.
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	total := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "qdrantops_backup_bytes_total") {
			continue
		}
		v, err := strconv.ParseFloat(l[strings.LastIndex(l, " ")+1:], 64)
		if err != nil {
			t.Fatalf("cannot parse metric line %q: %v", l, err)
		}
		total += v
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return total
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// buildProvider builds the provider binary into dir.
func buildProvider(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "provider")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./provider-qdrantops/cmd/provider")
	build.Dir = env.Root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cannot build the provider: %v\n%s", err, out)
	}
	return bin
}

// runProvider starts the binary with its defaults, as Crossplane runs it: as
// its ServiceAccount, with POD_NAMESPACE set.
func runProvider(t *testing.T, bin, kubeconfig, dir, name string) *providerProcess {
	t.Helper()
	p := &providerProcess{log: filepath.Join(dir, name+".log"), metrics: freeAddr(t)}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.CommandContext(t.Context(), bin, "--poll", "2s", "--shard-retry-delay", "100ms", "--metrics-bind-address", p.metrics, "--health-probe-bind-address", "0")
	p.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "POD_NAMESPACE="+providerAccount.Namespace)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOneWriter runs two provider processes, as a rolling update does, and
// checks that only one of them ever runs controllers and jobs.
func TestOneWriter(t *testing.T) {
	fixtures(t)
	dir := t.TempDir()
	bin := buildProvider(t, dir)
	kc := filepath.Join(dir, "kubeconfig")
	if err := env.KubeconfigAs(kc, providerAccount); err != nil {
		t.Fatal(err)
	}
	procs := []*providerProcess{runProvider(t, bin, kc, dir, "a"), runProvider(t, bin, kc, dir, "b")}
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()

	apply(t, newBackup("one-writer"))
	waitFor(t, "one-writer", 120*time.Second, "Ready", func(b *v1alpha1.Backup) bool {
		return condition(b, xpv2.TypeReady).Status == corev1.ConditionTrue
	})

	// Only the leader starts controllers, and only it uploads.
	var running, uploading []string
	for i, p := range procs {
		name := string(rune('a' + i))
		if strings.Contains(p.logs(t), "Starting workers") {
			running = append(running, name)
		}
		if p.backupBytes(t) > 0 {
			uploading = append(uploading, name)
		}
	}
	if len(running) != 1 || len(uploading) != 1 || running[0] != uploading[0] {
		for i, p := range procs {
			t.Logf("process %c log:\n%s", 'a'+i, tail(p.logs(t), 3000))
		}
		t.Fatalf("want one process running controllers and uploading; running controllers: %v, uploading: %v", running, uploading)
	}
	// The leader holds the lease; the other is still waiting for it, alive.
	leader, other := procs[0], procs[1]
	if running[0] == "b" {
		leader, other = procs[1], procs[0]
	}
	if l := strings.ToLower(leader.logs(t)); !strings.Contains(l, "successfully acquired lease") {
		t.Errorf("the process running controllers never acquired the lease; its log:\n%s", tail(l, 3000))
	}
	if l := strings.ToLower(other.logs(t)); !strings.Contains(l, "attempting to acquire leader lease") || strings.Contains(l, "successfully acquired lease") {
		t.Errorf("the other process is not waiting for the lease; its log:\n%s", tail(l, 3000))
	}
	if other.cmd.ProcessState != nil {
		t.Errorf("the other process exited: %v", other.cmd.ProcessState)
	}
}
