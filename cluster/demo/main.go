// Command demo drives 'make demo': the story the end-to-end test (e2e/)
// proves, told in the terminal with short progress lines. On the local test
// ground, in private network and mount namespaces, it builds qdrantops's
// packages, serves them and their dependencies' from a loopback registry,
// has real Crossplane core install the Configuration, composes a
// QdrantCluster through the function (provider-helm installs the chart, kwok
// runs its pods, a Qdrant emulator with sample data stands in for them),
// checks that applying it again drifts nothing, waits for its scheduled
// Backup, runs the example Backup, restores the scheduled one into a second
// cluster with verified counts, shows `kubectl get qdrant -A` and the
// provider's backup and restore metrics, then deletes both clusters and
// shows what went with them. Everything is torn down at the end.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/stack"
	"github.com/qdrantops/qdrantops/cluster/testenv"
)

func main() {
	keep := flag.Duration("keep", 0, "keep everything running this long at the end, to look around (KUBECONFIG is printed)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// Crossplane core, its RBAC manager and provider-helm bind every
	// interface, and the emulator stands in for pods at cluster DNS names:
	// the demo runs again in namespaces of its own.
	done, err := stack.Reexec(ctx, os.Args[1:])
	if done {
		// The copy in the namespaces said what failed.
		stop()
		if err != nil {
			os.Exit(1)
		}
		return
	}
	err = run(ctx, *keep)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, keep time.Duration) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	dir := filepath.Join(root, "_output", "demo")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	begin := time.Now()
	s := stack.New(stack.Options{
		Root: root, Dir: dir, Arch: runtime.GOARCH, PollInterval: 10 * time.Second,
		Progress: func(line string) { fmt.Printf("[%4.0fs] %s\n", time.Since(begin).Seconds(), line) },
	})
	defer s.Close()
	say := func(format string, args ...any) { fmt.Printf("\n== "+format+"\n", args...) }

	say("1. the test ground and a loopback OCI registry with the packages (first run: the tools build for ~17 min, the packages for ~2 min)")
	if err := s.Testbed(ctx); err != nil {
		return err
	}
	pkgs, err := s.Packages(ctx)
	if err != nil {
		return err
	}
	if err := s.Registry(ctx, pkgs); err != nil {
		return err
	}
	say("2. Crossplane core installs the Configuration; 3. the function and providers run as their packages would")
	if err := s.Core(ctx); err != nil {
		return err
	}
	if err := s.Install(ctx); err != nil {
		return err
	}
	if err := s.FunctionRefs(ctx); err != nil {
		return err
	}

	const source, target = "search", "search-restored"
	say("4. a QdrantCluster, composed by Crossplane through the function")
	if err := s.Prepare(ctx, source, target); err != nil {
		return err
	}
	manifest := stack.ClusterManifest(source, true)
	fmt.Print(indent(manifest))
	if err := s.ApplyYAML(ctx, manifest); err != nil {
		return err
	}
	src, err := s.StandIn(ctx, source, 2, true)
	if err != nil {
		return err
	}
	if err := s.WaitRunning(ctx, source, "Release", "Secret", "BackupSchedule"); err != nil {
		return err
	}
	if err := s.Drift(ctx, source, manifest, 2); err != nil {
		return err
	}

	say("5. backups: the schedule's first tick, and the example Backup (examples/backup.yaml)")
	backup, err := s.WaitScheduledBackup(ctx, source)
	if err != nil {
		return err
	}
	if err := exampleBackup(ctx, s, root); err != nil {
		return err
	}
	say("5. a Restore of the scheduled Backup into a second QdrantCluster")
	if err := s.ApplyYAML(ctx, stack.ClusterManifest(target, false)); err != nil {
		return err
	}
	dst, err := s.StandIn(ctx, target, 5, false)
	if err != nil {
		return err
	}
	if err := s.WaitRunning(ctx, target, "Release", "Secret"); err != nil {
		return err
	}
	r, err := s.Restore(ctx, backup, target, src, dst, [2]string{s.APIKey(ctx, source), s.APIKey(ctx, target)})
	if err != nil {
		return err
	}
	printRestored(r)

	say("kubectl get qdrant -A (the category every qdrantops kind is in)")
	if err := kubectl(ctx, s, "get", "qdrant", "-A"); err != nil {
		return err
	}
	say("backup and restore metrics of provider-qdrantops")
	metrics(ctx)

	if keep > 0 {
		say("keeping everything for %s: KUBECONFIG=%s (inside the demo's namespaces: nsenter -t %d -n -m)", keep, s.Kubeconfig(), os.Getpid())
		select {
		case <-ctx.Done():
		case <-time.After(keep):
		}
	}
	say("6. deleting the QdrantClusters removes what they composed")
	if err := s.DeleteRestores(ctx); err != nil {
		return err
	}
	if err := s.Delete(ctx, source); err != nil {
		return err
	}
	if err := s.Delete(ctx, target); err != nil {
		return err
	}
	say("done in %s; tearing down", time.Since(begin).Round(time.Second))
	return nil
}

