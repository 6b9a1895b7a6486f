// Package testenv starts a real kube-apiserver and etcd for integration tests,
// with the qdrantops CRDs, Crossplane's own CRDs and the QdrantCluster XRD
// installed. The binaries are the ones cluster/build.sh builds; KUBEBUILDER_ASSETS
// points at them (cluster/testbed.sh assets prints the folder).
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/qdrantops/qdrantops/apis"
)

// An Env is a running control plane.
type Env struct {
	Config *rest.Config
	Client client.Client
	Scheme *runtime.Scheme
	Root   string

	env *envtest.Environment
}

// Available says why integration tests cannot run, or "" when they can.
func Available() string {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return "KUBEBUILDER_ASSETS is not set; run the tests through 'make test'"
	}
	return ""
}

// Start starts kube-apiserver and etcd and installs the project's CRDs and the
// XRD, served as the CRD Crossplane would derive from it.
func Start() (*Env, error) {
	if why := Available(); why != "" {
		return nil, errors.New(why)
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	crds, err := CRDs(root)
	if err != nil {
		return nil, err
	}

	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("cannot build scheme: %w", err)
	}
	if err := extv1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("cannot build scheme: %w", err)
	}
	if err := apis.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("cannot build scheme: %w", err)
	}
	env := &envtest.Environment{CRDs: crds, Scheme: s, ErrorIfCRDPathMissing: true}
	env.ControlPlane.GetAPIServer().Configure().Set("bind-address", "127.0.0.1")
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("cannot start kube-apiserver and etcd: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("cannot create client: %w", err)
	}
	return &Env{Config: cfg, Client: c, Scheme: s, Root: root, env: env}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error { return e.env.Stop() }

// CRDs gathers every CRD the project's objects need: the provider's, Crossplane
// core's, and the QdrantCluster XR's, derived from its XRD.
func CRDs(root string) ([]*extv1.CustomResourceDefinition, error) {
	crds, err := ReadCRDs(filepath.Join(root, "package", "provider", "crds"))
	if err != nil {
		return nil, err
	}
	xpCRDs, err := CrossplaneCRDs(root)
	if err != nil {
		return nil, err
	}
	crds = append(crds, xpCRDs...)
	xrds, err := ReadObjects(filepath.Join(root, "package", "configuration", "definition.yaml"))
	if err != nil {
		return nil, err
	}
	for _, x := range xrds {
		crd, err := XRDToCRD(x)
		if err != nil {
			return nil, err
		}
		crds = append(crds, crd)
	}
	return crds, nil
}

// RepoRoot finds the repository's root: the folder of the nearest go.mod that
// declares the qdrantops module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("cannot get working directory: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod")) //nolint:gosec // The go.mod of the working folder or a parent.
		if err == nil && strings.HasPrefix(string(b), "module github.com/qdrantops/qdrantops\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (go.mod of github.com/qdrantops/qdrantops)")
		}
		dir = parent
	}
}

// CrossplaneCRDs reads the CRDs of Crossplane core (XRD, Composition,
// Function...), which cluster/build.sh copies beside the core binary.
func CrossplaneCRDs(root string) ([]*extv1.CustomResourceDefinition, error) {
	dir := os.Getenv("CROSSPLANE_CRDS")
	if dir == "" {
		out, err := exec.CommandContext(context.Background(), filepath.Join(root, "cluster", "build.sh"), "--path", "crossplane-core").Output()
		if err != nil {
			return nil, fmt.Errorf("cannot locate Crossplane core: %w", err)
		}
		dir = filepath.Join(strings.TrimSpace(string(out)), "crds")
	}
	return ReadCRDs(dir)
}

// Kubeconfig writes a kubeconfig of a cluster administrator to path, for
// programs the tests run as separate processes.
func (e *Env) Kubeconfig(path string) error {
	u, err := e.env.ControlPlane.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("cannot add user: %w", err)
	}
	b, err := u.KubeConfig()
	if err != nil {
		return fmt.Errorf("cannot render kubeconfig: %w", err)
	}
	return os.WriteFile(path, b, 0o600)
}
