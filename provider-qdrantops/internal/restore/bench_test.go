package restore_test

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/backup"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/manifest"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrantcluster"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/restore"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/s3store"
)

const (
	benchShards  = 4
	benchPadding = 64 << 20 // per shard
	// benchRounds of plain copy and restore, alternating which goes first:
	// an odd number, so that the median is one round's figure.
	benchRounds = 5
	// benchBudget and benchPartSize are the provider's defaults.
	benchBudget   = 256 << 20
	benchPartSize = 8 << 20
)

// BenchmarkRestoreVsPlainUpload restores the same shard snapshots from the S3
// server into the emulator benchRounds times each way: once as a plain copy
// (S3 GET piped into Qdrant's shard upload, nothing else) and once as a
// restore with the Upload method (manifest, collection creation, budgeted
// reads, sha256 and size checks, replica wait, count verification). Rounds
// alternate which goes first. Each side's throughput is its own bytes over
// its own time; the ratio printed is the median of the rounds' ratios. Then
// the same restore by presigned URL is timed against the upload.
func BenchmarkRestoreVsPlainUpload(b *testing.B) {
	ctx := context.Background()
	src, err := qdrantemu.Start(qdrantemu.Options{Nodes: 1, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	if err := src.AddSample(qdrantemu.Sample{Name: "big", ShardNumber: benchShards, ReplicationFactor: 1, Points: 1000, Dim: 4}); err != nil {
		b.Fatal(err)
	}
	src.SetSnapshotPadding("big", benchPadding)
	dst, err := qdrantemu.Start(qdrantemu.Options{Nodes: 1, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer dst.Close()
	if err := srv.CreateBucket(ctx, "bench-restore"); err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		b.Fatal(err)
	}
	budget, err := s3store.NewBudget(benchBudget, benchPartSize)
	if err != nil {
		b.Fatal(err)
	}
	st, err := s3store.New(s3store.Config{Bucket: "bench-restore", Endpoint: srv.Endpoint, UsePathStyle: true, Region: srv.Region,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""), Budget: budget, PartSize: benchPartSize})
	if err != nil {
		b.Fatal(err)
	}
	qc, err := qdrantcluster.Connect(ctx, qdrantcluster.Options{URL: src.URLs()[0]})
	if err != nil {
		b.Fatal(err)
	}
	l := manifest.Layout{Prefix: "bench/", Namespace: "team-a", Cluster: "big", Backup: "b"}
	m, err := backup.Run(ctx, qc, st, backup.Request{Layout: l, Backup: manifest.BackupRef{Namespace: "team-a", Name: "b", UID: "uid-b"}, Cluster: "big", Parallelism: benchShards})
	if err != nil {
		b.Fatal(err)
	}
	dc, err := qdrantcluster.Connect(ctx, qdrantcluster.Options{URL: dst.URLs()[0]})
	if err != nil {
		b.Fatal(err)
	}
	target := qdrantcluster.NewTarget(dc)
	run := func(method restore.Method, as string) side {
		return timed(func() (int64, error) {
			st, err := restore.Run(ctx, target, st, restore.Request{Root: l.Root(), BackupUID: "uid-b", Method: method, Parallelism: benchShards,
				Mappings: map[string]string{"big": as}, SamplePoints: 100, PollInterval: 10 * time.Millisecond})
			if err != nil {
				return 0, err
			}
			if st.BytesUploaded+st.BytesByURL != m.SizeBytes() {
				return 0, fmt.Errorf("moved %d bytes, the backup holds %d", st.BytesUploaded+st.BytesByURL, m.SizeBytes())
			}
			_, err = target.Count(ctx, as)
			return m.SizeBytes(), err
		})
	}
	var ratios, byURL, byUpload []float64
	for i := 0; i < b.N; i++ {
		for round := 0; round < benchRounds; round++ {
			var plain, full side
			name := fmt.Sprintf("r%d-%d", i, round)
			runPlain := func() {
				plain = timed(func() (int64, error) { return plainUpload(ctx, dst.URLs()[0], l.Root(), m, "plain-"+name) })
			}
			runRestore := func() { full = run(restore.MethodUpload, "upload-"+name) }
			if round%2 == 0 {
				runPlain()
				runRestore()
			} else {
				runRestore()
				runPlain()
			}
			url := run(restore.MethodURL, "url-"+name)
			for what, s := range map[string]side{"plain upload": plain, "restore": full, "restore by URL": url} {
				if s.err != nil {
					b.Fatalf("round %d, %s: %v", round, what, s.err)
				}
				if s.bytes < benchShards*benchPadding {
					b.Fatalf("round %d, %s moved %d bytes, want at least %d", round, what, s.bytes, benchShards*benchPadding)
				}
			}
			ratios = append(ratios, full.mibps()/plain.mibps())
			byURL = append(byURL, url.took.Seconds())
			byUpload = append(byUpload, full.took.Seconds())
			b.Logf("round %d: plain upload %v (%.0f MiB/s), restore by upload %v (%.0f MiB/s), by URL %v",
				round, plain.took.Round(time.Millisecond), plain.mibps(), full.took.Round(time.Millisecond), full.mibps(), url.took.Round(time.Millisecond))
			for _, c := range []string{"plain-" + name, "upload-" + name, "url-" + name} {
				if err := target.Delete(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	ratio := median(ratios)
	b.ReportMetric(ratio, "restore/plain")
	b.ReportMetric(median(byURL), "url-s")
	b.ReportMetric(median(byUpload), "upload-s")
	// One line each, for scripts: `make bench` keeps them in bench-results.txt.
	fmt.Printf("restore throughput ratio: %.3f\n", ratio)
	fmt.Printf("restore time of %d MiB: by URL %.2f s, by upload %.2f s\n", m.SizeBytes()>>20, median(byURL), median(byUpload))
}

// plainUpload creates the collection and pipes every shard object from S3
// into Qdrant's shard upload, shards in parallel as the restore does.
func plainUpload(ctx context.Context, node, root string, m manifest.Manifest, collection string) (int64, error) {
	c := s3.New(s3.Options{BaseEndpoint: aws.String(srv.Endpoint), Region: srv.Region, UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired, ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired})
	body := fmt.Sprintf(`{"vectors":{"size":4,"distance":"Cosine"},"shard_number":%d}`, benchShards)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, node+"/collections/"+collection, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_ = res.Body.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int64
	var firstErr error
	for _, sh := range m.Collections[0].Shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := pipeShard(ctx, c, root+sh.Object, fmt.Sprintf("%s/collections/%s/shards/%d/snapshots/upload?wait=true&priority=snapshot", node, collection, sh.ID))
			mu.Lock()
			defer mu.Unlock()
			total += n
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	return total, firstErr
}

func pipeShard(ctx context.Context, c *s3.Client, key, url string) (int64, error) {
	obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bench-restore"), Key: aws.String(key)})
	if err != nil {
		return 0, err
	}
	defer obj.Body.Close() //nolint:errcheck // Read-only.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	copied := make(chan int64, 1)
	go func() {
		var n int64
		part, err := mw.CreateFormFile("snapshot", "shard.snapshot")
		if err == nil {
			n, err = io.Copy(part, obj.Body)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
		copied <- n
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close() //nolint:errcheck // Read-only.
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		return 0, fmt.Errorf("upload: %d %s", res.StatusCode, b)
	}
	return <-copied, nil
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
