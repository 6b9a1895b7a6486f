package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/qdrantops/qdrantops/cluster/testenv"
)

// providerAccount is the ServiceAccount the provider runs as, bound to the
// role Crossplane's RBAC manager would give it.
var providerAccount = testenv.ServiceAccount{Namespace: "crossplane-system", Name: "provider-qdrantops"}

// runProvider builds the real provider binary and runs it against env as
// Crossplane runs it: as its ServiceAccount with the package's RBAC, with
// POD_NAMESPACE set, so leader election and safe start are on. It returns
// the path of the process's log; the process is killed when the test ends.
func runProvider(t *testing.T, env *testenv.Env) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "provider")
	if err := buildProvider(t.Context(), env.Root, bin); err != nil {
		t.Fatal(err)
	}
	return startProvider(t, env, bin)
}

// buildProvider builds the real provider binary of the repository at root
// into bin. It returns an error rather than failing a test, so that a test
// may build while it starts its control plane.
func buildProvider(ctx context.Context, root, bin string) error {
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./provider-qdrantops/cmd/provider")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("cannot build the provider: %w\n%s", err, out)
	}
	return nil
}

// startProvider is runProvider with a binary buildProvider built.
func startProvider(t *testing.T, env *testenv.Env, bin string) string {
	t.Helper()
	dir := t.TempDir()
	role, err := testenv.ProviderRole(filepath.Join(env.Root, "package", "provider"))
	if err != nil {
		t.Fatal(err)
	}
	if err := env.BindServiceAccount(context.Background(), providerAccount, role); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dir, "kubeconfig")
	if err := env.KubeconfigAs(kc, providerAccount); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "provider.log")
	f, err := os.Create(log) //nolint:gosec // G304: a file in the test's own t.TempDir().
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "--metrics-bind-address", freeAddr(t), "--health-probe-bind-address", "0")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kc, "POD_NAMESPACE="+providerAccount.Namespace)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start the provider: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = f.Close()
	})
	return log
}

// freeAddr is a loopback address no one listens on, for the provider's
// metrics: two tests' providers must not share one.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// providerLog is the tail of the provider's log, for failure messages.
func providerLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path) //nolint:gosec // G304: the log runProvider wrote.
	if err != nil {
		return "cannot read the provider's log: " + err.Error()
	}
	return tailLines(string(b), 40)
}
