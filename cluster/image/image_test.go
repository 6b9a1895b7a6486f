package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// entry is what a test checks of one tar entry.
type entry struct {
	Name     string
	Mode     int64
	UID, GID int
	ModTime  time.Time
	Data     string
}

// entries reads a layer's tar in order.
func entries(t *testing.T, l v1.Layer) []entry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close() //nolint:errcheck // Read-only.
	tr := tar.NewReader(rc)
	var got []entry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, entry{Name: h.Name, Mode: h.Mode, UID: h.Uid, GID: h.Gid, ModTime: h.ModTime.UTC(), Data: string(b)})
	}
}

func digest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAssembleIsReproducible(t *testing.T) {
	labels := map[string]string{"org.opencontainers.image.source": Source}
	base, err := Assemble([]byte("binary"), "provider", "amd64", labels)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		reason string
		binary string
		arch   string
		same   bool
	}{
		"SameInputs": {
			reason: "The same binary for the same architecture must give the same digest, whenever it is built.",
			binary: "binary", arch: "amd64", same: true,
		},
		"OtherBinary": {
			reason: "A changed binary must change the digest, or the digest says nothing about the content.",
			binary: "binary2", arch: "amd64",
		},
		"OtherArch": {
			reason: "The architecture is part of the image config, so each arch has its own digest.",
			binary: "binary", arch: "arm64",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			// Built a second apart: no clock may leak into the image.
			time.Sleep(time.Second)
			img, err := Assemble([]byte(tc.binary), "provider", tc.arch, labels)
			if err != nil {
				t.Fatal(err)
			}
			if got := digest(t, img) == digest(t, base); got != tc.same {
				t.Errorf("%s\nsame digest: want %t, got %t", tc.reason, tc.same, got)
			}
		})
	}
}

func TestAssembleConfig(t *testing.T) {
	cases := map[string]struct {
		reason string
		arch   string
		want   *v1.ConfigFile
	}{
		"Amd64": {
			reason: "The image runs the binary as the non-root user, at the epoch, for its architecture.",
			arch:   "amd64",
			want: &v1.ConfigFile{
				Architecture: "amd64", OS: "linux", Created: v1.Time{Time: time.Unix(0, 0).UTC()},
				Config: v1.Config{
					User: "65532:65532", Entrypoint: []string{"/usr/local/bin/function"}, WorkingDir: "/",
					Env:    []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/nonroot"},
					Labels: map[string]string{"org.opencontainers.image.source": Source},
				},
			},
		},
		"Arm64": {
			reason: "arm64 images say their variant, as registries' multi-arch indexes do.",
			arch:   "arm64",
			want: &v1.ConfigFile{
				Architecture: "arm64", Variant: "v8", OS: "linux", Created: v1.Time{Time: time.Unix(0, 0).UTC()},
				Config: v1.Config{
					User: "65532:65532", Entrypoint: []string{"/usr/local/bin/function"}, WorkingDir: "/",
					Env:    []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/nonroot"},
					Labels: map[string]string{"org.opencontainers.image.source": Source},
				},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			img, err := Assemble([]byte("binary"), "function", tc.arch, map[string]string{"org.opencontainers.image.source": Source})
			if err != nil {
				t.Fatal(err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			got := cf.DeepCopy()
			// Layers and history are checked by TestAssembleLayers.
			got.RootFS, got.History = v1.RootFS{}, nil
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestAssembleLayers(t *testing.T) {
	epoch := time.Unix(0, 0).UTC()
	img, err := Assemble([]byte("\x7fELF binary"), "provider", "amd64", nil)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]entry{
		{
			{Name: "etc/", Mode: 0o755, ModTime: epoch},
			{Name: "etc/group", Mode: 0o644, ModTime: epoch, Data: "root:x:0:\nnonroot:x:65532:\n"},
			{Name: "etc/passwd", Mode: 0o644, ModTime: epoch, Data: "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"},
			{Name: "home/", Mode: 0o755, ModTime: epoch},
			{Name: "home/nonroot/", Mode: 0o700, UID: 65532, GID: 65532, ModTime: epoch},
			{Name: "tmp/", Mode: 0o1777, ModTime: epoch},
		},
		{
			{Name: "usr/", Mode: 0o755, ModTime: epoch},
			{Name: "usr/local/", Mode: 0o755, ModTime: epoch},
			{Name: "usr/local/bin/", Mode: 0o755, ModTime: epoch},
			{Name: "usr/local/bin/provider", Mode: 0o755, ModTime: epoch, Data: "\x7fELF binary"},
		},
	}
	got := make([][]entry, 0, len(layers))
	for _, l := range layers {
		got = append(got, entries(t, l))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("A base of the non-root user and a writable /tmp, then the binary, every entry sorted, root-owned but the user's home, at the epoch: -want, +got:\n%s", diff)
	}
}

func TestWriteTarball(t *testing.T) {
	img, err := Assemble([]byte("binary"), "function", "arm64", nil)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "image.tar")
	if err := WriteTarball(file, "ghcr.io/qdrantops/function-compose-qdrant:v0.1.0", img); err != nil {
		t.Fatal(err)
	}
	// What crossplane xpkg build --embed-runtime-image-tarball does.
	read, err := tarball.ImageFromPath(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range []v1.Image{img, read} {
		if _, err := im.ConfigFile(); err != nil {
			t.Fatal(err)
		}
	}
	wantCfg, _ := img.RawConfigFile()
	gotCfg, err := read.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wantCfg, gotCfg) {
		t.Errorf("The tarball must hold the image's config as it is:\nwant %s\ngot  %s", wantCfg, gotCfg)
	}
	wantLayers, _ := img.Layers()
	gotLayers, err := read.Layers()
	if err != nil {
		t.Fatal(err)
	}
	digests := func(ls []v1.Layer) []string {
		var ds []string
		for _, l := range ls {
			d, err := l.Digest()
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, d.String())
		}
		return ds
	}
	if diff := cmp.Diff(digests(wantLayers), digests(gotLayers)); diff != "" {
		t.Errorf("The tarball must hold the image's compressed layers as they are: -want, +got:\n%s", diff)
	}
}
