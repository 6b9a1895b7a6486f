// Package stack brings up the whole product on the test ground, as a user
// would install it: a loopback OCI registry holding qdrantops's packages and
// its dependencies' under their real paths, Crossplane core (out of cluster,
// its package runtime External) installing the Configuration, and the
// function and providers running as local processes the way their packages'
// runtime would run them. The end-to-end test (e2e/) and 'make demo' drive
// the same steps, so the demo tells the story the test proves.
//
// Crossplane core, provider-helm and the RBAC manager bind every interface,
// and the Qdrant emulators stand in for pods at cluster DNS names: the caller
// runs in private network and mount namespaces (see Reexec), where the stack
// brings up loopback and bind-mounts a /etc/hosts of its own.
package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Namespace is where Crossplane core and its packages live.
const Namespace = "crossplane-system"

// Options configure a stack.
type Options struct {
	// Root is the repository's root folder.
	Root string
	// Dir holds the stack's state, logs and binaries.
	Dir string
	// Arch is the architecture packages are built for; the host's.
	Arch string
	// Progress receives short lines saying what the stack is doing.
	Progress func(string)
	// PollInterval is how often Crossplane core re-checks XRs; 1 minute in
	// its defaults, shorter in tests so drift would show within a test.
	PollInterval time.Duration
}

// A Stack is the product running on the test ground.
type Stack struct {
	opts Options

	// Env is the test ground's environment (KUBECONFIG, S3_ENDPOINT...).
	Env map[string]string
	// Kube is an admin client of the test ground.
	Kube client.Client
	// Config is the admin REST config.
	Config *rest.Config

	mu       sync.Mutex
	procs    []*Process
	closers  []func()
	hosts    map[string]string
	hostsSet bool

	registry string
	// packages are the package files by reference.
	packages map[string]string
	// runtimes are the revisions the stack runs as the External runtime.
	runtimes map[string]*Process
	prepared map[string]bool
}

// New returns a stack that has started nothing yet.
func New(opts Options) *Stack {
	if opts.Progress == nil {
		opts.Progress = func(string) {}
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Minute
	}
	return &Stack{opts: opts, hosts: map[string]string{}, runtimes: map[string]*Process{}, prepared: map[string]bool{}}
}

func (s *Stack) progress(format string, args ...any) {
	s.opts.Progress(fmt.Sprintf(format, args...))
}

func (s *Stack) path(elem ...string) string {
	return filepath.Join(append([]string{s.opts.Dir}, elem...)...)
}

// Kubeconfig is the path of the test ground's admin kubeconfig.
func (s *Stack) Kubeconfig() string { return s.Env["KUBECONFIG"] }

// Close stops every process the stack started, newest first, and the test
// ground.
func (s *Stack) Close() {
	s.mu.Lock()
	procs, closers := s.procs, s.closers
	s.procs, s.closers = nil, nil
	s.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop()
	}
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
}

func (s *Stack) onClose(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closers = append(s.closers, f)
}

// tool returns the folder cluster/build.sh keeps a tool's binaries in,
// building it when missing.
func (s *Stack) tool(ctx context.Context, name string) (string, error) {
	b := filepath.Join(s.opts.Root, "cluster", "build.sh")
	if out, err := exec.CommandContext(ctx, b, name).CombinedOutput(); err != nil {
		return "", fmt.Errorf("cannot build %s: %w\n%s", name, err, tail(string(out), 20))
	}
	out, err := exec.CommandContext(ctx, b, "--path", name).Output()
	if err != nil {
		return "", fmt.Errorf("cannot find %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func (s *Stack) connect() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		return fmt.Errorf("cannot load the test ground's kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	sch := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sch); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: sch})
	if err != nil {
		return fmt.Errorf("cannot create a client: %w", err)
	}
	s.Kube, s.Config = c, cfg
	return nil
}

// A Process is a program the stack runs, logging to a file.
type Process struct {
	Name string
	Log  string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// start runs a program in the background; it is stopped by Close.
func (s *Stack) start(name string, env []string, bin string, args ...string) (*Process, error) {
	if err := os.MkdirAll(s.path("logs"), 0o750); err != nil {
		return nil, err
	}
	logPath := s.path("logs", name+".log")
	f, err := os.Create(logPath) //nolint:gosec // G304: a file in the stack's own folder.
	if err != nil {
		return nil, err
	}
	// Not a context: processes live until Close, past the step that started
	// them.
	cmd := exec.Command(bin, args...) //nolint:noctx // Lives until Close, past the step that started it.
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so that a stop reaches what it starts.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cannot start %s: %w", name, err)
	}
	p := &Process{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	return p, nil
}

// Exited says whether the process ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Tail is the last n lines of the process's log.
func (p *Process) Tail(n int) string {
	b, _ := os.ReadFile(p.Log)
	return tail(string(b), n)
}

// Stop ends the process: SIGTERM, then SIGKILL after 5 seconds.
func (p *Process) Stop() {
	if exited, _ := p.Exited(); exited {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// alive fails, with the end of its log, if the process exited.
func (p *Process) alive() error {
	if exited, err := p.Exited(); exited {
		return fmt.Errorf("%s exited (%w); last lines of its log:\n%s", p.Name, err, p.Tail(30))
	}
	return nil
}

// poll calls check every interval until it returns true, an error, or the
// timeout passes; what(), if set, describes the state for the timeout error.
func poll(ctx context.Context, timeout, interval time.Duration, check func(context.Context) (bool, error), what func() string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := check(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("not done after %s", timeout)
			if what != nil {
				msg += "; " + what()
			}
			return errors.New(msg)
		case <-time.After(interval):
		}
	}
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
