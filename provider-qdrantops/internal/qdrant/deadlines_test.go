package qdrant_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/qdrant"
)

// Short deadlines, so that a node that never answers fails a test in
// milliseconds; hang is how long a test waits to call a call hung.
const (
	shortTimeout = 200 * time.Millisecond
	hang         = 1500 * time.Millisecond
)

// deadlineClient is a client of one emulated node with the given deadlines
// and a single attempt, so that a failure shows at once.
func deadlineClient(t *testing.T, url string, header, idle time.Duration) *qdrant.Client {
	t.Helper()
	c, err := qdrant.New(qdrant.Config{URL: url, ResponseHeaderTimeout: header, IdleReadTimeout: idle, Retry: qdrant.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readStream opens a shard snapshot stream and reads it to its end.
func readStream(ctx context.Context, c *qdrant.Client, collection string, shard uint32) (int, error) {
	dl, err := c.StreamShardSnapshot(ctx, collection, shard)
	if err != nil {
		return 0, err
	}
	defer dl.Body.Close() //nolint:errcheck // Test.
	n, err := io.Copy(io.Discard, dl.Body)
	return int(n), err
}

// oneCollection starts a one-node emulator holding collection "c" (one
// shard) with points points, and a client without deadlines to set it up.
func oneCollection(t *testing.T, points int) (*qdrantemu.Cluster, *qdrant.Client) {
	t.Helper()
	emu := startEmulator(t, qdrantemu.Options{})
	setup := newClient(t, emu.URLs()[0])
	if err := setup.CreateCollection(t.Context(), "c", collectionSpec(1, 1)); err != nil {
		t.Fatal(err)
	}
	if points > 0 {
		upsert(t, t.Context(), setup, "c", 1, points)
	}
	return emu, setup
}

func TestStreamDeadlines(t *testing.T) {
	emu, _ := oneCollection(t, 100)
	ctx := t.Context()
	emu.SetSnapshotPadding("c", 1<<20)

	cases := map[string]struct {
		reason       string
		fault        qdrantemu.StreamFault
		header, idle time.Duration
		wantErr      string // "" for a hang the test's own deadline ends
		wantBytes    int
	}{
		"NoHeaders": {
			reason: "A node that accepts the request and never answers fails the call once the header timeout passes.",
			fault:  qdrantemu.NoHeaders, header: shortTimeout, idle: shortTimeout,
			wantErr: "Qdrant sent no response headers within 200ms",
		},
		"StalledBody": {
			reason: "A stream that stops delivering bytes fails the read once the idle timeout passes.",
			fault:  qdrantemu.StallBody, header: shortTimeout, idle: shortTimeout,
			wantErr: "Qdrant sent no data for 200ms", wantBytes: 4096,
		},
		"NoHeadersWithoutTimeout": {
			reason: "Without a header timeout the same node holds the call until the caller's own deadline: what the timeout prevents.",
			fault:  qdrantemu.NoHeaders, header: -1, idle: -1,
		},
		"StalledBodyWithoutTimeout": {
			reason: "Without an idle timeout the same stream holds the read until the caller's own deadline.",
			fault:  qdrantemu.StallBody, header: -1, idle: -1, wantBytes: 4096,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			emu.InjectStreamFault(qdrantemu.StreamFaultSpec{Fault: tc.fault, Node: -1, Shard: -1, After: 4096, Times: 1})
			defer emu.ClearStreamFaults()
			c := deadlineClient(t, emu.URLs()[0], tc.header, tc.idle)
			callCtx, cancel := context.WithTimeout(ctx, hang)
			defer cancel()
			start := time.Now()
			n, err := readStream(callCtx, c, "c", 0)
			took := time.Since(start)
			if n != tc.wantBytes {
				t.Errorf("%s\nwant %d bytes before the stall, got %d", tc.reason, tc.wantBytes, n)
			}
			if tc.wantErr == "" {
				if !errors.Is(err, context.DeadlineExceeded) || took < hang {
					t.Errorf("%s\nwant the caller's deadline after %s, got %v after %s", tc.reason, hang, err, took)
				}
				return
			}
			if !qdrant.IsTimeout(err) || !strings.Contains(fmtErr(err), tc.wantErr) {
				t.Errorf("%s\nwant a timeout error saying %q, got %v", tc.reason, tc.wantErr, err)
			}
			if took < shortTimeout || took > hang/2 {
				t.Errorf("%s\nwant the call to fail soon after %s, it took %s", tc.reason, shortTimeout, took)
			}
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestHeaderTimeoutIsRetried(t *testing.T) {
	// A node that did not answer once may answer the next attempt; and the
	// cluster adapter goes on to the next node for the same reason.
	emu, _ := oneCollection(t, 0)
	ctx := t.Context()
	emu.InjectStreamFault(qdrantemu.StreamFaultSpec{Fault: qdrantemu.NoHeaders, Node: -1, Shard: -1, Times: 1})
	c, err := qdrant.New(qdrant.Config{URL: emu.URLs()[0], ResponseHeaderTimeout: shortTimeout, IdleReadTimeout: shortTimeout,
		Retry: qdrant.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	callCtx, cancel := context.WithTimeout(ctx, hang)
	defer cancel()
	if n, err := readStream(callCtx, c, "c", 0); err != nil || n == 0 {
		t.Errorf("want the second attempt to stream the snapshot, got %d bytes, %v", n, err)
	}
}

func TestSlowReaderIsNotIdle(t *testing.T) {
	// The idle clock runs only while a Read waits: a caller that is slow to
	// read (its S3 upload is slow) must not fail its own stream.
	emu, _ := oneCollection(t, 100)
	ctx := t.Context()
	c := deadlineClient(t, emu.URLs()[0], shortTimeout, shortTimeout)
	dl, err := c.StreamShardSnapshot(ctx, "c", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Body.Close() //nolint:errcheck // Test.
	buf := make([]byte, 512)
	for i := 0; i < 2; i++ {
		if _, err := io.ReadFull(dl.Body, buf); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * shortTimeout)
	}
	if _, err := io.Copy(io.Discard, dl.Body); err != nil {
		t.Errorf("a reader that pauses between reads: want the whole stream, got %v", err)
	}
}

func TestWaitingCallsAreNotCutByTheHeaderTimeout(t *testing.T) {
	// Qdrant answers wait=true only when the snapshot is done, possibly
	// hours later: the header timeout must not fail it, only the caller's
	// context may.
	emu, _ := oneCollection(t, 0)
	ctx := t.Context()
	emu.HangSnapshots(true)
	defer emu.HangSnapshots(false)
	c := deadlineClient(t, emu.URLs()[0], shortTimeout, shortTimeout)
	for _, wait := range []bool{true, false} {
		callCtx, cancel := context.WithTimeout(ctx, hang)
		start := time.Now()
		_, err := c.CreateShardSnapshot(callCtx, "c", 0, wait)
		cancel()
		if wait && (!errors.Is(err, context.DeadlineExceeded) || time.Since(start) < hang) {
			t.Errorf("wait=true: want only the caller's deadline after %s, got %v after %s", hang, err, time.Since(start))
		}
		if !wait && !qdrant.IsTimeout(err) {
			t.Errorf("wait=false: want the header timeout, got %v", err)
		}
	}
}

func TestJSONCallsHaveDeadlines(t *testing.T) {
	// Every call has the header timeout, not only streams; and a JSON body
	// that stalls fails as a stream does.
	cases := map[string]struct {
		reason  string
		handler http.HandlerFunc
		wantErr string
	}{
		"NoHeaders": {
			reason:  "A node that never answers a cluster read fails it.",
			handler: func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
			wantErr: "GET /collections/c: Qdrant sent no response headers within 200ms",
		},
		"StalledBody": {
			reason: "A node that stops in the middle of a JSON answer fails it.",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"result":{"status":`))
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			},
			wantErr: "GET /collections/c: Qdrant sent no data for 200ms",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			c := deadlineClient(t, srv.URL, shortTimeout, shortTimeout)
			callCtx, cancel := context.WithTimeout(t.Context(), hang)
			defer cancel()
			_, err := c.Collection(callCtx, "c")
			if !qdrant.IsTimeout(err) || !strings.Contains(fmtErr(err), tc.wantErr) {
				t.Errorf("%s\nwant %q, got %v", tc.reason, tc.wantErr, err)
			}
		})
	}
}

func TestUploadTimeStartsAfterTheBody(t *testing.T) {
	// The header clock starts once the request, body included, is sent: an
	// upload whose source is slower than the header timeout still lands.
	emu, setup := oneCollection(t, 100)
	ctx := t.Context()
	dl, err := setup.StreamShardSnapshot(ctx, "c", 0)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := io.ReadAll(dl.Body)
	_ = dl.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	c := deadlineClient(t, emu.URLs()[0], shortTimeout, shortTimeout)
	body := io.MultiReader(&slowStart{d: 2 * shortTimeout}, bytes.NewReader(snap))
	if err := c.UploadShardSnapshot(ctx, "c", 0, body, "c-0.snapshot", qdrant.UploadOptions{Priority: qdrant.PrioritySnapshot}); err != nil {
		t.Errorf("an upload slower than the header timeout: want success, got %v", err)
	}
}

// slowStart is an empty reader that takes d to say so.
type slowStart struct{ d time.Duration }

func (s *slowStart) Read([]byte) (int, error) {
	time.Sleep(s.d)
	return 0, io.EOF
}
