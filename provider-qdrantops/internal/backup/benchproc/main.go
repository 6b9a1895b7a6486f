// Command benchproc runs backups with the provider's engine and nothing else,
// then prints its own peak resident memory. The backup benchmarks build it
// and run it in a process of its own, so that what they measure is the
// engine's memory alone: the Qdrant emulator and the S3 server run in other
// processes, and the test framework is not linked in.
//
// It runs one backup per collection named by -collections, all at once, each
// with a Store of its own, every Store borrowing its part buffers from one
// transfer budget, as the provider does with --max-transfer-memory. The Go
// memory limit is the runtime's: set GOMEMLIMIT in its environment. S3
// credentials are read from S3_ACCESS_KEY and S3_SECRET_KEY.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backup"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrantcluster"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchproc:", err)
		os.Exit(1)
	}
}

func run() error {
	urls := flag.String("urls", "", "comma-separated REST URLs of the Qdrant cluster's peers")
	collections := flag.String("collections", "", "comma-separated collections; each is backed up by a backup of its own, all at once")
	endpoint := flag.String("endpoint", "", "S3 endpoint")
	bucket := flag.String("bucket", "", "S3 bucket")
	name := flag.String("name", "bench", "backup name; each backup's is this name and its collection")
	budget := flag.Int64("budget", 64<<20, "transfer budget shared by every backup, in bytes")
	partSize := flag.Int64("part-size", s3store.DefaultPartSize, "S3 part size")
	parallelism := flag.Int("parallelism", 4, "shards in flight per backup")
	memProfile := flag.String("memprofile", "", "write an allocation profile to this file at the end")
	flag.Parse()
	if *memProfile != "" {
		// Every allocation of a few kB counts: per-request garbage is what
		// makes memory grow with the number of parts.
		runtime.MemProfileRate = 4096
	}
	if *urls == "" || *collections == "" || *endpoint == "" || *bucket == "" {
		return errors.New("-urls, -collections, -endpoint and -bucket are required")
	}

	ctx := context.Background()
	b, err := s3store.NewBudget(*budget, *partSize)
	if err != nil {
		return err
	}
	peers := strings.Split(*urls, ",")
	cols := strings.Split(*collections, ",")
	errs := make([]error, len(cols))
	sizes := make([]int64, len(cols))
	start := time.Now()
	var wg sync.WaitGroup
	for i, col := range cols {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sizes[i], errs[i] = backupOne(ctx, peers, col, *name+"-"+col, *parallelism, s3store.Config{
				Bucket: *bucket, Endpoint: *endpoint, UsePathStyle: true, Budget: b,
				Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("S3_ACCESS_KEY"), os.Getenv("S3_SECRET_KEY"), ""),
			})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	took := time.Since(start)
	var total int64
	for _, n := range sizes {
		total += n
	}
	fmt.Printf("backed-up-MiB=%d took=%s MiB/s=%.0f\n", total>>20, took.Round(time.Millisecond), float64(total)/(1<<20)/took.Seconds())

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("heap-sys-MiB=%d heap-inuse-MiB=%d stack-MiB=%d total-alloc-MiB=%d num-gc=%d\n",
		ms.HeapSys>>20, ms.HeapInuse>>20, ms.StackSys>>20, ms.TotalAlloc>>20, ms.NumGC)
	hwm, err := peakRSS()
	if err != nil {
		return err
	}
	fmt.Printf("VmHWM-kB=%d\n", hwm)
	if *memProfile != "" {
		return writeProfile(*memProfile)
	}
	return nil
}

// backupOne backs up one collection as a Backup of its own would: its own
// cluster connection and Store, the shared budget.
func backupOne(ctx context.Context, peers []string, collection, name string, parallelism int, cfg s3store.Config) (int64, error) {
	qc, err := qdrantcluster.Connect(ctx, qdrantcluster.Options{URL: peers[0], PeerURLs: peers})
	if err != nil {
		return 0, fmt.Errorf("cannot connect to the cluster: %w", err)
	}
	st, err := s3store.New(cfg)
	if err != nil {
		return 0, fmt.Errorf("cannot build the store: %w", err)
	}
	req := backup.Request{
		Layout:      manifest.Layout{Namespace: "bench", Cluster: "rss", Backup: name},
		Backup:      manifest.BackupRef{Namespace: "bench", Name: name, UID: "uid-" + name},
		Cluster:     "rss",
		Collections: []string{collection},
		Parallelism: parallelism,
	}
	m, err := backup.Run(ctx, qc, st, req)
	if err != nil {
		return 0, fmt.Errorf("cannot back up %s: %w", collection, err)
	}
	return m.SizeBytes(), nil
}

// writeProfile writes the heap profile, whose alloc_space view shows where
// the garbage came from.
func writeProfile(name string) error {
	f, err := os.Create(name) //nolint:gosec // G304: the path the benchmark that runs this tool asks for with -memprofile.
	if err != nil {
		return fmt.Errorf("cannot write the memory profile: %w", err)
	}
	// The profile holds what was allocated up to the last collection.
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("cannot write the memory profile: %w", err)
	}
	return f.Close()
}

// peakRSS is the process's peak resident set size in kB, as the kernel
// counts it.
func peakRSS() (int64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("cannot read the process status: %w", err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			var kb int64
			if _, err := fmt.Sscan(f[1], &kb); err != nil {
				return 0, fmt.Errorf("cannot parse %q: %w", l, err)
			}
			return kb, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}
