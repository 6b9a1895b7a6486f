package backup_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
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
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrantcluster"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

const (
	benchShards   = 4
	benchPadding  = 64 << 20 // per shard
	benchPartSize = 8 << 20
	// benchRounds of plain copy and backup, alternating which goes first:
	// an odd number, so that the median is one round's figure.
	benchRounds = 7
	// benchBudget is the provider's default --max-transfer-memory.
	benchBudget = 256 << 20
)

// BenchmarkBackupVsPlainCopy moves the same shard snapshots from the emulator
// to the S3 server, benchRounds times each way: once as a plain streaming
// copy (GET, multipart upload, nothing else) and once as a backup (planning,
// sha256, tar end check, checksums, sidecars, manifest, verification of
// sizes). Rounds alternate which goes first, so that neither always runs on
// a warm page cache or a cold one. Each side's throughput is its own bytes
// over its own time; the ratio printed is the median of the rounds' ratios.
// Then each backup is verified in full (every object read back and hashed),
// and its time is printed relative to the backup's.
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
	budget, err := s3store.NewBudget(benchBudget, benchPartSize)
	if err != nil {
		b.Fatal(err)
	}
	st, err := s3store.New(s3store.Config{Bucket: "bench", Endpoint: srv.Endpoint, UsePathStyle: true, Region: srv.Region,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""), Budget: budget})
	if err != nil {
		b.Fatal(err)
	}
	qc, err := qdrantcluster.Connect(ctx, qdrantcluster.Options{URL: emu.URLs()[0]})
	if err != nil {
		b.Fatal(err)
	}

	var ratios, plainMiBs, backupMiBs, verifyCosts []float64
	for i := 0; i < b.N; i++ {
		for round := 0; round < benchRounds; round++ {
			var plain, full side
			runPlain := func() {
				plain = timed(func() (int64, error) {
					return plainCopy(ctx, emu.URLs()[0], "big", fmt.Sprintf("plain/%d-%d/", i, round))
				})
			}
			req := request(fmt.Sprintf("bench-%d-%d", i, round))
			req.Backup.UID = fmt.Sprintf("uid-bench-%d-%d", i, round)
			req.Parallelism = benchShards
			runBackup := func() {
				full = timed(func() (int64, error) {
					m, err := backup.Run(ctx, qc, st, req)
					if err != nil {
						return 0, err
					}
					_, err = backup.Verify(ctx, st, req.Layout, req.Backup.UID, backup.VerifySizes)
					return m.SizeBytes(), err
				})
			}
			if round%2 == 0 {
				runPlain()
				runBackup()
			} else {
				runBackup()
				runPlain()
			}
			for name, s := range map[string]side{"plain copy": plain, "backup": full} {
				if s.err != nil {
					b.Fatalf("round %d, %s: %v", round, name, s.err)
				}
				// Both move the same four snapshots; a side that moved less
				// would look faster than it is.
				if s.bytes < benchShards*benchPadding {
					b.Fatalf("round %d, %s moved %d bytes, want at least the padding (%d)", round, name, s.bytes, benchShards*benchPadding)
				}
			}
			verify := timed(func() (int64, error) {
				v, err := backup.Verify(ctx, st, req.Layout, req.Backup.UID, backup.VerifyContent)
				return v.Bytes, err
			})
			if verify.err != nil {
				b.Fatalf("round %d, full verification: %v", round, verify.err)
			}
			if verify.bytes != full.bytes {
				b.Fatalf("round %d: full verification read %d bytes, the backup wrote %d", round, verify.bytes, full.bytes)
			}
			ratios = append(ratios, full.mibps()/plain.mibps())
			plainMiBs = append(plainMiBs, plain.mibps())
			backupMiBs = append(backupMiBs, full.mibps())
			verifyCosts = append(verifyCosts, verify.took.Seconds()/full.took.Seconds()*100)
			b.Logf("round %d: plain copy %d bytes in %v (%.0f MiB/s), backup %d bytes in %v (%.0f MiB/s), full verification %v",
				round, plain.bytes, plain.took.Round(time.Millisecond), plain.mibps(), full.bytes, full.took.Round(time.Millisecond), full.mibps(), verify.took.Round(time.Millisecond))
			// Later rounds write into a bucket no fuller than the first did.
			if _, err := st.DeletePrefix(ctx, ""); err != nil {
				b.Fatal(err)
			}
		}
	}
	ratio := median(ratios)
	b.ReportMetric(median(plainMiBs), "plain-MiB/s")
	b.ReportMetric(median(backupMiBs), "backup-MiB/s")
	b.ReportMetric(ratio, "backup/plain")
	b.ReportMetric(median(verifyCosts), "verify-full-%")
	// One line each, for scripts: `make bench` keeps them in bench-results.txt.
	fmt.Printf("throughput ratio: %.3f\n", ratio)
	fmt.Printf("verify full cost: %.0f%% of backup time\n", median(verifyCosts))
}

// side is one timed transfer.
type side struct {
	bytes int64
	took  time.Duration
	err   error
}

func (s side) mibps() float64 { return float64(s.bytes) / s.took.Seconds() / (1 << 20) }

func timed(f func() (int64, error)) side {
	start := time.Now()
	n, err := f()
	return side{bytes: n, took: time.Since(start), err: err}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
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
