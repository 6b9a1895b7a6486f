package stack

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Package paths, as the Configuration's dependsOn names them: qdrantops's
// own where the project publishes them, the dependencies where they are
// really published.
const (
	OwnRegistry       = "ghcr.io/qdrantops"
	Version           = "v0.1.0"
	ConfigurationPath = OwnRegistry + "/configuration-qdrantops"
	ProviderPath      = OwnRegistry + "/provider-qdrantops"
	FunctionPath      = OwnRegistry + "/function-compose-qdrant"
	HelmPath          = "xpkg.crossplane.io/crossplane-contrib/provider-helm"
	AWSS3Path         = "xpkg.upbound.io/upbound/provider-aws-s3"
	AWSFamilyPath     = "xpkg.upbound.io/upbound/provider-family-aws"

	helmVersion = "v1.3.0"
	awsVersion  = "v2.5.0"
)

// mirrored are the registries whose packages the loopback registry holds;
// an ImageConfig rewrites each to the mirror, as an air-gapped user would.
var mirrored = []string{"ghcr.io/qdrantops/", "xpkg.crossplane.io/", "xpkg.upbound.io/"}

// xpkg is a package file and where it is published.
type xpkg struct {
	file, ref string
}

// Packages builds qdrantops's three packages (cluster/package.sh, for the
// host's architecture) and the dependencies' packages from what the test
// ground has: provider-helm's CRDs, the S3 kinds of provider-upjet-aws and
// its family's ProviderConfig kinds, with the metadata their real packages
// carry (version, SafeStart, the family dependency).
func (s *Stack) Packages(ctx context.Context) ([]xpkg, error) {
	cli, err := s.tool(ctx, "crossplane-cli")
	if err != nil {
		return nil, err
	}
	out := s.path("packages")
	if err := os.MkdirAll(out, 0o750); err != nil {
		return nil, err
	}
	start := time.Now()
	s.progress("building packages with cluster/package.sh (first run ~2 min: the binaries of the runtime images; then ~20 s)")
	cmd := exec.CommandContext(ctx, filepath.Join(s.opts.Root, "cluster", "package.sh"), out, s.opts.Arch)
	cmd.Dir = s.opts.Root
	cmd.Env = append(os.Environ(), "XPKG_REGISTRY="+OwnRegistry, "VERSION="+Version)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("cluster/package.sh: %w\n%s", err, tail(string(b), 30))
	}
	pkgs := []xpkg{
		{filepath.Join(out, "configuration-qdrantops.xpkg"), ConfigurationPath + ":" + Version},
		{filepath.Join(out, "provider-qdrantops-"+s.opts.Arch+".xpkg"), ProviderPath + ":" + Version},
		{filepath.Join(out, "function-compose-qdrant-"+s.opts.Arch+".xpkg"), FunctionPath + ":" + Version},
	}
	deps, err := s.buildDependencies(ctx, filepath.Join(cli, "crossplane"))
	if err != nil {
		return nil, err
	}
	pkgs = append(pkgs, deps...)
	s.packages = map[string]string{}
	for _, p := range pkgs {
		s.packages[p.ref] = p.file
		if _, err := os.Stat(p.file); err != nil {
			return nil, fmt.Errorf("package %s was not built: %w", p.ref, err)
		}
	}
	s.progress("built %d packages in %s", len(pkgs), time.Since(start).Round(time.Second))
	return pkgs, nil
}

func (s *Stack) buildDependencies(ctx context.Context, cli string) ([]xpkg, error) {
	helmCRDs, err := s.tool(ctx, "provider-helm-crds")
	if err != nil {
		return nil, err
	}
	s3CRDs, err := s.tool(ctx, "provider-aws-crds")
	if err != nil {
		return nil, err
	}
	familyCRDs, err := awsFamilyCRDs(ctx)
	if err != nil {
		return nil, err
	}
	deps := []struct {
		name, ref, meta string
		crds            []string
	}{
		{"provider-helm", HelmPath + ":" + helmVersion, `apiVersion: meta.pkg.crossplane.io/v1
kind: Provider
metadata:
  name: provider-helm
spec:
  capabilities: [SafeStart]
`, glob(helmCRDs, "*.yaml")},
		{"provider-aws-s3", AWSS3Path + ":" + awsVersion, `apiVersion: meta.pkg.crossplane.io/v1
kind: Provider
metadata:
  name: provider-aws-s3
  labels: {pkg.crossplane.io/provider-family: provider-family-aws}
spec:
  capabilities: [SafeStart]
  crossplane: {version: ">=v1.12.1-0"}
  dependsOn:
  - provider: ` + AWSFamilyPath + `
    version: "` + awsVersion + `"
`, glob(s3CRDs, "*.yaml")},
		{"provider-family-aws", AWSFamilyPath + ":" + awsVersion, `apiVersion: meta.pkg.crossplane.io/v1
kind: Provider
metadata:
  name: provider-family-aws
  labels: {pkg.crossplane.io/provider-family: provider-family-aws}
spec:
  capabilities: [SafeStart]
  crossplane: {version: ">=v1.12.1-0"}
`, familyCRDs},
	}
	var pkgs []xpkg
	for _, d := range deps {
		dir := s.path("src", d.name)
		if err := os.MkdirAll(filepath.Join(dir, "crds"), 0o750); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "crossplane.yaml"), []byte(d.meta), 0o600); err != nil {
			return nil, err
		}
		if err := copyFiles(filepath.Join(dir, "crds"), d.crds...); err != nil {
			return nil, err
		}
		file := s.path("packages", d.name+".xpkg")
		if err := xpkgBuild(ctx, cli, dir, file); err != nil {
			return nil, err
		}
		pkgs = append(pkgs, xpkg{file, d.ref})
	}
	return pkgs, nil
}

