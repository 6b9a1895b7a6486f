package stack

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

// Ports of Crossplane core's own servers in the private network namespace;
// below the ephemeral range.
const (
	coreMetricsPort = 26480
	coreHealthPort  = 26481
)

// Core runs Crossplane core out of cluster against the test ground: core
// init (CRDs, TLS Secrets, the lock, and the default
// ManagedResourceActivationPolicy the Helm chart installs, activating every
// MRD: its provider.defaultActivations is ["*"]), then core start with its
// package runtime External (no Deployments: the stack runs the packages'
// binaries) and webhooks off (the apiserver cannot reach a webhook here),
// and the RBAC manager, which grants each ProviderRevision its ClusterRoles.
func (s *Stack) Core(ctx context.Context) error {
	dir, err := s.tool(ctx, "crossplane-core")
	if err != nil {
		return err
	}
	bin := filepath.Join(dir, "crossplane")
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if v := strings.TrimSpace(string(out)); err != nil || !strings.HasPrefix(v, "v") {
		return fmt.Errorf("crossplane core reports no version (%q): it would refuse every package; rebuild it with cluster/build.sh: %w", v, err)
	}
	s.progress("Crossplane core %s: core init", strings.TrimSpace(string(out)))
	ns := &corev1.Namespace{}
	ns.SetName(Namespace)
	if err := s.Kube.Create(ctx, ns); err != nil && !kerrors.IsAlreadyExists(err) {
		return fmt.Errorf("cannot create namespace %s: %w", Namespace, err)
	}
	env := []string{
		"KUBECONFIG=" + s.Kubeconfig(),
		"POD_NAMESPACE=" + Namespace,
		"TLS_CA_SECRET_NAME=crossplane-root-ca",
		"TLS_SERVER_SECRET_NAME=crossplane-tls-server",
		"TLS_CLIENT_SECRET_NAME=crossplane-tls-client",
		"CRDS_PATH=" + filepath.Join(dir, "crds"),
	}
	initArgs := []string{"core", "init", "--enable-webhooks=false", "--activation=*"}
	var initOut []byte
	// The first init can fail on a discovery race right after it created the
	// CRDs; a second one finds them.
	for try := 0; try < 2; try++ {
		cmd := exec.CommandContext(ctx, bin, initArgs...)
		cmd.Env = append(os.Environ(), env...)
		initOut, err = cmd.CombinedOutput()
		if err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("crossplane core init failed twice: %w\n%s", err, tail(string(initOut), 20))
	}

	// Core's client certificate, as its pod mounts it from the Secret.
	certs := s.path("core-client-certs")
	if err := s.secretToDir(ctx, "crossplane-tls-client", certs); err != nil {
		return err
	}
	startEnv := append(env, //nolint:gocritic // A new slice for core start.
		"TLS_CLIENT_CERTS_DIR="+certs,
		"XPKG_CACHE_DIR="+s.path("xpkg-cache"),
		"XFN_CACHE_DIR="+s.path("xfn-cache"),
	)
	for _, d := range []string{s.path("xpkg-cache"), s.path("xfn-cache")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return err
		}
	}
	core, err := s.start("crossplane-core", startEnv, bin, "core", "start",
		"--package-runtime=External", "--enable-webhooks=false",
		fmt.Sprintf("--metrics-port=%d", coreMetricsPort), fmt.Sprintf("--health-probe-port=%d", coreHealthPort),
		"--poll-interval="+s.opts.PollInterval.String())
	if err != nil {
		return err
	}
	rbac, err := s.start("crossplane-rbac-manager", []string{"KUBECONFIG=" + s.Kubeconfig()}, bin, "rbac", "start")
	if err != nil {
		return err
	}
	// Core is up once it serves its readiness probe.
	err = poll(ctx, time.Minute, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		if err := core.alive(); err != nil {
			return false, err
		}
		if err := rbac.alive(); err != nil {
			return false, err
		}
		return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", coreHealthPort)), nil
	}, func() string { return "crossplane core's log:\n" + core.Tail(20) })
	if err != nil {
		return fmt.Errorf("crossplane core did not start: %w", err)
	}
	s.progress("Crossplane core running (package runtime External) with its RBAC manager")
	return nil
}

// secretToDir writes a Secret's keys as files, as a volume mount would.
func (s *Stack) secretToDir(ctx context.Context, name, dir string) error {
	sec := &corev1.Secret{}
	if err := s.Kube.Get(ctx, types.NamespacedName{Namespace: Namespace, Name: name}, sec); err != nil {
		return fmt.Errorf("cannot read Secret %s/%s: %w", Namespace, name, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for k, v := range sec.Data {
		if err := os.WriteFile(filepath.Join(dir, k), v, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }
