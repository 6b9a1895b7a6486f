// Command benchproc runs restores by upload with the provider's engine and
// nothing else, then prints its own peak resident memory. The restore memory
// benchmarks build it and run it in a process of its own, so that what they
// measure is the engine's memory alone: the Qdrant emulator and the S3 server
// run in other processes, and the test framework is not linked in.
//
// It restores one backup (-root) once per name in -targets, all at once, each
// restore into a collection of that name (a mapping of -collection) with a
// cluster connection and a Store of its own, every Store borrowing its read
// buffers from one transfer budget, as the provider does with
// --max-transfer-memory. The Go memory limit is the runtime's: set GOMEMLIMIT
// in its environment. S3 credentials are read from S3_ACCESS_KEY and
// S3_SECRET_KEY.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrantcluster"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/restore"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchproc:", err)
		os.Exit(1)
	}
}

func run() error {
	urls := flag.String("urls", "", "comma-separated REST URLs of the target Qdrant cluster's peers")
	endpoint := flag.String("endpoint", "", "S3 endpoint")
	bucket := flag.String("bucket", "", "S3 bucket")
	root := flag.String("root", "", "the backup's folder in the bucket, ending in /")
	collection := flag.String("collection", "", "the backup's collection to restore")
	targets := flag.String("targets", "", "comma-separated target collections; each is restored by a restore of its own, all at once")
	budget := flag.Int64("budget", 64<<20, "transfer budget shared by every restore, in bytes")
	partSize := flag.Int64("part-size", s3store.DefaultPartSize, "S3 part size, the size of each read buffer")
	parallelism := flag.Int("parallelism", 4, "shards in flight per restore")
	memProfile := flag.String("memprofile", "", "write an allocation profile to this file at the end")
	flag.Parse()
	if *memProfile != "" {
		// Every allocation of a few kB counts: per-request garbage is what
		// makes memory grow with the size of the snapshots.
		runtime.MemProfileRate = 4096
	}
	if *urls == "" || *endpoint == "" || *bucket == "" || *root == "" || *collection == "" || *targets == "" {
		return errors.New("-urls, -endpoint, -bucket, -root, -collection and -targets are required")
	}

	ctx := context.Background()
	b, err := s3store.NewBudget(*budget, *partSize)
	if err != nil {
		return err
	}
	peers := strings.Split(*urls, ",")
	names := strings.Split(*targets, ",")
	errs := make([]error, len(names))
	uploaded := make([]int64, len(names))
	start := time.Now()
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uploaded[i], errs[i] = restoreOne(ctx, peers, *root, *collection, name, *parallelism, s3store.Config{
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
	each := make([]string, len(uploaded))
	for i, n := range uploaded {
		total += n
		each[i] = strconv.FormatInt(n, 10)
	}
	// One figure per restore, in the order of -targets: the benchmark checks
	// that each moved the whole backup.
	fmt.Printf("uploaded-bytes=%s\n", strings.Join(each, ","))
	fmt.Printf("restored-MiB=%d took=%s MiB/s=%.0f\n", total>>20, took.Round(time.Millisecond), float64(total)/(1<<20)/took.Seconds())

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// total-alloc is every byte the process allocated, garbage included: a
	// restore whose allocations follow the data shows there first, even
	// when the collector keeps its RSS under the memory limit.
	fmt.Printf("heap-sys-MiB=%d heap-inuse-MiB=%d stack-MiB=%d total-alloc-MiB=%.1f num-gc=%d\n",
		ms.HeapSys>>20, ms.HeapInuse>>20, ms.StackSys>>20, float64(ms.TotalAlloc)/(1<<20), ms.NumGC)
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

// restoreOne restores the backup's collection as target, by upload, as a
// Restore of its own would: its own cluster connection and Store, the shared
// budget. It returns the snapshot bytes streamed through this process.
func restoreOne(ctx context.Context, peers []string, root, collection, target string, parallelism int, cfg s3store.Config) (int64, error) {
	qc, err := qdrantcluster.Connect(ctx, qdrantcluster.Options{URL: peers[0], PeerURLs: peers})
	if err != nil {
		return 0, fmt.Errorf("cannot connect to the cluster: %w", err)
	}
	st, err := s3store.New(cfg)
	if err != nil {
		return 0, fmt.Errorf("cannot build the store: %w", err)
	}
	s, err := restore.Run(ctx, qdrantcluster.NewTarget(qc), st, restore.Request{
		Root:         root,
		Collections:  []string{collection},
		Mappings:     map[string]string{collection: target},
		Method:       restore.MethodUpload,
		Parallelism:  parallelism,
		SamplePoints: 100,
		PollInterval: 20 * time.Millisecond,
	})
	if err != nil {
		return 0, fmt.Errorf("cannot restore %s as %s: %w", collection, target, err)
	}
	if s.Phase != restore.PhaseCompleted {
		return 0, fmt.Errorf("the restore of %s as %s ended in phase %s", collection, target, s.Phase)
	}
	return s.BytesUploaded, nil
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
