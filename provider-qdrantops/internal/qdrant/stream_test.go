package qdrant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// receivedPart is what the fake saw of a multipart upload.
type receivedPart struct {
	ContentType string
	FormName    string
	FileName    string
	Size        int64
	SHA256      string
}

// multipartHandler reads an upload the way Qdrant does (streaming, part by
// part), records it, and answers true. started is closed once the first
// bytes of the file have arrived.
func multipartHandler(t *testing.T, mu *sync.Mutex, parts *[]receivedPart, started chan<- struct{}) http.HandlerFunc {
	var once sync.Once
	return func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			writeError(w, http.StatusBadRequest, "not multipart: "+err.Error())
			return
		}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			h := sha256.New()
			buf := make([]byte, 32<<10)
			var n int64
			for {
				k, rerr := p.Read(buf)
				if k > 0 {
					h.Write(buf[:k])
					n += int64(k)
					if started != nil {
						once.Do(func() { close(started) })
					}
				}
				if errors.Is(rerr, io.EOF) {
					break
				}
				if rerr != nil {
					t.Errorf("reading part: %v", rerr)
					return
				}
			}
			mu.Lock()
			*parts = append(*parts, receivedPart{
				ContentType: strings.SplitN(r.Header.Get("Content-Type"), ";", 2)[0],
				FormName:    p.FormName(), FileName: p.FileName(), Size: n, SHA256: hex.EncodeToString(h.Sum(nil)),
			})
			mu.Unlock()
		}
		writeResult(w, true)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestUploadSnapshot(t *testing.T) {
	type want struct {
		Requests []recorded
		Parts    []receivedPart
	}
	cases := map[string]struct {
		reason string
		call   func(ctx context.Context, c *Client, body io.Reader) error
		want   want
	}{
		"CollectionAllParams": {
			reason: "priority, checksum and wait are sent as Qdrant expects; the file part is named snapshot.",
			call: func(ctx context.Context, c *Client, body io.Reader) error {
				return c.UploadSnapshot(ctx, "c", body, "c-1.snapshot", UploadOptions{Priority: PrioritySnapshot, Checksum: "9f86", Wait: true})
			},
			want: want{
				Requests: []recorded{{Method: "POST", Path: "/collections/c/snapshots/upload",
					Query: url.Values{"priority": {"snapshot"}, "checksum": {"9f86"}, "wait": {"true"}}}},
				Parts: []receivedPart{{ContentType: "multipart/form-data", FormName: "snapshot", FileName: "c-1.snapshot", Size: 5, SHA256: sha256Hex("hello")}},
			},
		},
		"ShardNoSync": {
			reason: "Shard uploads use the shard path; empty options are left out but wait is explicit.",
			call: func(ctx context.Context, c *Client, body io.Reader) error {
				return c.UploadShardSnapshot(ctx, "my c", 2, body, "s.snapshot", UploadOptions{Priority: PriorityNoSync})
			},
			want: want{
				Requests: []recorded{{Method: "POST", Path: "/collections/my%20c/shards/2/snapshots/upload",
					Query: url.Values{"priority": {"no_sync"}, "wait": {"false"}}}},
				Parts: []receivedPart{{ContentType: "multipart/form-data", FormName: "snapshot", FileName: "s.snapshot", Size: 5, SHA256: sha256Hex("hello")}},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var parts []receivedPart
			c, f := newFake(t, multipartHandler(t, &mu, &parts, nil))
			if err := tc.call(t.Context(), c, strings.NewReader("hello")); err != nil {
				t.Fatalf("upload: %v", err)
			}
			mu.Lock()
			got := want{Requests: f.requests(), Parts: parts}
			mu.Unlock()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// patternReader produces size bytes of a deterministic pattern without
// holding them, optionally pausing once at pauseAt until resume is closed.
type patternReader struct {
	size, off int64
	pauseAt   int64
	resume    <-chan struct{}
	paused    bool
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.size {
		return 0, io.EOF
	}
	if p.resume != nil && !p.paused && p.off >= p.pauseAt {
		p.paused = true
		select {
		case <-p.resume:
		case <-time.After(20 * time.Second):
			return 0, errors.New("the server never saw the first bytes: the client buffers the body")
		}
	}
	n := int64(len(b))
	if limit := p.size - p.off; n > limit {
		n = limit
	}
	if p.resume != nil && !p.paused && p.off+n > p.pauseAt {
		n = p.pauseAt - p.off
	}
	for i := range n {
		b[i] = byte((p.off + i) * 7 % 251)
	}
	p.off += n
	return int(n), nil
}

func TestUploadStreams64MiB(t *testing.T) {
	const size = 64 << 20
	want := sha256.New()
	if _, err := io.Copy(want, &patternReader{size: size}); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	var mu sync.Mutex
	var parts []receivedPart
	c, _ := newFake(t, multipartHandler(t, &mu, &parts, started))

	// The reader stops after 1 MiB until the server has received file bytes:
	// a client that buffered the body before sending would never get there.
	body := &patternReader{size: size, pauseAt: 1 << 20, resume: started}
	if err := c.UploadSnapshot(t.Context(), "c", body, "big.snapshot", UploadOptions{Priority: PrioritySnapshot, Wait: true}); err != nil {
		t.Fatalf("UploadSnapshot(): %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	wantParts := []receivedPart{{ContentType: "multipart/form-data", FormName: "snapshot", FileName: "big.snapshot",
		Size: size, SHA256: hex.EncodeToString(want.Sum(nil))}}
	if diff := cmp.Diff(wantParts, parts); diff != "" {
		t.Errorf("received: -want, +got:\n%s", diff)
	}
}

// endlessReader counts reads and never ends.
type endlessReader struct{ reads atomic.Int64 }

func (e *endlessReader) Read(b []byte) (int, error) {
	e.reads.Add(1)
	clear(b)
	return len(b), nil
}

func TestUploadEndsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		// Read a little, cancel the caller's context, then drain until the
		// client drops the connection (the server notices nothing otherwise).
		_, _ = io.CopyN(io.Discard, r.Body, 1<<20)
		cancel()
		_, _ = io.Copy(io.Discard, r.Body)
	})
	body := &endlessReader{}
	err := c.UploadSnapshot(ctx, "c", body, "x.snapshot", UploadOptions{Priority: PrioritySnapshot})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("UploadSnapshot(): err = %v, want context.Canceled", err)
	}
	// The writer goroutine must stop pulling from the reader.
	time.Sleep(50 * time.Millisecond)
	before := body.reads.Load()
	time.Sleep(200 * time.Millisecond)
	if after := body.reads.Load(); after != before {
		t.Errorf("reader still read %d times after the upload returned: the goroutine leaked", after-before)
	}
}

