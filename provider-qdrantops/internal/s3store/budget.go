package s3store

import (
	"context"
	"fmt"
	"sync"
)

// A Budget bounds the memory of every upload that shares it: each part buffer
// in use is borrowed from it, and an upload that finds it spent waits instead
// of allocating. One Budget per process bounds the process's transfer memory
// however many backups run at once.
//
// An upload borrows its first buffer before it opens its source, waiting if
// it must, and borrows more only while the budget has them to spare; when it
// has none to spare it reuses its own buffers as their parts finish. So every
// upload that holds a buffer makes progress, and none waits for budget while
// holding one: uploads queue for the budget, they never deadlock on it.
type Budget struct {
	partSize int64
	// tokens holds one token per buffer lent out; its capacity is the
	// number of buffers the budget allows.
	tokens chan struct{}

	mu   sync.Mutex
	free [][]byte
}

// NewBudget returns a budget of bytes, lent out as buffers of partSize.
func NewBudget(bytes, partSize int64) (*Budget, error) {
	if partSize < minPartSize {
		return nil, fmt.Errorf("part size %d is below S3's minimum of %d", partSize, minPartSize)
	}
	n := bytes / partSize
	if n < 1 {
		return nil, fmt.Errorf("a transfer budget of %d bytes is smaller than one part of %d bytes", bytes, partSize)
	}
	return &Budget{partSize: partSize, tokens: make(chan struct{}, n)}, nil
}

// Bytes is the most memory the budget lends at once.
func (b *Budget) Bytes() int64 { return int64(cap(b.tokens)) * b.partSize }

// PartSize is the size of the budget's buffers.
func (b *Budget) PartSize() int64 { return b.partSize }

// acquire borrows a buffer, waiting until one is free or ctx is done.
func (b *Budget) acquire(ctx context.Context) ([]byte, error) {
	select {
	case b.tokens <- struct{}{}:
		return b.buffer(), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("cannot wait for transfer memory: %w", ctx.Err())
	}
}

// tryAcquire borrows a buffer if one is free now.
func (b *Budget) tryAcquire() ([]byte, bool) {
	select {
	case b.tokens <- struct{}{}:
		return b.buffer(), true
	default:
		return nil, false
	}
}

// release returns a buffer. Buffers are kept for reuse: the budget never
// holds more of them than it lends, so keeping them costs nothing beyond the
// budget and saves the garbage collector a part's worth of work per part.
func (b *Budget) release(buf []byte) {
	b.mu.Lock()
	b.free = append(b.free, buf[:cap(buf)])
	b.mu.Unlock()
	<-b.tokens
}

func (b *Budget) buffer() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := len(b.free); n > 0 {
		buf := b.free[n-1]
		b.free = b.free[:n-1]
		return buf
	}
	return make([]byte, b.partSize)
}
