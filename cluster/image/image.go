// Package image builds the runtime images of the provider and the function
// without Docker: a static Go binary in one layer on a minimal base made here
// from nothing (a non-root user and a writable /tmp), written as an image
// tarball that `crossplane xpkg build --embed-runtime-image-tarball` embeds.
//
// The images are reproducible: the same sources and Go toolchain give the same
// digest. Every timestamp is fixed, tar entries are sorted and owned by fixed
// ids, the binary has no build ID or VCS stamp and is built with -trimpath,
// and gzip writes no name or time.
package image

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/crossplane/crossplane-runtime/v2/pkg/errors"
)

// NonRoot is the uid and gid the images run as, the one distroless images
// call nonroot: Kubernetes' runAsNonRoot admits it without a securityContext
// naming a user.
const NonRoot = 65532

// Epoch is the time written into every image: tar entries, config and
// history. A fixed time keeps the digest a function of the inputs alone.
var epoch = time.Unix(0, 0).UTC()

// Source is the project's repository, written into the images as their
// org.opencontainers.image.source label.
const Source = "https://github.com/qdrantops/qdrantops"

// Arches are the architectures the packages are built for.
func Arches() []string { return []string{"amd64", "arm64"} }

// Options say what to build.
type Options struct {
	// Dir is the Go module's root, where `go build` runs.
	Dir string
	// Package is the main package to build, relative to Dir (./cmd/x).
	Package string
	// Binary is the file name of the binary in the image, under
	// /usr/local/bin; the entrypoint runs it.
	Binary string
	// Arch is the Go architecture (amd64, arm64); the OS is linux.
	Arch string
	// Labels are written into the image config (OCI annotations such as
	// org.opencontainers.image.source).
	Labels map[string]string
}

// Build compiles the binary and assembles its image.
func Build(ctx context.Context, o Options) (v1.Image, error) {
	tmp, err := os.MkdirTemp("", "image-")
	if err != nil {
		return nil, errors.Wrap(err, "cannot create a build folder")
	}
	defer os.RemoveAll(tmp) //nolint:errcheck // A temporary folder; nothing to do if it cannot go.

	bin := filepath.Join(tmp, o.Binary)
	if err := GoBuild(ctx, o.Dir, o.Package, o.Arch, bin); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(bin) //nolint:gosec // The file go build just wrote.
	if err != nil {
		return nil, errors.Wrap(err, "cannot read the built binary")
	}
	return Assemble(b, o.Binary, o.Arch, o.Labels)
}

// GoBuild compiles a static, stripped linux binary of pkg for arch into out.
// Nothing in it depends on the machine or the time: -trimpath drops local
// paths, -buildvcs=false the VCS state (a dirty tree would change it), and an
// empty -buildid the build ID. GOAMD64 and GOARM64 are pinned to the Go
// defaults so an environment setting cannot change the code generated.
func GoBuild(ctx context.Context, dir, pkg, arch, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -buildid=", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch,
		"GOAMD64=v1", "GOARM64=v8.0", "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return errors.Wrapf(err, "cannot build %s for linux/%s: %s", pkg, arch, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Assemble makes the image of a binary: the base layer, the binary's layer
// and a config that runs it as the non-root user.
func Assemble(binary []byte, binaryName, arch string, labels map[string]string) (v1.Image, error) {
	base, err := layer(baseFiles())
	if err != nil {
		return nil, errors.Wrap(err, "cannot build the base layer")
	}
	binPath := path.Join("usr/local/bin", binaryName)
	app, err := layer([]file{
		{name: "usr/", dir: true, mode: 0o755},
		{name: "usr/local/", dir: true, mode: 0o755},
		{name: "usr/local/bin/", dir: true, mode: 0o755},
		{name: binPath, mode: 0o755, data: binary},
	})
	if err != nil {
		return nil, errors.Wrap(err, "cannot build the binary's layer")
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{
			Created: v1.Time{Time: epoch}, CreatedBy: "qdrantops base: /etc/passwd, /etc/group, /tmp, /home/nonroot",
		}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{
			Created: v1.Time{Time: epoch}, CreatedBy: "go build -trimpath " + binaryName,
		}})
	if err != nil {
		return nil, errors.Wrap(err, "cannot append the layers")
	}

	cf, err := img.ConfigFile()
	if err != nil {
		return nil, errors.Wrap(err, "cannot read the image config")
	}
	cf = cf.DeepCopy()
	cf.Architecture = arch
	cf.OS = "linux"
	if arch == "arm64" {
		cf.Variant = "v8"
	}
	cf.Created = v1.Time{Time: epoch}
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", NonRoot, NonRoot),
		Entrypoint: []string{"/" + binPath},
		Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/nonroot"},
		WorkingDir: "/",
		Labels:     labels,
	}
	img, err = mutate.ConfigFile(img, cf)
	return img, errors.Wrap(err, "cannot write the image config")
}

// WriteTarball writes img as an image tarball tagged ref, the format
// `crossplane xpkg build --embed-runtime-image-tarball` reads.
func WriteTarball(file, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return errors.Wrapf(err, "cannot parse image reference %q", ref)
	}
	f, err := os.Create(file) //nolint:gosec // The caller names the output file.
	if err != nil {
		return errors.Wrap(err, "cannot create the image tarball")
	}
	if err := tarball.Write(tag, img, f); err != nil {
		_ = f.Close()
		return errors.Wrap(err, "cannot write the image tarball")
	}
	return errors.Wrap(f.Close(), "cannot close the image tarball")
}

// A file is one tar entry.
type file struct {
	name     string
	dir      bool
	mode     int64
	uid, gid int
	data     []byte
}

// baseFiles is the base: the user and group the images run as, its home,
// and a /tmp anyone may write, as distroless's static image has them.
func baseFiles() []file {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" +
		fmt.Sprintf("nonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", NonRoot, NonRoot)
	group := "root:x:0:\n" + fmt.Sprintf("nonroot:x:%d:\n", NonRoot)
	return []file{
		{name: "etc/", dir: true, mode: 0o755},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "home/", dir: true, mode: 0o755},
		{name: "home/nonroot/", dir: true, mode: 0o700, uid: NonRoot, gid: NonRoot},
		{name: "tmp/", dir: true, mode: 0o1777},
	}
}

// layer writes files as a tar in name order, every entry at the epoch, and
// makes a gzip layer of it (go-containerregistry's gzip writes no name or
// modification time, so the same tar gives the same digest). The compressed
// bytes are kept: digest, manifest and tarball would otherwise each compress
// the binary again.
func layer(files []file) (v1.Layer, error) {
	sorted := append([]file(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range sorted {
		h := &tar.Header{
			Name:    f.name,
			Mode:    f.mode,
			Uid:     f.uid,
			Gid:     f.gid,
			ModTime: epoch,
			Format:  tar.FormatPAX,
		}
		if f.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, errors.Wrapf(err, "cannot write tar header of %s", f.name)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, errors.Wrapf(err, "cannot write %s", f.name)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, errors.Wrap(err, "cannot close the tar")
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}
