package qdrant_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrant"
)

// heapSampler records the peak HeapInuse seen by polling, since a transfer
// that buffered its body would show up only while it runs.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

func sampleHeap(every time.Duration) *heapSampler {
	s := &heapSampler{stop: make(chan struct{})}
	s.sample()
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *heapSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.peak = max(s.peak, ms.HeapInuse)
}

// Peak stops sampling and returns the highest HeapInuse seen.
func (s *heapSampler) Peak() uint64 {
	close(s.stop)
	s.done.Wait()
	s.sample()
	return s.peak
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// pipeShard streams a shard snapshot from one cluster straight into another,
// as a backup streams to S3 and a restore uploads from it.
func pipeShard(ctx context.Context, from, to *qdrant.Client, collection string, shard uint32) (int64, error) {
	d, err := from.StreamShardSnapshot(ctx, collection, shard)
	if err != nil {
		return 0, fmt.Errorf("cannot open the shard stream: %w", err)
	}
	defer d.Body.Close() //nolint:errcheck // read-only body
	body := &countingReader{r: d.Body}
	opts := qdrant.UploadOptions{Priority: qdrant.PrioritySnapshot, Wait: true}
	if err := to.UploadShardSnapshot(ctx, collection, shard, body, d.Filename, opts); err != nil {
		return body.n, fmt.Errorf("cannot upload the shard stream: %w", err)
	}
	return body.n, nil
}

func BenchmarkShardSnapshotStream1GiB(b *testing.B) {
	const (
		col     = "big"
		points  = 1000
		padding = 1 << 30
		// maxGrowth is far below the snapshot size: anything close to it
		// means some layer buffers the body.
		maxGrowth = 64 << 20
	)
	ctx := b.Context()
	// Two single-node clusters, each in its own b.TempDir: the upload is
	// spooled to the target's disk (1 GiB per iteration, deleted after it).
	src := startEmulator(b, qdrantemu.Options{Nodes: 1})
	dst := startEmulator(b, qdrantemu.Options{Nodes: 1})
	from, to := newClient(b, src.URLs()[0]), newClient(b, dst.URLs()[0])
	for _, c := range []*qdrant.Client{from, to} {
		if err := c.CreateCollection(ctx, col, collectionSpec(1, 1)); err != nil {
			b.Fatalf("cannot create %q on %s: %v", col, c.BaseURL(), err)
		}
	}
	upsert(b, ctx, from, col, 1, points)
	src.SetSnapshotPadding(col, padding)

	var moved int64
	var peakGrowth uint64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		heap := sampleHeap(5 * time.Millisecond)
		b.StartTimer()

		n, err := pipeShard(ctx, from, to, col, 0)

		b.StopTimer()
		peak := heap.Peak()
		if err != nil {
			b.Fatalf("cannot pipe the shard snapshot: %v", err)
		}
		growth := uint64(0)
		if peak > base {
			growth = peak - base
		}
		peakGrowth = max(peakGrowth, growth)
		if growth >= maxGrowth {
			b.Fatalf("heap grew by %.1f MiB while piping %d bytes: want under %d MiB, so the body is buffered somewhere", float64(growth)/(1<<20), n, maxGrowth>>20)
		}
		if n < padding {
			b.Fatalf("piped %d bytes: want at least the %d bytes of padding", n, padding)
		}
		// The target recovered what left the source. Qdrant deletes an
		// uploaded shard snapshot once recovered, so there is no file to
		// read back: its points are the proof.
		if got, err := to.Count(ctx, col, true); err != nil || got != points {
			b.Fatalf("count on the target: want %d, got %d, %v", points, got, err)
		}
		moved += n
		b.StartTimer()
	}
	b.SetBytes(moved / int64(b.N))
	b.ReportMetric(float64(peakGrowth)/(1<<20), "heap-growth-MiB")
}