// awsFamilyCRDs are the ProviderConfig kinds provider-family-aws ships, from
// the provider-upjet-aws module cluster/build.sh downloaded for the S3 kinds.
func awsFamilyCRDs(ctx context.Context) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", "github.com/upbound/provider-aws/v2@"+awsVersion)
	cmd.Dir = os.TempDir()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("cannot find the provider-upjet-aws module: %w", err)
	}
	_, after, ok := strings.Cut(string(out), `"Dir": "`)
	if !ok {
		return nil, fmt.Errorf("go mod download printed no folder: %s", out)
	}
	dir, _, _ := strings.Cut(after, `"`)
	crds := append(glob(filepath.Join(dir, "package", "crds"), "aws.upbound.io_*.yaml"),
		glob(filepath.Join(dir, "package", "crds"), "aws.m.upbound.io_*.yaml")...)
	if len(crds) == 0 {
		return nil, fmt.Errorf("no ProviderConfig CRDs in %s", dir)
	}
	return crds, nil
}

func xpkgBuild(ctx context.Context, cli, root, out string) error {
	cmd := exec.CommandContext(ctx, cli, "xpkg", "build", "--package-root", root, "--examples-root", filepath.Join(root, "no-examples"), "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("crossplane xpkg build %s: %w\n%s", root, err, tail(string(b), 20))
	}
	return nil
}

// Registry serves an OCI registry on loopback and pushes the packages under
// their real paths, below the registry's own host.
func (s *Stack) Registry(ctx context.Context, pkgs []xpkg) error {
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("cannot listen for the registry: %w", err)
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(nopLogger())), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	s.onClose(func() { _ = srv.Close() })
	s.registry = l.Addr().String()
	for _, p := range pkgs {
		img, err := tarball.ImageFromPath(p.file, nil)
		if err != nil {
			return fmt.Errorf("cannot read package %s: %w", p.file, err)
		}
		repo, tag, _ := strings.Cut(p.ref, ":")
		if err := push(ctx, "http://"+s.registry, repo, tag, img); err != nil {
			return fmt.Errorf("cannot push %s: %w", p.ref, err)
		}
	}
	s.progress("registry up at %s with %d packages under their real paths", s.registry, len(pkgs))
	return nil
}

// push uploads an image's blobs and manifest with the registry API; the
// registry is the stack's own, on loopback, without authentication.
func push(ctx context.Context, base, repo, tag string, img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	cfgDigest, err := img.ConfigName()
	if err != nil {
		return err
	}
	upload := func(d v1.Hash, open func() (io.ReadCloser, error)) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/?digest="+d.String(), nil)
		if err != nil {
			return err
		}
		body, err := open()
		if err != nil {
			return err
		}
		defer func() { _ = body.Close() }()
		req.Body = body
		return do(req, http.StatusCreated)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		if err := upload(d, l.Compressed); err != nil {
			return fmt.Errorf("layer %s: %w", d, err)
		}
	}
	if err := upload(cfgDigest, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(cfg)), nil }); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	m, err := img.RawManifest()
	if err != nil {
		return err
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(m))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", string(mt))
	return do(req, http.StatusCreated)
}

func do(req *http.Request, want int) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%s %s: %s %s", req.Method, req.URL.Path, resp.Status, b)
	}
	return nil
}

// runtimeBinary writes the program a package's embedded runtime image runs
// (its entrypoint) into the stack's bin folder, so that the stack runs the
// very binary the package ships.
func (s *Stack) runtimeBinary(ref, name string) (string, error) {
	file := s.packages[ref]
	img, err := tarball.ImageFromPath(file, nil)
	if err != nil {
		return "", fmt.Errorf("cannot read package %s: %w", file, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	if len(cfg.Config.Entrypoint) == 0 {
		return "", fmt.Errorf("package %s embeds no runtime image (no entrypoint)", ref)
	}
	want := strings.TrimPrefix(cfg.Config.Entrypoint[0], "/")
	rc := mutate.Extract(img)
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("package %s: no %s in its runtime image", ref, want)
		}
		if err != nil {
			return "", fmt.Errorf("cannot read the runtime image of %s: %w", ref, err)
		}
		if strings.TrimPrefix(h.Name, "./") != want {
			continue
		}
		out := s.path("bin", name)
		if err := os.MkdirAll(filepath.Dir(out), 0o750); err != nil {
			return "", err
		}
		f, err := os.OpenFile(out, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o750) //nolint:gosec // G302: an executable in the stack's own folder.
		if err != nil {
			return "", err
		}
		if _, err := io.Copy(f, tr); err != nil { //nolint:gosec // G110: our own package's binary.
			_ = f.Close()
			return "", err
		}
		return out, f.Close()
	}
}

func glob(dir, pattern string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	return m
}

func copyFiles(dir string, files ...string) error {
	for _, f := range files {
		b, err := os.ReadFile(f) //nolint:gosec // G304: package sources.
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil { //nolint:gosec // G703: the stack's own folder.
			return err
		}
	}
	return nil
}
