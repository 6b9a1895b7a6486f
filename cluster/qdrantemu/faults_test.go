package qdrantemu_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

// endOfArchive is what Go's archive/tar Writer.Close and Qdrant's tar crate
// write last: two 512-byte zero blocks.
var endOfArchive = make([]byte, 1024)

// get reads a body with a plain net/http client, as the provider does,
// returning what arrived and the error that ended it.
func get(t *testing.T, ctx context.Context, u string) (int, []byte, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close() //nolint:errcheck // Test.
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// chunk is one chunk of a chunked body as it crossed the wire.
type chunk struct{ announced, got int }

// wire reads a response off a raw TCP connection and splits its chunked
// body into its chunks, so a test can see where the connection ended: in a
// chunk, between two, or after the terminating zero-length chunk.
func wire(t *testing.T, rawURL string) (chunks []chunk, terminated bool) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(t.Context(), "tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close() //nolint:errcheck // Test.
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", u.RequestURI(), u.Host); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	chunkedBody := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("headers: %v", err)
		}
		if strings.EqualFold(strings.TrimSpace(line), "Transfer-Encoding: chunked") {
			chunkedBody = true
		}
		if line == "\r\n" {
			break
		}
	}
	if !chunkedBody {
		t.Fatal("want a chunked body")
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return chunks, false // The connection ended between two chunks.
		}
		size, err := strconv.ParseInt(strings.TrimSpace(line), 16, 64)
		if err != nil {
			t.Fatalf("bad chunk size line %q", line)
		}
		if size == 0 {
			return chunks, true
		}
		n, _ := io.CopyN(io.Discard, br, size)
		chunks = append(chunks, chunk{announced: int(size), got: int(n)})
		if n < size {
			return chunks, false
		}
		if crlf, err := br.ReadString('\n'); err != nil || crlf != "\r\n" {
			return chunks, false
		}
	}
}

func TestStreamFaultsOnTheWire(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	createCollection(t, u, "c", 1, 1, 100)
	c.SetSnapshotPadding("c", 256<<10)
	stream := u + "/collections/c/shards/0/snapshot"
	const after = 100_000

	_, whole, err := get(t, context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}

	cases := map[string]struct {
		reason       string
		fault        qdrantemu.StreamFault
		wantErr      error
		wantBytes    int
		wantLastPart bool // the last chunk on the wire is incomplete
		wantTerm     bool // the body ends with the zero-length chunk
	}{
		"CutMidChunk": {
			reason:  "A node that dies mid-chunk leaves a chunk shorter than its size line.",
			fault:   qdrantemu.CutMidChunk,
			wantErr: io.ErrUnexpectedEOF, wantBytes: after, wantLastPart: true,
		},
		"CutAtChunkBoundary": {
			reason:  "A node that dies between chunks leaves whole chunks and no terminating chunk.",
			fault:   qdrantemu.CutAtChunkBoundary,
			wantErr: io.ErrUnexpectedEOF, wantBytes: after,
		},
		"EmptyBody": {
			reason:   "An empty stream is a proper, empty chunked body.",
			fault:    qdrantemu.EmptyBody,
			wantTerm: true,
		},
		"NotTar": {
			reason:    "Noise is a proper chunked body of After bytes.",
			fault:     qdrantemu.NotTar,
			wantBytes: after, wantTerm: true,
		},
		"NoEndOfArchive": {
			reason:    "An archive without its end marker is a proper chunked body, 1024 bytes short.",
			fault:     qdrantemu.NoEndOfArchive,
			wantBytes: len(whole) - len(endOfArchive), wantTerm: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			spec := qdrantemu.StreamFaultSpec{Fault: tc.fault, Node: -1, Shard: -1, After: after, Times: 1}
			c.InjectStreamFault(spec)
			status, b, err := get(t, context.Background(), stream)
			if status != http.StatusOK || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("%s\nnet/http client: want 200 and error %v, got %d and %v", tc.reason, tc.wantErr, status, err)
			}
			if len(b) != tc.wantBytes {
				t.Errorf("%s\nnet/http client: want %d bytes, got %d", tc.reason, tc.wantBytes, len(b))
			}

			c.InjectStreamFault(spec)
			chunks, term := wire(t, stream)
			lastPart := len(chunks) > 0 && chunks[len(chunks)-1].got < chunks[len(chunks)-1].announced
			if lastPart != tc.wantLastPart || term != tc.wantTerm {
				t.Errorf("%s\nwire: want last chunk incomplete %t, terminated %t; got %t, %t (chunks %v)",
					tc.reason, tc.wantLastPart, tc.wantTerm, lastPart, term, chunks)
			}
			got := 0
			for _, ch := range chunks {
				got += ch.got
			}
			if got != tc.wantBytes {
				t.Errorf("%s\nwire: want %d body bytes, got %d", tc.reason, tc.wantBytes, got)
			}
		})
	}
}

