package s3store

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// blocking delivers its bytes, then blocks until its context is cancelled,
// as a response body does when the server stops sending.
type blocking struct {
	ctx  context.Context
	data *strings.Reader
}

func (b *blocking) Read(p []byte) (int, error) {
	if b.data.Len() > 0 {
		return b.data.Read(p)
	}
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

func (b *blocking) Close() error { return nil }

func TestIdleReaderFailsAStalledDownload(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newIdleReader(&blocking{ctx: ctx, data: strings.NewReader("first bytes")}, 50*time.Millisecond, cancel)
	defer r.Close() //nolint:errcheck // Test.
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(r)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "the download stalled") {
			t.Errorf("want the stall named, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled download was not failed")
	}
}
