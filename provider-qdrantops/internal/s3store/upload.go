package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// PutStream uploads a stream of any size, hashing it with sha256 on the way.
// A stream shorter than one part is a single PUT; longer ones are a multipart
// upload with at most Concurrency parts in flight, so memory stays within
// PartSize x (Concurrency + 1). On any failure, including a failing reader,
// the multipart upload is aborted: nothing half-written is left behind.
func (s *Store) PutStream(ctx context.Context, key string, r io.Reader) (size int64, sha256Hex string, err error) {
	h := sha256.New()
	src := io.TeeReader(r, h)
	pool := newBufPool(s.buffers, s.concurrency+1)
	defer pool.close()

	first := pool.get()
	n, err := io.ReadFull(src, first)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		defer pool.put(first)
		if err := s.PutBytes(ctx, key, first[:n], "application/octet-stream"); err != nil {
			return 0, "", err
		}
		return int64(n), hex.EncodeToString(h.Sum(nil)), nil
	}
	if err != nil {
		pool.put(first)
		return 0, "", fmt.Errorf("cannot read stream: %w", err)
	}

	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), ContentType: aws.String("application/octet-stream"),
	})
	if err != nil {
		pool.put(first)
		return 0, "", classify(err, "multipart upload of "+key)
	}
	up := &multipart{s: s, key: key, id: created.UploadId}
	size, err = up.run(ctx, src, pool, first)
	if err != nil {
		up.abort(ctx)
		return 0, "", err
	}
	return size, hex.EncodeToString(h.Sum(nil)), nil
}

type multipart struct {
	s   *Store
	key string
	id  *string

	mu    sync.Mutex
	parts []types.CompletedPart
	err   error
}

func (m *multipart) run(ctx context.Context, src io.Reader, pool *bufPool, first []byte) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	size := int64(0)
	buf, n := first, len(first)
	for part := int32(1); ; part++ {
		if part > 10000 {
			m.fail(fmt.Errorf("stream exceeds 10,000 parts of %d bytes", m.s.partSize))
			break
		}
		size += int64(n)
		wg.Add(1)
		go func(part int32, b []byte) {
			defer wg.Done()
			defer pool.put(b[:cap(b)])
			m.upload(ctx, part, b, cancel)
		}(part, buf[:n])
		if n < len(buf) || m.failed() {
			break // The last, short part was sent, or an upload failed.
		}
		buf = pool.get()
		var err error
		n, err = io.ReadFull(src, buf)
		if errors.Is(err, io.EOF) {
			pool.put(buf)
			break
		}
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			pool.put(buf)
			m.fail(fmt.Errorf("cannot read stream: %w", err))
			cancel()
			break
		}
	}
	wg.Wait()
	if err := m.firstErr(); err != nil {
		return 0, err
	}
	sort.Slice(m.parts, func(i, j int) bool { return aws.ToInt32(m.parts[i].PartNumber) < aws.ToInt32(m.parts[j].PartNumber) })
	_, err := m.s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(m.s.bucket), Key: aws.String(m.key), UploadId: m.id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: m.parts},
	})
	if err != nil {
		return 0, classify(err, "completion of "+m.key)
	}
	return size, nil
}

func (m *multipart) upload(ctx context.Context, part int32, b []byte, cancel func()) {
	out, err := m.s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(m.s.bucket), Key: aws.String(m.key), UploadId: m.id,
		PartNumber: aws.Int32(part), Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
	})
	if err != nil {
		m.fail(classify(err, fmt.Sprintf("part %d of %s", part, m.key)))
		cancel()
		return
	}
	m.mu.Lock()
	m.parts = append(m.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(part)})
	m.mu.Unlock()
}

func (m *multipart) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		m.err = err
	}
}

func (m *multipart) failed() bool { return m.firstErr() != nil }

func (m *multipart) firstErr() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// abort runs even when ctx is cancelled: a cancelled backup must not leave an
// incomplete upload behind.
func (m *multipart) abort(ctx context.Context) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, _ = m.s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(m.s.bucket), Key: aws.String(m.key), UploadId: m.id})
}

// bufPool hands one upload at most max part buffers, blocking when all are in
// use: this is what bounds an upload's memory.
type bufPool struct {
	list  *freeList
	free  chan []byte
	slots chan struct{}
}

func newBufPool(list *freeList, max int) *bufPool {
	return &bufPool{list: list, free: make(chan []byte, max), slots: make(chan struct{}, max)}
}

func (p *bufPool) get() []byte {
	select {
	case b := <-p.free:
		return b
	default:
	}
	select {
	case b := <-p.free:
		return b
	case p.slots <- struct{}{}:
		return p.list.get()
	}
}

func (p *bufPool) put(b []byte) { p.free <- b }

// close hands the upload's buffers back to the store. Called once every part
// has returned its buffer.
func (p *bufPool) close() {
	for {
		select {
		case b := <-p.free:
			p.list.put(b)
		default:
			return
		}
	}
}

// freeList keeps part buffers for reuse across uploads.
type freeList struct {
	size int64
	mu   sync.Mutex
	bufs [][]byte
}

func (f *freeList) get() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.bufs); n > 0 {
		b := f.bufs[n-1]
		f.bufs = f.bufs[:n-1]
		return b
	}
	return make([]byte, f.size)
}

func (f *freeList) put(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bufs = append(f.bufs, b[:cap(b)])
}
