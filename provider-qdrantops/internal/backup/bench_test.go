package backup_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
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
	benchPartSize = 16 << 20
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
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""), PartSize: benchPartSize, Concurrency: 2})
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
		start := time.Now()
		n, err := plainCopy(ctx, emu.URLs()[0], "big", fmt.Sprintf("plain/%d/", i))
		if err != nil {
			b.Fatal(err)
		}
		plain += time.Since(start)
		bytesMoved += n

		start = time.Now()
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
		if m.SizeBytes() != n {
			b.Fatalf("backup moved %d bytes, plain copy %d", m.SizeBytes(), n)
		}
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
	var parts []types.CompletedPart
	buf := make([]byte, benchPartSize)
	var total int64
	for part := int32(1); ; part++ {
		n, err := io.ReadFull(res.Body, buf)
		if n > 0 {
			out, perr := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bench"), Key: aws.String(key), UploadId: up.UploadId, PartNumber: aws.Int32(part), Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n))})
			if perr != nil {
				return 0, perr
			}
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(part)})
			total += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
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
	for _, total := range []int64{64 << 20, 4 << 30} {
		emu, err := qdrantemu.Start(qdrantemu.Options{Nodes: 3, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		if err := emu.AddSample(qdrantemu.Sample{Name: "c", ShardNumber: 8, ReplicationFactor: 1, Points: 2000, Dim: 8}); err != nil {
			b.Fatal(err)
		}
		emu.SetSnapshotPadding("c", total/8)
		cmd := exec.Command(os.Args[0], "-test.run=^TestBackupProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "BACKUP_PROCESS_URLS="+strings.Join(emu.URLs(), ","), fmt.Sprintf("BACKUP_PROCESS_NAME=rss-%d", total),
			"S3_TEST_ENDPOINT="+srv.Endpoint, "S3_TEST_ACCESS="+srv.AccessKey, "S3_TEST_SECRET="+srv.SecretKey)
		out, err := cmd.CombinedOutput()
		emu.Close()
		if err != nil {
			b.Fatalf("backup process: %v\n%s", err, out)
		}
		_, after, ok := strings.Cut(string(out), "VmHWM-kB=")
		if !ok {
			b.Fatalf("no VmHWM in output:\n%s", out)
		}
		kb, _ := strconv.ParseFloat(strings.Fields(after)[0], 64)
		peak[total] = kb / 1024
	}
	growth := (peak[4<<30] - peak[64<<20]) / peak[64<<20] * 100
	b.ReportMetric(peak[64<<20], "peakRSS-64MiB-MiB")
	b.ReportMetric(peak[4<<30], "peakRSS-4GiB-MiB")
	b.ReportMetric(growth, "growth-%")
	if growth >= 10 {
		b.Errorf("peak RSS grew %.1f%% from a 64 MiB to a 4 GiB backup; want < 10%%", growth)
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
