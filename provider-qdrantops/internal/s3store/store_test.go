package s3store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/qdrantops/qdrantops/cluster/s3server"
)

var srv *s3server.Server

func TestMain(m *testing.M) { s3server.Main(m, &srv) }

func newStore(t *testing.T, bucket string) *Store {
	t.Helper()
	if err := srv.CreateBucket(context.Background(), bucket); err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		t.Fatal(err)
	}
	s, err := New(Config{
		Bucket: bucket, Endpoint: srv.Endpoint, Region: srv.Region, UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		PartSize:    minPartSize, Concurrency: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pattern is a deterministic stream of n bytes.
type pattern struct{ n, off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	k := min(int64(len(b)), p.n-p.off)
	for i := int64(0); i < k; i++ {
		b[i] = byte((p.off + i) * 7 % 251)
	}
	p.off += k
	return int(k), nil
}

func sumOf(n int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, &pattern{n: n})
	return hex.EncodeToString(h.Sum(nil))
}

func TestPutStreamSizes(t *testing.T) {
	s := newStore(t, "sizes")
	ctx := context.Background()
	for name, n := range map[string]int64{
		"Empty": 0, "OneByte": 1, "ExactlyOnePart": minPartSize, "OnePartAndOneByte": minPartSize + 1, "ThreeAndAHalfParts": minPartSize*3 + minPartSize/2,
	} {
		t.Run(name, func(t *testing.T) {
			key := "sizes/" + name
			size, sum, err := s.PutStream(ctx, key, source(&pattern{n: n}))
			if err != nil {
				t.Fatal(err)
			}
			if size != n || sum != sumOf(n) {
				t.Errorf("PutStream: want %d bytes with sha256 %s, got %d, %s", n, sumOf(n), size, sum)
			}
			body, got, err := s.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			defer body.Close() //nolint:errcheck // Test.
			h := sha256.New()
			read, _ := io.Copy(h, body)
			if got != n || read != n || hex.EncodeToString(h.Sum(nil)) != sum {
				t.Errorf("Get: want %d bytes hashing to %s, got %d (%d read) hashing to %x", n, sum, got, read, h.Sum(nil))
			}
		})
	}
}

// source opens r, as a shard stream would be opened.
func source(r io.Reader) func(context.Context) (io.ReadCloser, error) {
	return func(context.Context) (io.ReadCloser, error) { return io.NopCloser(r), nil }
}

type failingReader struct {
	r     io.Reader
	after int64
	read  int64
	// err is what the reader fails with; a plain error unless set.
	err error
}

func (f *failingReader) Read(b []byte) (int, error) {
	if f.read >= f.after {
		if f.err != nil {
			return 0, f.err
		}
		return 0, errors.New("qdrant stream cut")
	}
	n, err := f.r.Read(b[:min(int64(len(b)), f.after-f.read)])
	f.read += int64(n)
	return n, err
}

func TestPutStreamFailureLeavesNothing(t *testing.T) {
	s := newStore(t, "failures")
	ctx := context.Background()
	_, _, err := s.PutStream(ctx, "cut/shard.snapshot", source(&failingReader{r: &pattern{n: 1 << 30}, after: minPartSize*2 + 100}))
	if err == nil || !strings.Contains(err.Error(), "qdrant stream cut") {
		t.Fatalf("PutStream of a failing stream: want its error, got %v", err)
	}
	if _, err := s.Head(ctx, "cut/shard.snapshot"); !IsNotFound(err) {
		t.Errorf("Head after a failed upload: want not found, got %v", err)
	}
	ups, err := s.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("failures")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("want no incomplete multipart upload left, got %d", len(ups.Uploads))
	}
}

func TestAbortUploadsAndDeletePrefix(t *testing.T) {
	s := newStore(t, "cleanup")
	ctx := context.Background()
	// A crash mid-upload leaves an incomplete multipart upload.
	if _, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("cleanup"), Key: aws.String("b1/collections/c/shards/0.snapshot")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1003; i++ {
		if err := s.PutBytes(ctx, fmt.Sprintf("b1/o%04d", i), []byte("x"), "text/plain"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutBytes(ctx, "b2/keep", []byte("x"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeletePrefix(ctx, "b1/")
	if err != nil || n != 1003 {
		t.Fatalf("DeletePrefix: want 1003 deleted, got %d, %v", n, err)
	}
	left, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].Key != "b2/keep" {
		t.Errorf("after DeletePrefix(b1/): want only b2/keep, got %v", left)
	}
	if n, err := s.AbortUploads(ctx, "b1/", nil); err != nil || n != 0 {
		t.Errorf("DeletePrefix must abort incomplete uploads; %d left (%v)", n, err)
	}
}

func TestPresignedURLServesTheObject(t *testing.T) {
	s := newStore(t, "presign")
	ctx := context.Background()
	if err := s.PutBytes(ctx, "a/b", []byte("shard bytes"), "application/octet-stream"); err != nil {
		t.Fatal(err)
	}
	u, err := s.Presign(ctx, "a/b", 60_000_000_000)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(u) //nolint:noctx,gosec // Test.
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close() //nolint:errcheck // Test.
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(b) != "shard bytes" {
		t.Errorf("GET presigned URL: want 200 'shard bytes', got %d %q", res.StatusCode, b)
	}
}

func TestCheckBucket(t *testing.T) {
	ctx := context.Background()
	if err := newStore(t, "present").CheckBucket(ctx); err != nil {
		t.Errorf("existing bucket: %v", err)
	}
	missing, _ := New(Config{Bucket: "absent", Endpoint: srv.Endpoint, UsePathStyle: true, Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, "")})
	if err := missing.CheckBucket(ctx); !IsNotFound(err) {
		t.Errorf("missing bucket: want not found, got %v", err)
	}
	wrong, _ := New(Config{Bucket: "present", Endpoint: srv.Endpoint, UsePathStyle: true, Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, "wrong-secret", "")})
	err := wrong.CheckBucket(ctx)
	if err == nil || strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("wrong credentials: want an error that does not echo the secret, got %v", err)
	}
}
