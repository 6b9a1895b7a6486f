package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	xpv2 "github.com/crossplane/crossplane/apis/v2/core/v2"

	"github.com/qdrantops/qdrantops/apis/ops/v1alpha1"
)

// gcReadyTimeout bounds the wait for a garbage collector whose context has no
// deadline. The collector discovers resources again every 30 seconds, so a
// resource it missed at start is covered within that, plus its informers'
// first list.
const gcReadyTimeout = 90 * time.Second

// ControllerManagerBinary finds kube-controller-manager: in
// KUBEBUILDER_ASSETS, or beside the kube-apiserver found there, which
// cluster/testbed.sh assets links from the folder cluster/build.sh builds
// Kubernetes into.
func ControllerManagerBinary() (string, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return "", errors.New("KUBEBUILDER_ASSETS is not set; run the tests through 'make test'")
	}
	tried := []string{filepath.Join(assets, "kube-controller-manager")}
	if api, err := filepath.EvalSymlinks(filepath.Join(assets, "kube-apiserver")); err == nil {
		tried = append(tried, filepath.Join(filepath.Dir(api), "kube-controller-manager"))
	}
	for _, p := range tried {
		fi, err := os.Stat(p) //nolint:gosec // Paths under KUBEBUILDER_ASSETS, which the test runner sets.
		if err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("cannot find kube-controller-manager (tried %v); build it with 'cluster/build.sh kubernetes'", tried)
}

// StartGarbageCollector runs the real kube-controller-manager against the
// control plane with the garbage collector as its only controller, so that
// objects whose owners are gone are deleted as in a real cluster. It logs to
// dir and returns once the collector has deleted both a ConfigMap and a
// ProviderConfig whose only owner does not exist: then it watches the
// project's kinds, which Start installed before it began. ctx bounds that
// wait (90 seconds without a deadline), not the process's life: stop ends it.
func (e *Env) StartGarbageCollector(ctx context.Context, dir string) (stop func(), err error) {
	bin, err := ControllerManagerBinary()
	if err != nil {
		return nil, err
	}
	kc := filepath.Join(dir, "garbage-collector.kubeconfig")
	if err := e.Kubeconfig(kc); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "kube-controller-manager.log")
	log, err := os.Create(logPath) //nolint:gosec // A log file in the folder the caller names.
	if err != nil {
		return nil, fmt.Errorf("cannot create the garbage collector's log: %w", err)
	}
	defer func() { _ = log.Close() }()

	// The process outlives ctx, which bounds only the wait below; stop
	// cancels its own context.
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cmd := exec.CommandContext(pctx, bin,
		"--kubeconfig", kc,
		"--controllers", "garbage-collector-controller",
		"--leader-elect=false",
		// No HTTPS endpoint: nothing reads its health or metrics, and
		// a fixed port would collide with other test processes.
		"--secure-port", "0",
	)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	// A test binary that dies without stopping it does not leave it behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("cannot start %s: %w", bin, err)
	}
	// Its exit status is in cmd.ProcessState once exited is closed; a stop
	// ends it with SIGTERM, which is no error.
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop = func() {
		cancel()
		<-exited
	}

	if err := e.waitForGarbageCollector(ctx, cmd, exited); err != nil {
		stop()
		return nil, fmt.Errorf("%w; kube-controller-manager's log (%s) ends:\n%s", err, logPath, logTail(logPath, 4000))
	}
	return stop, nil
}

// waitForGarbageCollector creates objects whose only owner does not exist and
// waits until the collector has deleted them, or the process exits.
func (e *Env) waitForGarbageCollector(ctx context.Context, cmd *exec.Cmd, exited <-chan struct{}) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, gcReadyTimeout)
		defer cancel()
	}
	suffix, err := randomSuffix()
	if err != nil {
		return err
	}
	// The absent owner: a ConfigMap, whose kind the collector always knows,
	// with a UID no object has.
	owner := []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "gc-probe-absent-owner-" + suffix, UID: types.UID("00000000-0000-0000-0000-" + suffix)}}
	meta := metav1.ObjectMeta{Namespace: metav1.NamespaceDefault, Name: "gc-probe-" + suffix, OwnerReferences: owner}
	probes := []client.Object{
		&corev1.ConfigMap{ObjectMeta: meta},
		// A kind of the project's CRDs: the collector covers it only if its
		// discovery saw the CRDs Start installed.
		&v1alpha1.ProviderConfig{ObjectMeta: meta, Spec: v1alpha1.ProviderConfigSpec{Credentials: v1alpha1.ProviderCredentials{Source: xpv2.CredentialsSourceNone}}},
	}
	for _, p := range probes {
		if err := e.Client.Create(ctx, p); err != nil {
			return fmt.Errorf("cannot create garbage collector probe %T: %w", p, err)
		}
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		left := 0
		for _, p := range probes {
			err := e.Client.Get(ctx, client.ObjectKeyFromObject(p), p)
			switch {
			case kerrors.IsNotFound(err):
			case err != nil && ctx.Err() == nil:
				return fmt.Errorf("cannot read garbage collector probe %T: %w", p, err)
			default:
				left++
			}
		}
		if left == 0 {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("kube-controller-manager exited (%s) before its garbage collector deleted an object whose owner does not exist", cmd.ProcessState)
		case <-ctx.Done():
			for _, p := range probes {
				_ = e.Client.Delete(context.WithoutCancel(ctx), p)
			}
			return fmt.Errorf("the garbage collector did not delete %d of %d objects whose owner does not exist: %w", left, len(probes), ctx.Err())
		case <-tick.C:
		}
	}
}

// randomSuffix is 12 hex digits, the last group of a UID.
func randomSuffix() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("cannot read random bytes: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// logTail is the end of a log file, or why it cannot be read.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path) //nolint:gosec // The log file this package wrote.
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
