package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// maxParts is S3's limit on the parts of one multipart upload.
const maxParts = 10000

// PutStream uploads a stream of any size, hashing it with sha256 on the way.
// A stream shorter than one part is a single PUT; longer ones are a multipart
// upload with at most Concurrency parts in flight while the next is read, all
// buffers borrowed from the store's Budget. Every part carries a CRC32C that
// S3 checks on arrival.
//
// Only a clean io.EOF from the source ends the object. Any other error, the
// io.ErrUnexpectedEOF of a cut HTTP body above all, fails the upload and
// aborts it: a stream cut short never becomes a smaller object.
//
// open opens the source. PutStream calls it only once it holds transfer
// memory, so that no source is left open and idle while an upload waits for
// its turn.
func (s *Store) PutStream(ctx context.Context, key string, open func(context.Context) (io.ReadCloser, error)) (size int64, sha256Hex string, err error) {
	up := &upload{s: s, key: key, owner: ownerOf(ctx), returned: make(chan []byte, s.concurrency+1)}
	first, err := s.budget.acquire(ctx, up.owner)
	if err != nil {
		return 0, "", err
	}
	up.held = append(up.held, first)
	defer up.releaseAll()

	body, err := open(ctx)
	if err != nil {
		return 0, "", err
	}
	defer body.Close() //nolint:errcheck // Read-only source; read errors are what count.
	h := sha256.New()
	src := io.TeeReader(body, h)

	n, end, err := fill(src, first)
	if err != nil {
		return 0, "", fmt.Errorf("cannot read stream: %w", err)
	}
	if end {
		if err := s.put(ctx, key, first[:n], "application/octet-stream"); err != nil {
			return 0, "", err
		}
		return int64(n), hex.EncodeToString(h.Sum(nil)), nil
	}

	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), ContentType: aws.String("application/octet-stream"),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
	})
	if err != nil {
		return 0, "", classify(err, "multipart upload of "+key)
	}
	up.id = created.UploadId
	size, err = up.run(ctx, src, first, n)
	if err != nil {
		up.abort(ctx)
		return 0, "", err
	}
	return size, hex.EncodeToString(h.Sum(nil)), nil
}

// fill reads until buf is full or the source ends. end is true only when the
// source returned io.EOF; every other error is returned as it is.
func fill(r io.Reader, buf []byte) (n int, end bool, err error) {
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF { // Only io.EOF itself ends a stream, as io.Reader promises; anything else is a failure.
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	return n, false, nil
}

type upload struct {
	s   *Store
	key string
	id  *string
	// owner is whose share of the budget the upload borrows from.
	owner string

	// held are the buffers borrowed from the budget; returned receives them
	// back from finished parts.
	held     [][]byte
	returned chan []byte
	inFlight int

	mu    sync.Mutex
	parts []types.CompletedPart
	err   error
}

func (u *upload) run(ctx context.Context, src io.Reader, buf []byte, n int) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	size, last := int64(0), false
	for part := int32(1); ; part++ {
		if part > maxParts {
			u.fail(fmt.Errorf("stream exceeds %d parts of %d bytes", maxParts, u.s.partSize))
			break
		}
		size += int64(n)
		u.inFlight++
		wg.Add(1)
		go func(part int32, b []byte) {
			defer wg.Done()
			defer func() { u.returned <- b[:cap(b)] }()
			u.upload(ctx, part, b, cancel)
		}(part, buf[:n])
		if last {
			break
		}
		next, err := u.next(ctx)
		if err != nil {
			u.fail(err)
			break
		}
		if n, last, err = fill(src, next); err != nil {
			// Parts in flight finish before the abort: a part cancelled
			// mid-request may still land on the server after the abort,
			// and leave an upload behind.
			u.fail(fmt.Errorf("cannot read stream: %w", err))
			break
		}
		if last && n == 0 {
			break
		}
		buf = next
	}
	wg.Wait()
	if err := u.firstErr(); err != nil {
		return 0, err
	}
	sort.Slice(u.parts, func(i, j int) bool { return aws.ToInt32(u.parts[i].PartNumber) < aws.ToInt32(u.parts[j].PartNumber) })
	_, err := u.s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(u.s.bucket), Key: aws.String(u.key), UploadId: u.id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
	})
	if err != nil {
		return 0, classify(err, "completion of "+u.key)
	}
	return size, nil
}

