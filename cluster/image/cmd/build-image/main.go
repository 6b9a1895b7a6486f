// Command build-image builds a runtime image of one of the project's Go
// binaries (see package image) and writes it as an image tarball for
// `crossplane xpkg build --embed-runtime-image-tarball`. It prints the
// image's digest.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/crossplane/crossplane-runtime/v2/pkg/errors"

	"github.com/qdrantops/qdrantops/cluster/image"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "build-image:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", ".", "root of the Go module")
	pkg := flag.String("package", "", "main package to build, relative to -dir (./cmd/x)")
	binary := flag.String("binary", "", "file name of the binary in the image (under /usr/local/bin)")
	arch := flag.String("arch", "amd64", "Go architecture (amd64, arm64)")
	ref := flag.String("ref", "", "tag written into the tarball (registry/repository:tag)")
	source := flag.String("source", image.Source, "org.opencontainers.image.source label; empty writes none")
	out := flag.String("o", "", "image tarball to write")
	flag.Parse()
	if *pkg == "" || *binary == "" || *ref == "" || *out == "" {
		return errors.New("-package, -binary, -ref and -o are required")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var labels map[string]string
	if *source != "" {
		labels = map[string]string{"org.opencontainers.image.source": *source}
	}
	img, err := image.Build(ctx, image.Options{Dir: *dir, Package: *pkg, Binary: *binary, Arch: *arch, Labels: labels})
	if err != nil {
		return err
	}
	if err := image.WriteTarball(*out, *ref, img); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return errors.Wrap(err, "cannot compute the image digest")
	}
	_, err = fmt.Println(d)
	return err
}
