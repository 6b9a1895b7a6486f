package backup_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backup"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrantcluster"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

const (
	benchShards   = 4
	benchPadding  = 64 << 20 // per shard
	benchPartSize = 8 << 20
)

// BenchmarkBackupVsPlainCopy moves the same shard snapshots from the emulator
// to the S3 server twice per iteration: once as a plain streaming copy (GET,
// multipart upload, nothing else) and once as a backup (planning, sha256,
// sidecars, manifest, verification), and reports the ratio of throughputs.
func BenchmarkBackupVsPlainCopy(b *testing.B) {
	ctx := context.Background()
	emu, err := qdrantemu.Start(qdrantemu.Options{Nodes: 1, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer emu.Close()
	if err := emu.AddSample(qdrantemu.Sample{Name: "big", ShardNumber: benchShards, ReplicationFactor: 1, Points: 1000, Dim: 4}); err != nil {
		b.Fatal(err)
	}
	emu.SetSnapshotPadding("big", benchPadding)
	if err := srv.CreateBucket(ctx, "bench"); err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		b.Fatal(err)
	}
	st, err := s3store.New(s3store.Config{Bucket: "bench", Endpoint: srv.Endpoint, UsePathStyle: true, Region: srv.Region,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""), PartSize: benchPartSize})
	if err != nil {
		b.Fatal(err)
	}
	qc, err := qdrantcluster.Connect(ctx, qdrantcluster.Options{URL: emu.URLs()[0]})
	if err != nil {
		b.Fatal(err)
	}
	var plain, full time.Duration
	var bytesMoved int64
	for i := 0; i < b.N; i++ {
		// Alternate which goes first, so that warm-up favours neither.
		var n int64
		runPlain := func() {
			start := time.Now()
			var err error
			if n, err = plainCopy(ctx, emu.URLs()[0], "big", fmt.Sprintf("plain/%d/", i)); err != nil {
				b.Fatal(err)
			}
			plain += time.Since(start)
		}
		runBackup := func() {
			start := time.Now()
			req := request(fmt.Sprintf("bench-%d", i))
			req.Parallelism = benchShards
			m, err := backup.Run(ctx, qc, st, req)
			if err == nil {
				err = backup.Verify(ctx, st, req.Layout)
			}
			if err != nil {
				b.Fatal(err)
			}
			full += time.Since(start)
			if got := m.SizeBytes(); got < benchShards*benchPadding {
				b.Fatalf("backup moved %d bytes, want at least the padding", got)
			}
		}
		if i%2 == 0 {
			runPlain()
			runBackup()
		} else {
			runBackup()
			runPlain()
		}
		bytesMoved += n
	}
	mbps := func(d time.Duration) float64 { return float64(bytesMoved) / d.Seconds() / (1 << 20) }
	b.ReportMetric(mbps(plain), "plain-MiB/s")
	b.ReportMetric(mbps(full), "backup-MiB/s")
	b.ReportMetric(plain.Seconds()/full.Seconds(), "backup/plain")
}