// exampleBackup applies examples/backup.yaml, a one-off Backup of
// "search", as a user would, and prints what it wrote.
func exampleBackup(ctx context.Context, s *stack.Stack, root string) error {
	b, err := os.ReadFile(filepath.Join(root, "examples", "backup.yaml")) //nolint:gosec // G304: the repository's example.
	if err != nil {
		return err
	}
	if err := s.ApplyYAML(ctx, string(b)); err != nil {
		return err
	}
	c, err := s.Ops()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		bk := &v1alpha1.Backup{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: stack.AppNamespace, Name: "search-manual"}, bk); err != nil {
			return err
		}
		if bk.GetCondition("Ready").Status == corev1.ConditionTrue {
			fmt.Printf("       Backup search-manual completed: %s\n", bk.Status.AtProvider.S3Path)
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			_, _ = fmt.Fprintln(w, "       COLLECTION\tSHARDS\tBYTES")
			for _, col := range bk.Status.AtProvider.Collections {
				_, _ = fmt.Fprintf(w, "       %s\t%d/%d\t%d\n", col.Name, col.ShardsDone, col.ShardNumber, col.SizeBytes)
			}
			return w.Flush()
		}
		if bk.Status.AtProvider.Phase == v1alpha1.BackupFailed {
			return fmt.Errorf("the example Backup failed: %s", bk.Status.AtProvider.Error)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the example Backup did not complete in 3 minutes: phase %s, %s", bk.Status.AtProvider.Phase, bk.GetCondition("Synced").Message)
		}
		time.Sleep(time.Second)
	}
}

func kubectl(ctx context.Context, s *stack.Stack, args ...string) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, filepath.Join(root, "cluster", "build.sh"), "--path", "kubernetes").Output()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(strings.TrimSpace(string(out)), "kubectl"), append([]string{"--kubeconfig", s.Kubeconfig(), "--cache-dir", filepath.Join(filepath.Dir(s.Kubeconfig()), "kube-cache")}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// metrics prints the provider's qdrantops_backup and qdrantops_restore
// series, without histogram buckets.
func metrics(ctx context.Context) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+stack.ProviderMetricsAddr+"/metrics", nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println("   cannot read metrics:", err)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if (strings.HasPrefix(l, "qdrantops_backup") || strings.HasPrefix(l, "qdrantops_restore")) && !strings.Contains(l, "_bucket{") {
			fmt.Println(l)
		}
	}
}

func printRestored(r *v1alpha1.Restore) {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(w, "       COLLECTION\tSHARDS\tEXPECTED\tPOINTS\tSAMPLED\tVERIFIED")
	for _, c := range r.Status.AtProvider.RestoredCollections {
		_, _ = fmt.Fprintf(w, "       %s\t%d/%d\t%s\t%s\t%d\t%t\n", c.Name, c.ShardsRestored, c.ShardsTotal, num(c.ExpectedPoints), num(c.Points), c.SampledPoints, c.Verified)
	}
	_ = w.Flush()
}

func num(p *int64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

func indent(s string) string {
	return "       " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n       ") + "\n"
}
