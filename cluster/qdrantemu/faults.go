package qdrantemu

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// faults are failures injected by tests. A zero value injects nothing.
type faults struct {
	mu sync.Mutex
	// failNext answers the next requests with an error status.
	failNext []failure
	// streamRate caps snapshot bodies at this many bytes a second (0: no cap).
	streamRate int64
	// cutAfter aborts snapshot bodies after this many bytes (0: never).
	cutAfter int64
	cutTimes int
	// hang makes snapshot creation and streaming wait until the client gives up.
	hang bool
	// corrupt flips one byte of every snapshot body served.
	corrupt bool
	// requests counts requests by node and path pattern.
	requests []Request
}

type failure struct {
	node   int // -1: any node
	prefix string
	status int
}

// A Request is one request a node received.
type Request struct {
	Node   int
	Method string
	Path   string
}

// FailNext makes the next k requests whose path starts with prefix, on the
// given node (-1 for any), fail with status (500 or 503 usually).
func (c *Cluster) FailNext(node, k int, prefix string, status int) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	for i := 0; i < k; i++ {
		c.faults.failNext = append(c.faults.failNext, failure{node: node, prefix: prefix, status: status})
	}
}

// SlowStreams caps the rate of snapshot downloads and streams.
func (c *Cluster) SlowStreams(bytesPerSecond int64) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.streamRate = bytesPerSecond
}

// CutStreams aborts the next times snapshot downloads or streams after n bytes.
func (c *Cluster) CutStreams(n int64, times int) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.cutAfter, c.faults.cutTimes = n, times
}

// HangSnapshots makes snapshot creation and streams never finish while on.
func (c *Cluster) HangSnapshots(on bool) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.hang = on
}

// CorruptDownloads flips a byte in every snapshot body served while on.
func (c *Cluster) CorruptDownloads(on bool) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.corrupt = on
}

// Requests returns the requests received so far.
func (c *Cluster) Requests() []Request {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	return append([]Request(nil), c.faults.requests...)
}

func (c *Cluster) record(n *Node, r *http.Request) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.requests = append(c.faults.requests, Request{Node: n.Index, Method: r.Method, Path: r.URL.Path})
}

func (c *Cluster) injectFailure(n *Node, w http.ResponseWriter) bool {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	// The request's path is the one record just stored.
	last := c.faults.requests[len(c.faults.requests)-1]
	for i, f := range c.faults.failNext {
		if (f.node == -1 || f.node == n.Index) && strings.HasPrefix(last.Path, f.prefix) {
			c.faults.failNext = append(c.faults.failNext[:i], c.faults.failNext[i+1:]...)
			msg := "Service internal error: injected failure"
			if f.status == http.StatusServiceUnavailable {
				msg = "Shard temporarily unavailable: injected failure"
			}
			writeError(w, nil, false, f.status, msg)
			return true
		}
	}
	return false
}

// hanging says whether snapshot work should never finish.
func (c *Cluster) hanging() bool {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	return c.faults.hang
}

// wrapBody applies stream faults to a snapshot body written to w.
func (c *Cluster) wrapBody(w io.Writer) io.Writer {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	fw := &faultyWriter{w: w, rate: c.faults.streamRate, corrupt: c.faults.corrupt, start: time.Now()}
	if c.faults.cutTimes > 0 {
		c.faults.cutTimes--
		fw.cutAfter = c.faults.cutAfter
	}
	return fw
}

// faultyResponse applies stream faults to a response, keeping http.ServeContent's
// headers and ranges.
type faultyResponse struct {
	http.ResponseWriter
	body io.Writer
}

func (f *faultyResponse) Write(p []byte) (int, error) { return f.body.Write(p) }

func (f *faultyResponse) Flush() {
	if fl, ok := f.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// faultyBody wraps a snapshot response with the injected stream faults.
func (c *Cluster) faultyBody(w http.ResponseWriter) http.ResponseWriter {
	fr := &faultyResponse{ResponseWriter: w}
	fr.body = c.wrapBody(w)
	return fr
}

type faultyWriter struct {
	w        io.Writer
	rate     int64
	cutAfter int64
	corrupt  bool
	written  int64
	start    time.Time
}

func (f *faultyWriter) Write(p []byte) (int, error) {
	if f.cutAfter > 0 && f.written+int64(len(p)) > f.cutAfter {
		p = p[:f.cutAfter-f.written]
		if len(p) > 0 {
			_, _ = f.w.Write(p)
		}
		if fl, ok := f.w.(http.Flusher); ok {
			fl.Flush()
		}
		// Aborting the handler makes net/http cut the connection mid-body.
		panic(http.ErrAbortHandler)
	}
	if f.corrupt && f.written == 0 && len(p) > 0 {
		q := append([]byte(nil), p...)
		q[len(q)/2] ^= 0xFF
		p = q
	}
	n, err := f.w.Write(p)
	f.written += int64(n)
	if f.rate > 0 {
		due := f.start.Add(time.Duration(float64(f.written) / float64(f.rate) * float64(time.Second)))
		time.Sleep(time.Until(due))
	}
	return n, err
}
