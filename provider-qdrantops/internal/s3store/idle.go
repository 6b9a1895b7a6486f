package s3store

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// idleReader fails a download that delivers no byte for too long: it cancels
// the request's context, which makes the blocked Read return.
type idleReader struct {
	r       io.ReadCloser
	timeout time.Duration
	cancel  func()

	mu      sync.Mutex
	timer   *time.Timer
	expired bool
}

func newIdleReader(r io.ReadCloser, timeout time.Duration, cancel func()) *idleReader {
	ir := &idleReader{r: r, timeout: timeout, cancel: cancel}
	ir.timer = time.AfterFunc(timeout, ir.expire)
	return ir
}

func (ir *idleReader) expire() {
	ir.mu.Lock()
	ir.expired = true
	ir.mu.Unlock()
	ir.cancel()
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	ir.mu.Lock()
	expired := ir.expired
	ir.mu.Unlock()
	if expired {
		return n, fmt.Errorf("no data for %s: the download stalled", ir.timeout)
	}
	if n > 0 {
		ir.timer.Reset(ir.timeout)
	}
	return n, err
}

func (ir *idleReader) Close() error {
	ir.timer.Stop()
	ir.cancel()
	return ir.r.Close()
}