func TestStreamFaultContent(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	createCollection(t, u, "c", 1, 1, 100)
	stream := u + "/collections/c/shards/0/snapshot"
	entries := func(b []byte) ([]string, error) {
		var names []string
		tr := tar.NewReader(bytes.NewReader(b))
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				return names, nil
			}
			if err != nil {
				return names, err
			}
			names = append(names, h.Name)
		}
	}

	_, whole, err := get(t, context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	want, err := entries(whole)
	if err != nil || len(want) == 0 {
		t.Fatalf("a whole stream: want a tar archive, got entries %v, %v", want, err)
	}
	if !bytes.HasSuffix(whole, endOfArchive) {
		t.Error("a whole stream must end with the tar end-of-archive marker")
	}

	t.Run("NotTar", func(t *testing.T) {
		c.InjectStreamFault(qdrantemu.StreamFaultSpec{Fault: qdrantemu.NotTar, Node: -1, Shard: -1, Times: 1})
		_, b, err := get(t, context.Background(), stream)
		if err != nil || len(b) != 64<<10 {
			t.Fatalf("want 64 KiB by default and a clean end, got %d bytes, %v", len(b), err)
		}
		if names, err := entries(b); err == nil {
			t.Errorf("want no tar archive, got entries %v", names)
		}
	})
	t.Run("NoEndOfArchive", func(t *testing.T) {
		c.InjectStreamFault(qdrantemu.StreamFaultSpec{Fault: qdrantemu.NoEndOfArchive, Node: -1, Shard: -1, Times: 1})
		_, b, err := get(t, context.Background(), stream)
		if err != nil {
			t.Fatal(err)
		}
		// Go's tar reader takes the missing marker for a clean end: only a
		// check of the last bytes tells.
		got, err := entries(b)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("want every entry of the whole archive (-want +got):\n%s", diff)
		}
		if bytes.HasSuffix(b, endOfArchive) || !bytes.Equal(b, whole[:len(whole)-len(endOfArchive)]) {
			t.Error("want the whole archive but its end-of-archive marker")
		}
	})
}

func TestStoredSnapshotsAreWholeTarArchives(t *testing.T) {
	// The backup engine checks that a shard snapshot ends with the tar
	// end-of-archive marker; the emulator's good snapshots must pass it.
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	createCollection(t, u, "c", 2, 1, 100)
	for _, p := range []string{"/collections/c/shards/1/snapshots", "/collections/c/snapshots"} {
		snap := mustOK(t, call(t, "POST", u+p, nil))["result"].(map[string]any)
		dl := call(t, "GET", u+p+"/"+snap["name"].(string), nil)
		if dl.status != http.StatusOK || !bytes.HasSuffix(dl.body, endOfArchive) {
			t.Errorf("GET %s/%s: want 200 and a body ending with the end-of-archive marker, got %d and %d bytes", p, snap["name"], dl.status, len(dl.body))
		}
	}
}

