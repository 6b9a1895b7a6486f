package qdrantemu

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
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
	// streams are the injected stream faults, first match wins.
	streams []*StreamFaultSpec
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

// A StreamFault is a way a snapshot body goes wrong, as a client sees it on
// the wire. Each one reproduces what a real node, proxy or network does.
type StreamFault string

// Stream faults.
const (
	// CutMidChunk is a node that dies in the middle of a chunk: the body
	// arrives in whole chunks up to its last one, whose size line promises
	// more bytes than follow before the connection closes. A net/http client
	// reads io.ErrUnexpectedEOF after exactly After bytes. On a sized body
	// (a stored snapshot's download) it is a body shorter than its
	// Content-Length.
	CutMidChunk StreamFault = "CutMidChunk"
	// CutAtChunkBoundary is a node that dies between two chunks: After bytes
	// arrive in whole chunks, then the connection closes without the
	// terminating zero-length chunk. A net/http client reads
	// io.ErrUnexpectedEOF after exactly After bytes.
	CutAtChunkBoundary StreamFault = "CutAtChunkBoundary"
	// EmptyBody answers a shard snapshot stream with 200 and no byte, the
	// chunked body properly ended: a client reads a clean io.EOF at once.
	// Streams only.
	EmptyBody StreamFault = "EmptyBody"
	// NotTar answers a shard snapshot stream with 200 and After bytes (64 KiB
	// when After is 0) of noise that is no tar archive, properly ended.
	// Streams only.
	NotTar StreamFault = "NotTar"
	// NoEndOfArchive answers a shard snapshot stream with the whole archive
	// but for its end-of-archive marker (two 512-byte zero blocks), the
	// chunked body properly ended: every entry reads, then a clean io.EOF
	// where the marker should be. Streams only.
	NoEndOfArchive StreamFault = "NoEndOfArchive"
	// NoHeaders accepts the request and never answers, not even a status
	// line, until the client goes away or the node stops.
	NoHeaders StreamFault = "NoHeaders"
	// StallBody sends the headers and After bytes of the body, then nothing,
	// until the client goes away or the node stops.
	StallBody StreamFault = "StallBody"
)

// A StreamFaultSpec says which snapshot bodies a fault strikes. Bodies are
// the shard snapshot streams (GET …/shards/{id}/snapshot) and the downloads
// of stored snapshots; a fault marked "streams only" above leaves downloads
// alone.
type StreamFaultSpec struct {
	Fault StreamFault
	// Node is the index of the node whose bodies fail; -1 for any node.
	Node int
	// Collection whose bodies fail; "" for any.
	Collection string
	// Shard whose bodies fail; -1 for any, including downloads of collection
	// snapshots, which belong to no shard.
	Shard int
	// After is how many body bytes are sent before the fault strikes.
	After int64
	// Times is how many bodies fail; 0 until ClearStreamFaults.
	Times int
}

func (s *StreamFaultSpec) matches(node int, collection string, shard int) bool {
	return (s.Node == -1 || s.Node == node) && (s.Collection == "" || s.Collection == collection) &&
		(s.Shard == -1 || s.Shard == shard)
}

// ParseStreamFault reads a fault as the qdrant-emulator command takes it:
// the fault's name, then optionally a colon and comma-separated key=value
// pairs among node, collection, shard, after and times, e.g.
// "CutMidChunk:node=1,collection=docs,shard=0,after=65536,times=1". Node and
// shard default to any.
func ParseStreamFault(s string) (StreamFaultSpec, error) {
	name, opts, _ := strings.Cut(s, ":")
	spec := StreamFaultSpec{Fault: StreamFault(name), Node: -1, Shard: -1}
	switch spec.Fault {
	case CutMidChunk, CutAtChunkBoundary, EmptyBody, NotTar, NoEndOfArchive, NoHeaders, StallBody:
	default:
		return spec, fmt.Errorf("unknown stream fault %q", name)
	}
	if opts == "" {
		return spec, nil
	}
	for _, kv := range strings.Split(opts, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return spec, fmt.Errorf("stream fault option %q is not key=value", kv)
		}
		var err error
		switch k {
		case "node":
			spec.Node, err = strconv.Atoi(v)
		case "collection":
			spec.Collection = v
		case "shard":
			spec.Shard, err = strconv.Atoi(v)
		case "after":
			spec.After, err = strconv.ParseInt(v, 10, 64)
		case "times":
			spec.Times, err = strconv.Atoi(v)
		default:
			return spec, fmt.Errorf("unknown stream fault option %q", k)
		}
		if err != nil {
			return spec, fmt.Errorf("stream fault option %s: %w", k, err)
		}
	}
	if spec.After < 0 || spec.Times < 0 {
		return spec, errors.New("stream fault options after and times cannot be negative")
	}
	return spec, nil
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

// InjectStreamFault makes the snapshot bodies that s selects fail as
// s.Fault says. Faults injected earlier are tried first.
func (c *Cluster) InjectStreamFault(s StreamFaultSpec) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.streams = append(c.faults.streams, &s)
}

// ClearStreamFaults removes every injected stream fault.
func (c *Cluster) ClearStreamFaults() {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.streams = nil
}

