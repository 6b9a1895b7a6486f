package s3store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/restore"
)

// A Store is what a restore reads a backup from.
var _ restore.Store = (*Store)(nil)

// newOpenStore is a store on bucket with cfg's changes, its part size S3's
// minimum.
func newOpenStore(t *testing.T, bucket string, change func(*Config)) *Store {
	t.Helper()
	if err := srv.CreateBucket(context.Background(), bucket); err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		t.Fatal(err)
	}
	cfg := Config{
		Bucket: bucket, Endpoint: srv.Endpoint, Region: srv.Region, UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
		PartSize:    minPartSize,
	}
	if change != nil {
		change(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bodies changes the bodies of object GETs on their way from the S3 server,
// and counts the GETs.
type bodies struct {
	next http.RoundTripper
	wrap func(req *http.Request, body io.ReadCloser) io.ReadCloser
	gets atomic.Int32
}

func (b *bodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || !strings.Contains(req.URL.RawQuery, "x-id=GetObject") {
		return resp, err
	}
	b.gets.Add(1)
	if b.wrap != nil {
		resp.Body = b.wrap(req, resp.Body)
	}
	return resp, nil
}

func withBodies(b *bodies) func(*Config) {
	return func(cfg *Config) {
		b.next = http.DefaultTransport
		cfg.HTTPClient = &http.Client{Transport: b}
	}
}

// sizes records the length of every Read asked of a body.
type sizes struct {
	io.ReadCloser
	mu  sync.Mutex
	max int
}

func (s *sizes) Read(p []byte) (int, error) {
	s.mu.Lock()
	s.max = max(s.max, len(p))
	s.mu.Unlock()
	return s.ReadCloser.Read(p)
}

func readAll(t *testing.T, r io.Reader, chunk int) (int64, string, error) {
	t.Helper()
	h := sha256.New()
	n, err := io.CopyBuffer(h, struct{ io.Reader }{r}, make([]byte, chunk))
	return n, hex.EncodeToString(h.Sum(nil)), err
}

func TestOpenStreamsThroughOneBudgetBuffer(t *testing.T) {
	rec := &bodies{}
	var body *sizes
	rec.wrap = func(_ *http.Request, b io.ReadCloser) io.ReadCloser {
		body = &sizes{ReadCloser: b}
		return body
	}
	budget, err := NewBudget(4*minPartSize, minPartSize)
	if err != nil {
		t.Fatal(err)
	}
	s := newOpenStore(t, "open", func(cfg *Config) { cfg.Budget = budget; withBodies(rec)(cfg) })
	ctx := context.Background()
	const n = minPartSize*3 + minPartSize/2
	if _, _, err := s.PutStream(ctx, "o/shard.snapshot", source(&pattern{n: n})); err != nil {
		t.Fatal(err)
	}

	r, err := s.Open(ctx, "o/shard.snapshot")
	if err != nil {
		t.Fatal(err)
	}
	if got := budget.lent(); got != 1 {
		t.Errorf("an open object holds one buffer of the budget, got %d", got)
	}
	// The consumer reads in small pieces, as io.Copy does; the S3 body is
	// still read a buffer at a time.
	read, sum, err := readAll(t, r, 32<<10)
	if err != nil || read != n || sum != sumOf(n) {
		t.Errorf("reading the object: want %d bytes hashing to %s, got %d, %s, %v", int64(n), sumOf(n), read, sum, err)
	}
	if body.max != minPartSize {
		t.Errorf("the S3 body must be read into the part-sized buffer: largest read asked %d bytes, want %d", body.max, minPartSize)
	}
	if got := budget.lent(); got != 1 {
		t.Errorf("the buffer is held until Close, got %d lent", got)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	_ = r.Close()
	if got := budget.lent(); got != 0 {
		t.Errorf("Close, twice, gives the buffer back exactly once: want 0 lent, got %d", got)
	}
	if _, err := r.Read(make([]byte, 1)); err == nil {
		t.Error("Read after Close succeeded, want an error")
	}
}

func TestOpenWaitsForTransferMemory(t *testing.T) {
	rec := &bodies{}
	budget, err := NewBudget(minPartSize, minPartSize) // One buffer.
	if err != nil {
		t.Fatal(err)
	}
	s := newOpenStore(t, "openwait", func(cfg *Config) { cfg.Budget = budget; withBodies(rec)(cfg) })
	ctx := context.Background()
	if err := s.PutBytes(ctx, "k", []byte("shard"), "application/octet-stream"); err != nil {
		t.Fatal(err)
	}
	first, err := s.Open(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}

	// The budget is spent: a second Open waits, and gives up with its context
	// without having sent a GET.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := s.Open(short, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Open with the budget spent: want the context's deadline, got %v", err)
	}
	if got := rec.gets.Load(); got != 1 {
		t.Errorf("an Open waiting for memory must not open its download: want 1 GET, got %d", got)
	}

	// It goes on as soon as the first one is closed.
	done := make(chan error, 1)
	go func() {
		r, err := s.Open(ctx, "k")
		if err == nil {
			b, rerr := io.ReadAll(r)
			if rerr == nil && string(b) != "shard" {
				rerr = errors.New("read " + string(b))
			}
			err = errors.Join(rerr, r.Close())
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Open returned (%v) while the only buffer was held", err)
	case <-time.After(100 * time.Millisecond):
	}
	_ = first.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Open after the buffer came back: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Open still waits after the buffer came back")
	}
	if got := budget.lent(); got != 0 {
		t.Errorf("want every buffer back, %d lent", got)
	}
}

func TestOpenKeepsWithinTheOwnersShare(t *testing.T) {
	budget, err := NewBudget(4*minPartSize, minPartSize) // An owner may hold one.
	if err != nil {
		t.Fatal(err)
	}
	s := newOpenStore(t, "openshare", func(cfg *Config) { cfg.Budget = budget })
	ctx := context.Background()
	if err := s.PutBytes(ctx, "k", []byte("shard"), "application/octet-stream"); err != nil {
		t.Fatal(err)
	}
	a, err := s.Open(WithOwner(ctx, "tenant-a"), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close() //nolint:errcheck // Test.
	short, cancel := context.WithTimeout(WithOwner(ctx, "tenant-a"), 200*time.Millisecond)
	defer cancel()
	if _, err := s.Open(short, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a second Open of an owner at its share: want it to wait, got %v", err)
	}
	b, err := s.Open(WithOwner(ctx, "tenant-b"), "k")
	if err != nil {
		t.Fatalf("another owner must not wait for tenant-a: %v", err)
	}
	_ = b.Close()
}

func TestOpenMissingObjectGivesTheBufferBack(t *testing.T) {
	budget, err := NewBudget(minPartSize, minPartSize)
	if err != nil {
		t.Fatal(err)
	}
	s := newOpenStore(t, "openmissing", func(cfg *Config) { cfg.Budget = budget })
	if _, err := s.Open(context.Background(), "absent"); !IsNotFound(err) {
		t.Errorf("Open of a missing object: want not found, got %v", err)
	}
	if got := budget.lent(); got != 0 {
		t.Errorf("a failed Open must give its buffer back: %d lent", got)
	}
}

// truncated ends a body with a clean io.EOF after n bytes, as a broken proxy
// may.
type truncated struct {
	io.ReadCloser
	n int64
}

func (t *truncated) Read(p []byte) (int, error) {
	if t.n <= 0 {
		return 0, io.EOF
	}
	k, err := t.ReadCloser.Read(p[:min(int64(len(p)), t.n)])
	t.n -= int64(k)
	return k, err
}

// cuttingProxy forwards TCP connections to the S3 server and closes each
// one after n bytes of the server's answer, headers included.
func cuttingProxy(t *testing.T, n int64) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	target := strings.TrimPrefix(srv.Endpoint, "http://")
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close() //nolint:errcheck // Test.
				up, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", target)
				if err != nil {
					return
				}
				defer up.Close() //nolint:errcheck // Test.
				go func() { _, _ = io.Copy(up, c) }()
				_, _ = io.CopyN(c, up, n)
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

func TestOpenCutObjectIsUnexpectedEOF(t *testing.T) {
	const size = minPartSize + 1000
	seed := newOpenStore(t, "opencut", nil)
	if _, _, err := seed.PutStream(context.Background(), "k", source(&pattern{n: size})); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		reason string
		change func(*Config)
	}{
		"ConnectionCut": {
			reason: "The connection to the store closes mid-body.",
			change: func(cfg *Config) { cfg.Endpoint = cuttingProxy(t, 100_000) },
		},
		"CleanEOFBeforeContentLength": {
			reason: "A body that ends cleanly before its Content-Length is as cut as one that breaks.",
			change: withBodies(&bodies{wrap: func(_ *http.Request, b io.ReadCloser) io.ReadCloser { return &truncated{ReadCloser: b, n: 100_000} }}),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			budget, err := NewBudget(minPartSize, minPartSize)
			if err != nil {
				t.Fatal(err)
			}
			s := newOpenStore(t, "opencut", func(cfg *Config) { cfg.Budget = budget; tc.change(cfg) })
			r, err := s.Open(context.Background(), "k")
			if err != nil {
				t.Fatal(err)
			}
			n, _, err := readAll(t, r, 32<<10)
			if !errors.Is(err, io.ErrUnexpectedEOF) || n >= size {
				t.Errorf("%s\nreading a cut object: want io.ErrUnexpectedEOF before %d bytes, got %d bytes, %v", tc.reason, size, n, err)
			}
			_ = r.Close()
			if got := budget.lent(); got != 0 {
				t.Errorf("%s\nClose after a failure must give the buffer back: %d lent", tc.reason, got)
			}
		})
	}
}

// stalling delivers n bytes of a body, then blocks until its request ends,
// as a store that stops sending does.
type stalling struct {
	io.ReadCloser
	ctx context.Context
	n   int64
}

func (s *stalling) Read(p []byte) (int, error) {
	if s.n <= 0 {
		<-s.ctx.Done()
		return 0, s.ctx.Err()
	}
	k, err := s.ReadCloser.Read(p[:min(int64(len(p)), s.n)])
	s.n -= int64(k)
	return k, err
}

func TestOpenStalledDownloadFails(t *testing.T) {
	const idle = 200 * time.Millisecond
	rec := &bodies{wrap: func(req *http.Request, b io.ReadCloser) io.ReadCloser {
		return &stalling{ReadCloser: b, ctx: req.Context(), n: 1000}
	}}
	s := newOpenStore(t, "openstall", func(cfg *Config) {
		cfg.Timeouts.IdleRead = idle
		withBodies(rec)(cfg)
	})
	ctx := context.Background()
	if _, _, err := s.PutStream(ctx, "k", source(&pattern{n: 10_000})); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close() //nolint:errcheck // Test.
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, _, err := readAll(t, r, 32<<10)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "stalled") {
			t.Errorf("a stalled download: want a cut naming the stall, got %v", err)
		}
		if d := time.Since(start); d < idle {
			t.Errorf("the download failed after %s, before the idle timeout of %s", d, idle)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled download was not failed")
	}
}

func TestOpenCallerPausesDoNotCount(t *testing.T) {
	// Qdrant may take a while to accept the next bytes of an upload: that is
	// no stall of the store.
	const idle = 100 * time.Millisecond
	s := newOpenStore(t, "openpause", func(cfg *Config) {
		cfg.Timeouts.IdleRead = idle
		cfg.PartSize = minPartSize
	})
	ctx := context.Background()
	const n = 3 * minPartSize
	if _, _, err := s.PutStream(ctx, "k", source(&pattern{n: n})); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close() //nolint:errcheck // Test.
	h := sha256.New()
	buf := make([]byte, minPartSize)
	var total int64
	for {
		k, err := r.Read(buf)
		h.Write(buf[:k])
		total += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", total, err)
		}
		time.Sleep(3 * idle)
	}
	if got := hex.EncodeToString(h.Sum(nil)); total != n || got != sumOf(n) {
		t.Errorf("want %d bytes hashing to %s, got %d hashing to %s", int64(n), sumOf(n), total, got)
	}
}