// next returns a buffer to read the next part into: one of the upload's own
// that a finished part gave back, or a new one from the budget while fewer
// than Concurrency parts are in flight and the budget can spare it, or else
// the first of its own to come back.
func (u *upload) next(ctx context.Context) ([]byte, error) {
	select {
	case b := <-u.returned:
		u.inFlight--
		return b, u.firstErr()
	default:
	}
	if u.inFlight <= u.s.concurrency && !u.failed() {
		if b, ok := u.s.budget.tryAcquire(u.owner); ok {
			u.held = append(u.held, b)
			return b, nil
		}
	}
	select {
	case b := <-u.returned:
		u.inFlight--
		return b, u.firstErr()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// releaseAll gives every buffer back to the budget. It runs once no part is
// in flight any more.
func (u *upload) releaseAll() {
	for _, b := range u.held {
		u.s.budget.release(b, u.owner)
	}
	u.held = nil
}

func (u *upload) upload(ctx context.Context, part int32, b []byte, cancel func()) {
	defer func() {
		// A panic in a part's upload fails the upload, not the process.
		if p := recover(); p != nil {
			u.fail(fmt.Errorf("part %d of %s: internal error: %v", part, u.key, p))
			cancel()
		}
	}()
	sum := crc32c(b)
	pctx, pcancel := context.WithTimeout(ctx, u.s.partTimeout)
	defer pcancel()
	out, err := u.s.client.UploadPart(pctx, &s3.UploadPartInput{
		Bucket: aws.String(u.s.bucket), Key: aws.String(u.key), UploadId: u.id,
		PartNumber: aws.Int32(part), Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c, ChecksumCRC32C: aws.String(sum),
	})
	if err != nil {
		u.fail(classify(err, fmt.Sprintf("part %d of %s", part, u.key)))
		return
	}
	u.mu.Lock()
	u.parts = append(u.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(part), ChecksumCRC32C: aws.String(sum)})
	u.mu.Unlock()
}

func (u *upload) fail(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err == nil {
		u.err = err
	}
}

func (u *upload) failed() bool { return u.firstErr() != nil }

func (u *upload) firstErr() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

// abort runs even when ctx is cancelled: a cancelled backup must not leave an
// incomplete upload behind. A part whose request was cancelled may reach the
// server after the abort and bring the upload back, so the abort is checked
// and, a few times, repeated.
func (u *upload) abort(ctx context.Context) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for try := 0; try < 3; try++ {
		_, _ = u.s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(u.s.bucket), Key: aws.String(u.key), UploadId: u.id})
		if !u.lingers(actx) {
			return
		}
		select {
		case <-time.After(time.Duration(try+1) * 200 * time.Millisecond):
		case <-actx.Done():
			return
		}
	}
}

// lingers says whether the upload is still listed.
func (u *upload) lingers(ctx context.Context) bool {
	out, err := u.s.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(u.s.bucket), Prefix: aws.String(u.key)})
	if err != nil {
		return false
	}
	for _, up := range out.Uploads {
		if aws.ToString(up.UploadId) == aws.ToString(u.id) {
			return true
		}
	}
	return false
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c is the base64 of b's CRC32C, as S3's checksum headers carry it.
// CRC32C costs a fraction of sha256 (it runs in hardware), so checking every
// part on arrival is nearly free.
func crc32c(b []byte) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.Checksum(b, castagnoli))
	return base64.StdEncoding.EncodeToString(sum[:])
}
