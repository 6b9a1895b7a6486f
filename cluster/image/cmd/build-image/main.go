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

	"github.com/qdrantops/qdrantops/cluster/image"
)

func main() {
	dir := flag.String("dir", ".", "root of the Go module")
	pkg := flag.String("package", "", "main package to build, relative to -dir (./cmd/x)")
	binary := flag.String("binary", "", "file name of the binary in the image (under /usr/local/bin)")
	arch := flag.String("arch", "amd64", "Go architecture (amd64, arm64)")
	ref := flag.String("ref", "", "tag written into the tarball (registry/repository:tag)")
	source := flag.String("source", image.Source, "org.opencontainers.image.source label; empty writes none")
	out := flag.String("o", "", "image tarball to write")
	flag.Parse()
	if *pkg == "" || *binary == "" || *ref == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "build-image: -package, -binary, -ref and -o are required")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var labels map[string]string
	if *source != "" {
		labels = map[string]string{"org.opencontainers.image.source": *source}
	}
	img, err := image.Build(ctx, image.Options{Dir: *dir, Package: *pkg, Binary: *binary, Arch: *arch, Labels: labels})
	if err == nil {
		err = image.WriteTarball(*out, *ref, img)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "build-image:", err)
		os.Exit(1)
	}
	d, err := img.Digest()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build-image:", err)
		os.Exit(1)
	}
	fmt.Println(d)
}
