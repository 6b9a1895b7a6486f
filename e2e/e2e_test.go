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
	// Not t.Context() for cleanups: it is cancelled by then.
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
}
