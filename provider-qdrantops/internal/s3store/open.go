package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Open opens an object to stream it elsewhere, a shard snapshot on its way to
// Qdrant's upload endpoint, with bounded memory: it borrows one part-sized
// buffer from the store's Budget (within the share of ctx's owner, see
// WithOwner), waiting for it before the GET is sent so that no download sits
// open while it queues, and reads the object through that buffer in reads
// as large as the network delivers. Close gives the buffer back.
//
// A GET that delivers no byte for the idle-read timeout while it is read
// fails; time the caller spends between reads does not count. A body that
// ends before its Content-Length, cleanly or not, fails with an error that
// is io.ErrUnexpectedEOF: a cut object never passes for a shorter one.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	owner := ownerOf(ctx)
	buf, err := s.budget.acquire(ctx, owner)
	if err != nil {
		return nil, err
	}
	// The request's context is cancelled by Close, or by the idle timer.
	rctx, cancel := context.WithCancelCause(ctx)
	out, err := s.client.GetObject(rctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		cancel(nil)
		s.budget.release(buf, owner)
		return nil, classify(err, "object "+key)
	}
	o := &object{
		s: s, key: key, owner: owner, buf: buf, body: out.Body, cancel: cancel, ctx: rctx,
		size: -1, idle: s.timeouts.IdleRead,
	}
	if out.ContentLength != nil {
		o.size = *out.ContentLength
	}
	return o, nil
}

// errStalled is the cause of a request cancelled by the idle timer.
var errStalled = errors.New("stalled")

// object is an open object read through one buffer of the budget.
type object struct {
	s      *Store
	key    string
	owner  string
	body   io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	size   int64 // Content-Length, -1 when unknown
	idle   time.Duration

	// buf is the budget's buffer; buf[r:w] is read and not yet handed out.
	buf  []byte
	r, w int
	read int64 // bytes read from the body
	err  error // the body's end or failure, returned once buf is drained

	// mu keeps Close from lending the buffer out again while a Read, in
	// another goroutine, still uses it.
	mu        sync.Mutex
	closeOnce sync.Once
	closeErr  error
}

func (o *object) Read(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.buf == nil {
		return 0, fmt.Errorf("object %s: read after close", o.key)
	}
	if o.r == o.w && o.err == nil {
		o.fill()
	}
	if o.r < o.w {
		n := copy(p, o.buf[o.r:o.w])
		o.r += n
		return n, nil
	}
	return 0, o.err
}

// fill reads from the body into the whole buffer: one read takes all the
// network has delivered, up to a part. A read of nothing is no answer and is
// made again, within the same idle timeout. It sets o.err when the body ends
// or fails.
func (o *object) fill() {
	o.r, o.w = 0, 0
	var timer *time.Timer
	if o.idle > 0 {
		timer = time.AfterFunc(o.idle, func() { o.cancel(errStalled) })
	}
	var n int
	var err error
	for n == 0 && err == nil {
		n, err = o.body.Read(o.buf)
	}
	if timer != nil {
		timer.Stop()
	}
	o.w = n
	o.read += int64(n)
	switch {
	case err == nil:
	case errors.Is(context.Cause(o.ctx), errStalled):
		o.err = fmt.Errorf("object %s: no data for %s after %d bytes: the download stalled: %w", o.key, o.idle, o.read, io.ErrUnexpectedEOF)
	case err == io.EOF && o.size >= 0 && o.read < o.size:
		o.err = fmt.Errorf("object %s: the download ended after %d of %d bytes: %w", o.key, o.read, o.size, io.ErrUnexpectedEOF)
	case err == io.EOF:
		o.err = io.EOF // Returned as it is, as io.Reader promises.
	case errors.Is(err, io.ErrUnexpectedEOF):
		o.err = fmt.Errorf("object %s: the download was cut after %d bytes: %w", o.key, o.read, err)
	default:
		// A reset connection, a cancelled context: not a clean end either.
		o.err = fmt.Errorf("object %s: the download failed after %d bytes: %w", o.key, o.read, errors.Join(err, io.ErrUnexpectedEOF))
	}
}

// Close ends the request and gives the buffer back to the budget, once
// however often it is called. It may be called while a Read blocks in another
// goroutine: ending the request first makes that Read return.
func (o *object) Close() error {
	o.closeOnce.Do(func() {
		o.cancel(nil)
		o.mu.Lock()
		defer o.mu.Unlock()
		o.closeErr = o.body.Close()
		o.s.budget.release(o.buf, o.owner)
		o.buf = nil
	})
	return o.closeErr
}