func TestUploadEarlyRejection(t *testing.T) {
	c, f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		// Qdrant 1.18.1+ checks access before reading the body.
		writePlain(w, http.StatusForbidden, "Forbidden: Global manage access is required")
	})
	body := &patternReader{size: 256 << 20}
	err := c.UploadSnapshot(t.Context(), "c", body, "x.snapshot", UploadOptions{Priority: PrioritySnapshot})
	// net/http hands back the early answer instead of a broken pipe; the
	// upload must fail with it, not send 256 MiB, and not be retried.
	var forbidden *ForbiddenError
	if !errors.As(err, &forbidden) {
		t.Fatalf("UploadSnapshot(): err = %v, want *ForbiddenError", err)
	}
	if diff := cmp.Diff("Forbidden: Global manage access is required", forbidden.Message); diff != "" {
		t.Errorf("message: -want, +got:\n%s", diff)
	}
	if diff := cmp.Diff(1, len(f.requests())); diff != "" {
		t.Errorf("requests: -want, +got:\n%s", diff)
	}
	if body.off >= body.size {
		t.Errorf("the whole body was read although the server rejected it")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestUploadReaderError(t *testing.T) {
	c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		writeResult(w, true)
	})
	err := c.UploadSnapshot(t.Context(), "c", failingReader{}, "x.snapshot", UploadOptions{})
	want := `cannot upload snapshot "x.snapshot" to collection "c": cannot read the snapshot to upload: disk on fire`
	got := fmt.Sprint(err)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UploadSnapshot(): -want, +got:\n%s", diff)
	}
}

func TestUploadFilename(t *testing.T) {
	cases := map[string]struct {
		reason   string
		filename string
		want     string
	}{
		"Empty": {
			reason:   "Qdrant would store a nameless upload under a UUID that never lists.",
			filename: "",
			want:     `cannot upload snapshot "" to collection "c": cannot use an empty snapshot file name`,
		},
		"Path": {
			reason:   "The filename becomes a file in Qdrant's snapshot directory.",
			filename: "a/b.snapshot",
			want:     `cannot upload snapshot "a/b.snapshot" to collection "c": cannot use snapshot file name "a/b.snapshot": it contains a path separator or NUL`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeResult(w, true) })
			err := c.UploadSnapshot(t.Context(), "c", strings.NewReader("x"), tc.filename, UploadOptions{})
			if diff := cmp.Diff(tc.want, fmt.Sprint(err)); diff != "" {
				t.Errorf("%s\nUploadSnapshot(): -want, +got:\n%s", tc.reason, diff)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("%s\nsent %d requests, want none", tc.reason, n)
			}
		})
	}
}