// plainCopy streams every shard of a collection into the bucket with bare
// HTTP GETs and S3 multipart uploads, shards in parallel as the backup does.
func plainCopy(ctx context.Context, node, collection, prefix string) (int64, error) {
	c := s3.New(s3.Options{BaseEndpoint: aws.String(srv.Endpoint), Region: srv.Region, UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired, ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int64
	var firstErr error
	for shard := 0; shard < benchShards; shard++ {
		wg.Add(1)
		go func(shard int) {
			defer wg.Done()
			n, err := copyShard(ctx, c, fmt.Sprintf("%s/collections/%s/shards/%d/snapshot", node, collection, shard), prefix+strconv.Itoa(shard))
			mu.Lock()
			defer mu.Unlock()
			total += n
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}(shard)
	}
	wg.Wait()
	return total, firstErr
}

func copyShard(ctx context.Context, c *s3.Client, url, key string) (int64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Accept-Encoding", "identity")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close() //nolint:errcheck // Read-only.
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bench"), Key: aws.String(key)})
	if err != nil {
		return 0, err
	}
	// The same transfer settings as the backup's uploader (one part in
	// flight while the next is read), so the ratio shows what a backup adds.
	var (
		parts   []types.CompletedPart
		mu      sync.Mutex
		wg      sync.WaitGroup
		upErr   error
		total   int64
		buffers = make(chan []byte, 2)
		flight  = make(chan struct{}, 1)
	)
	for i := 0; i < 2; i++ {
		buffers <- make([]byte, benchPartSize)
	}
	for part := int32(1); ; part++ {
		buf := <-buffers
		n, err := io.ReadFull(res.Body, buf)
		if n > 0 {
			total += int64(n)
			flight <- struct{}{}
			wg.Add(1)
			go func(part int32, b []byte) {
				defer wg.Done()
				defer func() { <-flight; buffers <- b[:cap(b)] }()
				out, perr := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bench"), Key: aws.String(key), UploadId: up.UploadId, PartNumber: aws.Int32(part), Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b)))})
				mu.Lock()
				defer mu.Unlock()
				if perr != nil {
					upErr = perr
					return
				}
				parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(part)})
			}(part, buf[:n])
		} else {
			buffers <- buf
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	wg.Wait()
	if upErr != nil {
		return 0, upErr
	}
	sort.Slice(parts, func(i, j int) bool { return aws.ToInt32(parts[i].PartNumber) < aws.ToInt32(parts[j].PartNumber) })
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bench"), Key: aws.String(key), UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return total, err
}

// BenchmarkBackupPeakRSS backs up a 64 MiB and a 4 GiB collection, each in a
// process of its own (this test binary, re-executed) so that its peak
// resident memory (VmHWM) is the backup engine's alone: the emulator and the
// S3 server run elsewhere. Memory must not grow with the collection's size.
func BenchmarkBackupPeakRSS(b *testing.B) {
	ctx := context.Background()
	if err := srv.CreateBucket(ctx, "rss"); err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		b.Fatal(err)
	}
	peak := map[int64]float64{}
	for _, total := range []int64{64 << 20, 1 << 30, 4 << 30} {
		emu, err := qdrantemu.Start(qdrantemu.Options{Nodes: 3, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		// Four shards, transferred four at a time: with 16 MiB shards the
		// small backup already runs the pipeline in its steady state (two
		// parts per shard), so what is compared is growth with size alone.
		if err := emu.AddSample(qdrantemu.Sample{Name: "c", ShardNumber: 4, ReplicationFactor: 1, Points: 2000, Dim: 8}); err != nil {
			b.Fatal(err)
		}
		emu.SetSnapshotPadding("c", total/4)
		cmd := exec.Command(os.Args[0], "-test.run=^TestBackupProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "BACKUP_PROCESS_URLS="+strings.Join(emu.URLs(), ","), fmt.Sprintf("BACKUP_PROCESS_NAME=rss-%d", total),
			"S3_TEST_ENDPOINT="+srv.Endpoint, "S3_TEST_ACCESS="+srv.AccessKey, "S3_TEST_SECRET="+srv.SecretKey)
		out, err := cmd.CombinedOutput()
		emu.Close()
		if err != nil {
			b.Fatalf("backup process: %v\n%s", err, out)
		}
		b.Logf("%d bytes: %s", total, strings.Join(grepLines(string(out), "MiB=", "VmHWM"), "; "))
		_, after, ok := strings.Cut(string(out), "VmHWM-kB=")
		if !ok {
			b.Fatalf("no VmHWM in output:\n%s", out)
		}
		kb, _ := strconv.ParseFloat(strings.Fields(after)[0], 64)
		peak[total] = kb / 1024
	}
	b.Logf("peak RSS: %.1f MiB backing up 64 MiB, %.1f MiB backing up 1 GiB, %.1f MiB backing up 4 GiB", peak[64<<20], peak[1<<30], peak[4<<30])
	b.ReportMetric(peak[64<<20], "peakRSS-64MiB-MiB")
	b.ReportMetric(peak[1<<30], "peakRSS-1GiB-MiB")
	b.ReportMetric(peak[4<<30], "peakRSS-4GiB-MiB")
	b.ReportMetric((peak[4<<30]-peak[64<<20])/peak[64<<20]*100, "growth-64MiB-to-4GiB-%")
	// Memory is part buffers (two parts per shard in flight) plus the
	// garbage collector's slack, which fills as garbage accumulates: it
	// levels off below twice the live heap. Four times the data must not
	// come near four times the memory; buffering whole shards would.
	growth := (peak[4<<30] - peak[1<<30]) / peak[1<<30] * 100
	b.ReportMetric(growth, "growth-1GiB-to-4GiB-%")
	if growth >= 50 {
		b.Errorf("peak RSS grew %.1f%% from a 1 GiB to a 4 GiB backup: memory follows the data", growth)
	}
}

// TestBackupProcess is the child of BenchmarkBackupPeakRSS; it does nothing
// in a normal test run.
func TestBackupProcess(t *testing.T) {
	urls := os.Getenv("BACKUP_PROCESS_URLS")
	if urls == "" {
		t.Skip("runs as the child process of BenchmarkBackupPeakRSS")
	}
	ctx := context.Background()
	peers := strings.Split(urls, ",")
	qc, err := qdrantcluster.Connect(ctx, qdrantcluster.Options{URL: peers[0], PeerURLs: peers})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s3store.New(s3store.Config{Bucket: "rss", Endpoint: os.Getenv("S3_TEST_ENDPOINT"), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("S3_TEST_ACCESS"), os.Getenv("S3_TEST_SECRET"), "")})
	if err != nil {
		t.Fatal(err)
	}
	req := backup.Request{Layout: manifest.Layout{Namespace: "bench", Cluster: "rss", Backup: os.Getenv("BACKUP_PROCESS_NAME")}, Parallelism: 4}
	if _, err := backup.Run(ctx, qc, st, req); err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("heap-sys-MiB=%d heap-inuse-MiB=%d stack-MiB=%d total-alloc-MiB=%d num-gc=%d\n", ms.HeapSys>>20, ms.HeapInuse>>20, ms.StackSys>>20, ms.TotalAlloc>>20, ms.NumGC)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			fmt.Printf("VmHWM-kB=%s\n", strings.Fields(l)[1])
		}
	}
}

func grepLines(s string, subs ...string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(l, sub) {
				out = append(out, strings.TrimSpace(l))
				break
			}
		}
	}
	return out
}
