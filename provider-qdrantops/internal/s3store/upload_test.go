package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// A cut HTTP body reads as io.ErrUnexpectedEOF. Wherever the cut falls, in
// the first part (a single PUT), mid-way through a multipart upload or
// exactly on a part boundary, the upload fails and leaves nothing behind.
func TestPutStreamCutStreamIsAnError(t *testing.T) {
	s := newStore(t, "truncated")
	ctx := context.Background()
	for name, at := range map[string]int64{
		"InTheFirstPart":    1000,
		"MidMultipart":      minPartSize*2 + 100,
		"OnAPartBoundary":   minPartSize * 2,
		"AfterTheFirstPart": minPartSize,
	} {
		t.Run(name, func(t *testing.T) {
			key := "cut/" + name
			_, _, err := s.PutStream(ctx, key, source(&failingReader{r: &pattern{n: 1 << 30}, after: at, err: io.ErrUnexpectedEOF}))
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("PutStream of a stream cut after %d bytes: want io.ErrUnexpectedEOF, got %v", at, err)
			}
			if _, err := s.Head(ctx, key); !IsNotFound(err) {
				t.Errorf("Head after a cut stream: want not found, got %v", err)
			}
			ups, err := s.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("truncated"), Prefix: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			if len(ups.Uploads) != 0 {
				t.Errorf("want no incomplete multipart upload left, got %d", len(ups.Uploads))
			}
		})
	}
}

// recorder notes the checksum header of every PUT and, when corrupt is set,
// flips a byte of the body of part 2 on its way, after the checksum was
// computed: what a bad link or a bad proxy does.
type recorder struct {
	next    http.RoundTripper
	corrupt bool

	mu   sync.Mutex
	puts []string // "<what>: <x-amz-checksum-crc32c>"
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut {
		what := "object"
		if req.URL.Query().Has("partNumber") {
			what = "part " + req.URL.Query().Get("partNumber")
		}
		r.mu.Lock()
		r.puts = append(r.puts, what+": "+req.Header.Get("X-Amz-Checksum-Crc32c"))
		r.mu.Unlock()
		if r.corrupt && req.URL.Query().Get("partNumber") == "2" {
			b, err := io.ReadAll(req.Body)
			if err != nil {
				return nil, err
			}
			b[100] ^= 0xff
			req.Body = io.NopCloser(bytes.NewReader(b))
		}
	}
	return r.next.RoundTrip(req)
}

// Every part and every single PUT carries a CRC32C, and S3 refuses a part
// that was damaged on its way.
func TestPutStreamSendsChecksums(t *testing.T) {
	if err := srv.CreateBucket(context.Background(), "checksums"); err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		t.Fatal(err)
	}
	rec := &recorder{next: http.DefaultTransport}
	s, err := New(Config{
		Bucket: "checksums", Endpoint: srv.Endpoint, Region: srv.Region, UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		PartSize:    minPartSize, HTTPClient: &http.Client{Transport: rec},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, n := range map[string]int64{"SinglePut": 1000, "Multipart": minPartSize*2 + 1} {
		t.Run(name, func(t *testing.T) {
			rec.mu.Lock()
			rec.puts = nil
			rec.mu.Unlock()
			if _, _, err := s.PutStream(ctx, "sum/"+name, source(&pattern{n: n})); err != nil {
				t.Fatal(err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.puts) == 0 {
				t.Fatal("no PUT seen")
			}
			for _, p := range rec.puts {
				if strings.HasSuffix(p, ": ") {
					t.Errorf("%s was sent without a CRC32C", strings.TrimSuffix(p, ": "))
				}
			}
		})
	}
	rec.corrupt = true
	_, _, err = s.PutStream(ctx, "sum/damaged", source(&pattern{n: minPartSize*3 + 1}))
	if err == nil {
		t.Error("a part damaged on its way was accepted")
	}
	if _, err := s.Head(ctx, "sum/damaged"); !IsNotFound(err) {
		t.Errorf("Head after a damaged upload: want not found, got %v", err)
	}
}

// Uploads that share a budget of two parts all finish, however many run at
// once, and a waiting upload does not open its source before it holds
// memory.
func TestBudgetIsSharedAndNeverDeadlocks(t *testing.T) {
	if err := srv.CreateBucket(context.Background(), "budget"); err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		t.Fatal(err)
	}
	budget, err := NewBudget(2*minPartSize, minPartSize)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{
		Bucket: "budget", Endpoint: srv.Endpoint, Region: srv.Region, UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		Concurrency: 4, Budget: budget,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Hold the whole budget: an upload must wait without opening its source.
	var held [][]byte
	for range 2 {
		b, err := budget.acquire(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, b)
	}
	opened := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, _, err := s.PutStream(ctx, "wait/0", func(context.Context) (io.ReadCloser, error) {
			close(opened)
			return io.NopCloser(&pattern{n: 100}), nil
		})
		done <- err
	}()
	select {
	case <-opened:
		t.Fatal("the source was opened while the budget was spent")
	case <-time.After(200 * time.Millisecond):
	}
	for _, b := range held {
		budget.release(b, "")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(minPartSize*3 + i)
			size, sum, err := s.PutStream(ctx, fmt.Sprintf("many/%d", i), source(&pattern{n: n}))
			if err == nil && (size != n || sum != sumOf(n)) {
				err = fmt.Errorf("upload %d: %d bytes, sha256 %s", i, size, sum)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := budget.lent(); n != 0 {
		t.Errorf("%d buffers still lent out after every upload finished", n)
	}
}

func TestNewBudgetRefusesLessThanOnePart(t *testing.T) {
	if _, err := NewBudget(minPartSize-1, minPartSize); err == nil {
		t.Error("NewBudget: want an error for a budget smaller than one part")
	}
}

// One owner holds at most its share of the budget; others still get theirs.
func TestBudgetSharesBetweenOwners(t *testing.T) {
	budget, err := NewBudget(8*minPartSize, minPartSize)
	if err != nil {
		t.Fatal(err)
	}
	var greedy [][]byte
	for {
		b, ok := budget.tryAcquire("team-greedy")
		if !ok {
			break
		}
		greedy = append(greedy, b)
	}
	if len(greedy) != 2 {
		t.Errorf("one owner got %d of 8 buffers; want its share of 2", len(greedy))
	}
	if _, ok := budget.tryAcquire("team-other"); !ok {
		t.Error("another owner got nothing while the budget had buffers to spare")
	}
	// A waiting owner gets a buffer as soon as one of its own comes back.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan error, 1)
	go func() {
		_, err := budget.acquire(ctx, "team-greedy")
		got <- err
	}()
	budget.release(greedy[0], "team-greedy")
	if err := <-got; err != nil {
		t.Errorf("acquire after a release of the owner's own buffer: %v", err)
	}
}