func TestStreamFaultsStall(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 1})
	u := c.URLs()[0]
	createCollection(t, u, "c", 1, 1, 100)
	c.SetSnapshotPadding("c", 1<<20)
	stream := u + "/collections/c/shards/0/snapshot"

	t.Run("NoHeaders", func(t *testing.T) {
		c.InjectStreamFault(qdrantemu.StreamFaultSpec{Fault: qdrantemu.NoHeaders, Node: -1, Shard: -1, Times: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		status, _, err := get(t, ctx, stream)
		if status != 0 || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 250*time.Millisecond {
			t.Errorf("want no answer until the client gives up, got status %d, %v after %s", status, err, time.Since(start))
		}
	})
	t.Run("StallBody", func(t *testing.T) {
		c.InjectStreamFault(qdrantemu.StreamFaultSpec{Fault: qdrantemu.StallBody, Node: -1, Shard: -1, After: 4096, Times: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		status, b, err := get(t, ctx, stream)
		if status != http.StatusOK || len(b) != 4096 || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("want 200, then 4096 bytes and nothing until the client gives up; got %d, %d bytes, %v", status, len(b), err)
		}
	})
	t.Run("StoredDownloadNoHeaders", func(t *testing.T) {
		snap := mustOK(t, call(t, "POST", u+"/collections/c/shards/0/snapshots", nil))["result"].(map[string]any)
		c.InjectStreamFault(qdrantemu.StreamFaultSpec{Fault: qdrantemu.NoHeaders, Node: 0, Collection: "c", Shard: 0, Times: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, _, err := get(t, ctx, u+"/collections/c/shards/0/snapshots/"+snap["name"].(string))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a stored snapshot's download: want no answer, got %v", err)
		}
	})
}

func TestStreamFaultSelection(t *testing.T) {
	c := start(t, qdrantemu.Options{Nodes: 2})
	u := c.URLs()
	// Two nodes, every shard on both.
	createCollection(t, u[0], "c", 2, 2, 100)
	createCollection(t, u[0], "d", 1, 2, 10)
	type target struct {
		node       int
		collection string
		shard      int
	}
	cut := func(n int, col string, shard int) qdrantemu.StreamFaultSpec {
		return qdrantemu.StreamFaultSpec{Fault: qdrantemu.CutAtChunkBoundary, Node: n, Collection: col, Shard: shard, After: 10}
	}
	cases := map[string]struct {
		reason string
		spec   qdrantemu.StreamFaultSpec
		hits   map[target]bool
	}{
		"Node": {
			reason: "A fault on node 1 strikes node 1's streams only.",
			spec:   cut(1, "", -1),
			hits:   map[target]bool{{1, "c", 0}: true, {1, "c", 1}: true, {1, "d", 0}: true},
		},
		"Collection": {
			reason: "A fault on collection d strikes d's streams only, on every node.",
			spec:   cut(-1, "d", -1),
			hits:   map[target]bool{{0, "d", 0}: true, {1, "d", 0}: true},
		},
		"Shard": {
			reason: "A fault on shard 1 of c on node 0 strikes that one stream only.",
			spec:   cut(0, "c", 1),
			hits:   map[target]bool{{0, "c", 1}: true},
		},
	}
	all := []target{{0, "c", 0}, {0, "c", 1}, {0, "d", 0}, {1, "c", 0}, {1, "c", 1}, {1, "d", 0}}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c.InjectStreamFault(tc.spec)
			defer c.ClearStreamFaults()
			got := map[target]bool{}
			for _, tg := range all {
				_, _, err := get(t, context.Background(), fmt.Sprintf("%s/collections/%s/shards/%d/snapshot", u[tg.node], tg.collection, tg.shard))
				if errors.Is(err, io.ErrUnexpectedEOF) {
					got[tg] = true
				} else if err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(tc.hits, got, cmp.AllowUnexported(target{})); diff != "" {
				t.Errorf("%s\nstreams cut (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
	t.Run("Times", func(t *testing.T) {
		spec := cut(-1, "", -1)
		spec.Times = 2
		c.InjectStreamFault(spec)
		defer c.ClearStreamFaults()
		var cuts []bool
		for i := 0; i < 3; i++ {
			_, _, err := get(t, context.Background(), u[0]+"/collections/c/shards/0/snapshot")
			cuts = append(cuts, errors.Is(err, io.ErrUnexpectedEOF))
		}
		if diff := cmp.Diff([]bool{true, true, false}, cuts); diff != "" {
			t.Errorf("Times 2 strikes two streams, then none (-want +got):\n%s", diff)
		}
	})
}

func TestParseStreamFault(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     string
		want   qdrantemu.StreamFaultSpec
		err    bool
	}{
		"NameOnly": {
			reason: "A bare name strikes every body of every node.",
			in:     "NoHeaders",
			want:   qdrantemu.StreamFaultSpec{Fault: qdrantemu.NoHeaders, Node: -1, Shard: -1},
		},
		"AllOptions": {
			reason: "Every option is read.",
			in:     "CutMidChunk:node=1,collection=docs,shard=3,after=65536,times=2",
			want:   qdrantemu.StreamFaultSpec{Fault: qdrantemu.CutMidChunk, Node: 1, Collection: "docs", Shard: 3, After: 65536, Times: 2},
		},
		"UnknownFault":  {reason: "A misspelt fault is refused.", in: "CutMidchunk", err: true},
		"UnknownOption": {reason: "A misspelt option is refused.", in: "StallBody:afterr=1", err: true},
		"BadNumber":     {reason: "A number that is none is refused.", in: "StallBody:after=x", err: true},
		"Negative":      {reason: "Negative counts mean nothing.", in: "StallBody:times=-1", err: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := qdrantemu.ParseStreamFault(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("%s\nwant error %t, got %v", tc.reason, tc.err, err)
			}
			if tc.err {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n-want +got:\n%s", tc.reason, diff)
			}
		})
	}
}
