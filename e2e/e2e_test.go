// Package e2e holds the end-to-end test of the whole product: Crossplane core
// installs qdrantops's packages from a loopback registry, composes a
// QdrantCluster through the function, provider-helm installs the chart,
// kwok runs its pods, the Qdrant emulator stands in for them, the schedule's
// Backup completes, a Restore into a second cluster verifies its counts, and
// deleting the clusters removes what they composed.
package e2e

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/cluster/stack"
)

// TestEndToEnd runs in private network and mount namespaces (unshare -n -m):
// Crossplane core, its RBAC manager and provider-helm bind every interface,
// and the emulators stand in for pods at cluster DNS names in a private
// /etc/hosts.
func TestEndToEnd(t *testing.T) {
	if os.Getenv("QDRANTOPS_E2E") != "1" {
		t.Skip("installs the product with Crossplane core on the test ground; 'make test' sets QDRANTOPS_E2E=1")
	}
	if testing.Short() {
		t.Skip("end to end")
	}
	if done, err := stack.Reexec(t.Context(), []string{"-test.run=^TestEndToEnd$", "-test.v", "-test.count=1", "-test.timeout=15m"}); done {
		if err != nil {
			t.Fatalf("the test in its namespaces failed: %v", err)
		}
		return
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	s := stack.New(stack.Options{
		Root: root, Dir: t.TempDir(), Arch: runtime.GOARCH, PollInterval: 10 * time.Second,
		Progress: func(line string) { t.Logf("[%5.1fs] %s", time.Since(begin).Seconds(), line) },
	})
	t.Cleanup(s.Close)
	// The steps run under the test's context; Close, a cleanup, needs none.
	ctx := t.Context()
	step := func(name string, f func(context.Context) error) {
		t.Helper()
		if err := f(ctx); err != nil {
			t.Fatalf("step %q failed: %v", name, err)
		}
	}

	step("1. test ground", s.Testbed)
	step("1. packages and registry", func(ctx context.Context) error {
		pkgs, err := s.Packages(ctx)
		if err != nil {
			return err
		}
		return s.Registry(ctx, pkgs)
	})
	step("2. Crossplane core", s.Core)
	step("2-3. install the Configuration and run its packages", s.Install)

	// Not fatal: the rest of the story runs through a Composition of the
	// test's own that names the function as installed.
	if err := s.FunctionRefs(ctx); err != nil {
		t.Errorf("step \"2. the Configuration's Composition calls the installed function\" failed: %v", err)
	}

	const source, target = "search", "search-restored"
	step("4. prepare the app namespace", func(ctx context.Context) error { return s.Prepare(ctx, source, target) })
	manifest := stack.ClusterManifest(source, true)
	step("4. apply QdrantCluster "+source, func(ctx context.Context) error { return s.ApplyYAML(ctx, manifest) })
	var src, dst *qdrantemu.Cluster
	step("5. the emulator stands in for "+source+"'s pods", func(ctx context.Context) (err error) {
		src, err = s.StandIn(ctx, source, 2, true)
		return err
	})
	step("4. "+source+" is composed and Running", func(ctx context.Context) error {
		return s.WaitRunning(ctx, source, "Release", "Secret", "BackupSchedule")
	})
	step("6. GitOps: no drift when the same manifest is applied again", func(ctx context.Context) error {
		return s.Drift(ctx, source, manifest, 2)
	})
	var backup *v1alpha1.Backup
	step("5. the schedule's Backup completes", func(ctx context.Context) (err error) {
		backup, err = s.WaitScheduledBackup(ctx, source)
		return err
	})
	step("5. a second QdrantCluster to restore into", func(ctx context.Context) error {
		if err := s.ApplyYAML(ctx, stack.ClusterManifest(target, false)); err != nil {
			return err
		}
		var err error
		if dst, err = s.StandIn(ctx, target, 5, false); err != nil {
			return err
		}
		return s.WaitRunning(ctx, target, "Release", "Secret")
	})
	step("5. Restore into "+target+" with verified counts", func(ctx context.Context) error {
		_, err := s.Restore(ctx, backup, target, src, dst, [2]string{s.APIKey(ctx, source), s.APIKey(ctx, target)})
		return err
	})
	step("4. both clusters are still Running", func(ctx context.Context) error {
		if err := s.StillRunning(ctx, source); err != nil {
			return err
		}
		return s.StillRunning(ctx, target)
	})
	step("6. deleting the QdrantClusters removes what they composed", func(ctx context.Context) error {
		if err := s.DeleteRestores(ctx); err != nil {
			return err
		}
		if err := s.Delete(ctx, source); err != nil {
			return err
		}
		return s.Delete(ctx, target)
	})
	t.Logf("end to end in %s", time.Since(begin).Round(time.Second))
}
