//go:build handrestore_overlay

// Command mkbackup makes a backup with the provider's own backup use case and
// its real Qdrant and S3 adapters, exactly as a Backup resource does, so that
// the hand restore test restores what the product writes and nothing
// hand-made.
//
// The use case lives in provider-qdrantops/internal, which Go lets only code
// under provider-qdrantops import. The test therefore builds this file with
// `go build -overlay`, placed as if it were a package under
// provider-qdrantops/internal; the build tag keeps every other build from
// compiling it where it really is. S3 credentials are read from
// S3_ACCESS_KEY and S3_SECRET_KEY. It prints the manifest's key.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backup"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrantcluster"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mkbackup:", err)
		os.Exit(1)
	}
}

func run() error {
	urls := flag.String("urls", "", "comma-separated REST URLs of the Qdrant cluster's peers")
	apiKey := flag.String("api-key", "", "Qdrant API key")
	endpoint := flag.String("endpoint", "", "S3 endpoint")
	region := flag.String("region", "us-east-1", "S3 region")
	bucket := flag.String("bucket", "", "S3 bucket")
	prefix := flag.String("prefix", "", "key prefix")
	namespace := flag.String("namespace", "team-a", "the Backup's namespace")
	cluster := flag.String("cluster", "search", "the cluster's name")
	name := flag.String("name", "nightly", "the Backup's name")
	flag.Parse()
	if *urls == "" || *endpoint == "" || *bucket == "" {
		return errors.New("-urls, -endpoint and -bucket are required")
	}
	ctx := context.Background()
	peers := strings.Split(*urls, ",")
	qc, err := qdrantcluster.Connect(ctx, qdrantcluster.Options{URL: peers[0], PeerURLs: peers, APIKey: *apiKey})
	if err != nil {
		return fmt.Errorf("cannot connect to the cluster: %w", err)
	}
	st, err := s3store.New(s3store.Config{
		Bucket: *bucket, Endpoint: *endpoint, UsePathStyle: true, Region: *region,
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("S3_ACCESS_KEY"), os.Getenv("S3_SECRET_KEY"), ""),
	})
	if err != nil {
		return fmt.Errorf("cannot build the store: %w", err)
	}
	layout := manifest.Layout{Prefix: *prefix, Namespace: *namespace, Cluster: *cluster, Backup: *name}
	if _, err := backup.Run(ctx, qc, st, backup.Request{
		Layout:  layout,
		Backup:  manifest.BackupRef{Namespace: *namespace, Name: *name, UID: "uid-" + *name},
		Cluster: *cluster,
	}); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Println(layout.ManifestKey())
	return nil
}