// CutStreams cuts the next times snapshot downloads or streams, of any node,
// after n bytes at a chunk boundary, as a node that dies does.
func (c *Cluster) CutStreams(n int64, times int) {
	if times <= 0 {
		return
	}
	c.InjectStreamFault(StreamFaultSpec{Fault: CutAtChunkBoundary, Node: -1, Shard: -1, After: n, Times: times})
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

// streamFault takes the first injected fault that strikes a body of this
// node, collection and shard (-1: none), counting it down; nil when none
// does. stream says whether the body is a shard snapshot stream: faults on
// the content of an archive strike streams only.
func (c *Cluster) streamFault(n *Node, collection string, shard int, stream bool) *StreamFaultSpec {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	for i, s := range c.faults.streams {
		if !s.matches(n.Index, collection, shard) || (!stream && s.Fault.streamOnly()) {
			continue
		}
		out := *s
		if s.Times > 0 {
			s.Times--
			if s.Times == 0 {
				c.faults.streams = append(c.faults.streams[:i], c.faults.streams[i+1:]...)
			}
		}
		return &out
	}
	return nil
}

func (f StreamFault) streamOnly() bool {
	return f == EmptyBody || f == NotTar || f == NoEndOfArchive
}

// stall holds a request until its client goes away or the node stops.
func stall(r *http.Request) { <-r.Context().Done() }

// faultyResponse applies stream faults to a response, keeping
// http.ServeContent's headers and ranges.
type faultyResponse struct {
	http.ResponseWriter
	body io.Writer
}

func (f *faultyResponse) Write(p []byte) (int, error) { return f.body.Write(p) }

func (f *faultyResponse) Flush() { _ = http.NewResponseController(f.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the connection.
func (f *faultyResponse) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// faultyBody wraps a snapshot response with the rate, corruption and cut
// faults; f may be nil.
func (c *Cluster) faultyBody(w http.ResponseWriter, r *http.Request, f *StreamFaultSpec) http.ResponseWriter {
	return &faultyResponse{ResponseWriter: w, body: c.wrapBody(w, r, f)}
}

// wrapBody applies stream faults to a snapshot body written to w; f may be
// nil.
func (c *Cluster) wrapBody(w http.ResponseWriter, r *http.Request, f *StreamFaultSpec) io.Writer {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	fw := &faultyWriter{rw: w, r: r, rate: c.faults.streamRate, corrupt: c.faults.corrupt, start: time.Now(), cutAfter: -1}
	if f != nil {
		switch f.Fault {
		case CutMidChunk, CutAtChunkBoundary, StallBody:
			fw.fault, fw.cutAfter = f.Fault, f.After
		default:
			// The other faults never reach a writer: the handlers answer them
			// (no headers, an empty or non-tar body...) before any body is written.
		}
	}
	return fw
}

// errCut ends the writing of a body whose connection a fault took over.
var errCut = errors.New("stream cut by an injected fault")

type faultyWriter struct {
	rw       http.ResponseWriter
	r        *http.Request
	rate     int64
	fault    StreamFault
	cutAfter int64 // -1: never
	corrupt  bool
	written  int64
	start    time.Time
	done     bool
}

func (f *faultyWriter) Write(p []byte) (int, error) {
	if f.done {
		return 0, errCut
	}
	if f.cutAfter >= 0 && f.written+int64(len(p)) > f.cutAfter {
		pre := p[:f.cutAfter-f.written]
		f.done = true
		if err := f.strike(pre, len(p)); err != nil {
			return 0, err
		}
		return len(pre), errCut
	}
	if f.corrupt && f.written == 0 && len(p) > 0 {
		q := append([]byte(nil), p...)
		q[len(q)/2] ^= 0xFF
		p = q
	}
	n, err := f.rw.Write(p)
	f.written += int64(n)
	if f.rate > 0 {
		due := f.start.Add(time.Duration(float64(f.written) / float64(f.rate) * float64(time.Second)))
		time.Sleep(time.Until(due))
	}
	return n, err
}

// strike ends the body as the fault says once pre, the last bytes before
// the cut point, are sent. next is the length of the write being cut, which
// is longer than pre.
func (f *faultyWriter) strike(pre []byte, next int) error {
	rc := http.NewResponseController(f.rw)
	chunked := f.rw.Header().Get("Content-Length") == ""
	if f.fault == StallBody || f.fault == CutAtChunkBoundary || !chunked {
		if _, err := f.rw.Write(pre); err != nil {
			return err
		}
		pre = nil
	}
	// Everything so far goes out as whole chunks.
	if err := rc.Flush(); err != nil {
		return err
	}
	if f.fault == StallBody {
		stall(f.r)
		return errCut
	}
	// Taking the connection over stops net/http from ending the chunked
	// body: what a client sees next is exactly what is written below.
	conn, buf, err := rc.Hijack()
	if err != nil {
		return fmt.Errorf("cannot take the connection over: %w", err)
	}
	defer conn.Close() //nolint:errcheck // Closing is the fault.
	if f.fault == CutMidChunk && chunked {
		// A chunk that promises the whole write and carries only its start.
		if err := writeRaw(conn, buf, fmt.Sprintf("%x\r\n", next), pre); err != nil {
			return err
		}
	}
	return nil
}

func writeRaw(conn net.Conn, buf *bufio.ReadWriter, head string, body []byte) error {
	if _, err := buf.WriteString(head); err != nil {
		return err
	}
	if _, err := buf.Write(body); err != nil {
		return err
	}
	if err := buf.Flush(); err != nil {
		return err
	}
	// Half-closing makes sure the bytes reach the client before it sees the
	// end of the connection.
	if tc, ok := conn.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return nil
}
