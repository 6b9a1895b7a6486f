package stack

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// InNamespacesEnv marks a process Reexec started in its private namespaces.
const InNamespacesEnv = "QDRANTOPS_STACK_NETNS"

// Reexec runs this program again with args in private network and mount
// namespaces (unshare -n -m), wired to the caller's standard streams, and
// returns its error. It returns done false, doing nothing, when this process
// already is that copy.
func Reexec(ctx context.Context, args []string) (done bool, err error) {
	if os.Getenv(InNamespacesEnv) != "" {
		return false, nil
	}
	self, err := os.Executable()
	if err != nil {
		return true, err
	}
	// unshare -m makes mounts private: the /etc/hosts bind mount stays in
	// the copy.
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"-n", "-m", "--", self}, args...)...)
	cmd.Env = append(os.Environ(), InNamespacesEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return true, cmd.Run()
}

// Testbed starts the test ground (cluster/testbed.sh up) with its state in
// the stack's folder, after bringing up loopback and a private /etc/hosts.
func (s *Stack) Testbed(ctx context.Context) error {
	if os.Getenv(InNamespacesEnv) == "" {
		return fmt.Errorf("the stack must run in private network and mount namespaces (stack.Reexec)")
	}
	if out, err := exec.CommandContext(ctx, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("cannot bring up loopback: %w\n%s", err, out)
	}
	if err := os.MkdirAll(s.opts.Dir, 0o750); err != nil {
		return err
	}
	if err := s.privateHosts(ctx); err != nil {
		return err
	}
	state := s.path("testbed")
	script := filepath.Join(s.opts.Root, "cluster", "testbed.sh")
	run := func(ctx context.Context, arg string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, script, arg)
		cmd.Env = append(os.Environ(), "TESTBED="+state)
		return cmd.CombinedOutput()
	}
	s.progress("starting the test ground (etcd, kube-apiserver, controller-manager, scheduler, kwok, versitygw)")
	if out, err := run(ctx, "up"); err != nil {
		return fmt.Errorf("testbed.sh up: %w\n%s", err, tail(string(out), 30))
	}
	// Not ctx: the test ground is stopped when the stack closes, after the
	// step's context ended.
	s.onClose(func() { _, _ = run(context.Background(), "down") })
	env, err := readEnv(filepath.Join(state, "env"))
	if err != nil {
		return err
	}
	s.Env = env
	if err := s.connect(); err != nil {
		return err
	}
	s.keepNodesAlive()
	s.progress("test ground up (kube-apiserver %s, S3 %s)", s.Config.Host, env["S3_ENDPOINT"])
	return nil
}

// readEnv reads the export lines testbed.sh writes.
func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the test ground's own file.
	if err != nil {
		return nil, fmt.Errorf("cannot read the test ground's environment: %w", err)
	}
	defer func() { _ = f.Close() }()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if ok {
			env[k] = v
		}
	}
	return env, sc.Err()
}

// privateHosts bind-mounts a /etc/hosts of the stack's own over the
// system's; only this mount namespace sees it.
func (s *Stack) privateHosts(ctx context.Context) error {
	p := s.path("hosts")
	if err := s.writeHosts(p); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "mount", "--bind", p, "/etc/hosts").CombinedOutput(); err != nil {
		return fmt.Errorf("cannot bind-mount a private /etc/hosts: %w\n%s", err, out)
	}
	s.hostsSet = true
	return nil
}

// AddHosts maps names to addresses in the private /etc/hosts, as cluster DNS
// would resolve them.
func (s *Stack) AddHosts(names map[string]string) error {
	s.mu.Lock()
	for n, a := range names {
		s.hosts[n] = a
	}
	s.mu.Unlock()
	if !s.hostsSet {
		return fmt.Errorf("no private /etc/hosts")
	}
	// Written in place: the bind mount holds the file, not its name.
	return s.writeHosts("/etc/hosts")
}

func (s *Stack) writeHosts(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	b.WriteString("127.0.0.1 localhost\n::1 localhost\n")
	names := make([]string, 0, len(s.hosts))
	for n := range s.hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "%s %s\n", s.hosts[n], n)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644) //nolint:gosec // G306: /etc/hosts is world-readable.
}
