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
//
// An upload made for an owner (WithOwner, a namespace) borrows only while its
// owner holds less than the owner's share, so that one tenant's many or slow
// transfers cannot hold the whole budget while others wait.
type Budget struct {
	partSize int64
	max      int
	share    int

	mu      sync.Mutex
	held    int
	owners  map[string]int
	free    [][]byte
	changed chan struct{}
}

// DefaultOwnerShare is the part of a budget one owner may hold: a quarter.
const DefaultOwnerShare = 4

// NewBudget returns a budget of bytes, lent out as buffers of partSize. An
// owner may hold a quarter of it (at least one buffer).
func NewBudget(bytes, partSize int64) (*Budget, error) {
	if partSize < minPartSize {
		return nil, fmt.Errorf("part size %d is below S3's minimum of %d", partSize, minPartSize)
	}
	n := bytes / partSize
	if n < 1 {
		return nil, fmt.Errorf("a transfer budget of %d bytes is smaller than one part of %d bytes", bytes, partSize)
	}
	return &Budget{partSize: partSize, max: int(n), share: max(1, int(n)/DefaultOwnerShare), owners: map[string]int{}, changed: make(chan struct{})}, nil
}

// Bytes is the most memory the budget lends at once.
func (b *Budget) Bytes() int64 { return int64(b.max) * b.partSize }

// PartSize is the size of the budget's buffers.
func (b *Budget) PartSize() int64 { return b.partSize }

type ownerKey struct{}

// WithOwner marks the uploads made with ctx as owner's, so that they borrow
// within owner's share of the budget.
func WithOwner(ctx context.Context, owner string) context.Context {
	return context.WithValue(ctx, ownerKey{}, owner)
}

func ownerOf(ctx context.Context) string {
	o, _ := ctx.Value(ownerKey{}).(string)
	return o
}

// acquire borrows a buffer for owner, waiting until one is free (within the
// owner's share) or ctx is done.
func (b *Budget) acquire(ctx context.Context, owner string) ([]byte, error) {
	for {
		buf, changed := b.take(owner)
		if buf != nil {
			return buf, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("cannot wait for transfer memory: %w", ctx.Err())
		}
	}
}

// tryAcquire borrows a buffer for owner if one is free now.
func (b *Budget) tryAcquire(owner string) ([]byte, bool) {
	buf, _ := b.take(owner)
	return buf, buf != nil
}

// take lends a buffer if the budget and the owner's share allow it; if not,
// it returns a channel closed at the next release.
func (b *Budget) take(owner string) ([]byte, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held >= b.max || (owner != "" && b.owners[owner] >= b.share) {
		return nil, b.changed
	}
	b.held++
	if owner != "" {
		b.owners[owner]++
	}
	if n := len(b.free); n > 0 {
		buf := b.free[n-1]
		b.free = b.free[:n-1]
		return buf, nil
	}
	return make([]byte, b.partSize), nil
}

// release returns owner's buffer. Buffers are kept for reuse: the budget
// never holds more of them than it lends, so keeping them costs nothing
// beyond the budget and saves the garbage collector a part's worth of work
// per part.
func (b *Budget) release(buf []byte, owner string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free = append(b.free, buf[:cap(buf)])
	b.held--
	if owner != "" {
		if b.owners[owner]--; b.owners[owner] <= 0 {
			delete(b.owners, owner)
		}
	}
	close(b.changed)
	b.changed = make(chan struct{})
}

// lent is how many buffers are out.
func (b *Budget) lent() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}
