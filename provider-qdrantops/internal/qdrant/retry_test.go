package qdrant

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// retryCall is a call used by the retry tables, with the result a 200
// answer carries for it.
type retryCall struct {
	call   func(ctx context.Context, c *Client) error
	result string
}

func retryCalls() map[string]retryCall {
	return map[string]retryCall{
		"ListSnapshots": {result: `[]`, call: func(ctx context.Context, c *Client) error {
			_, err := c.ListSnapshots(ctx, "c")
			return err
		}},
		"Count": {result: `{"count":1}`, call: func(ctx context.Context, c *Client) error {
			_, err := c.Count(ctx, "c", true)
			return err
		}},
		"Scroll": {result: `{"points":[],"next_page_offset":null}`, call: func(ctx context.Context, c *Client) error {
			_, err := c.Scroll(ctx, "c", ScrollRequest{})
			return err
		}},
		"Retrieve": {result: `[]`, call: func(ctx context.Context, c *Client) error {
			_, err := c.Retrieve(ctx, "c", []PointID{NumericPointID(1)}, true, false)
			return err
		}},
		"DeleteSnapshot": {result: `true`, call: func(ctx context.Context, c *Client) error {
			return c.DeleteSnapshot(ctx, "c", "s.snapshot", true)
		}},
		"CreateSnapshot": {result: `{"name":"s","creation_time":null,"size":1}`, call: func(ctx context.Context, c *Client) error {
			_, err := c.CreateSnapshot(ctx, "c", true)
			return err
		}},
		"Upsert": {result: `{"operation_id":1,"status":"completed"}`, call: func(ctx context.Context, c *Client) error {
			return c.Upsert(ctx, "c", []Point{{ID: NumericPointID(1), Vector: json.RawMessage(`[1]`)}}, true)
		}},
		"Upload": {result: `true`, call: func(ctx context.Context, c *Client) error {
			return c.UploadSnapshot(ctx, "c", strings.NewReader("tar"), "c.snapshot", UploadOptions{Priority: PrioritySnapshot})
		}},
		"Recover": {result: `true`, call: func(ctx context.Context, c *Client) error {
			return c.RecoverSnapshot(ctx, "c", SnapshotRecover{Location: "http://x/s", Priority: PrioritySnapshot}, true)
		}},
		"CreateCollection": {result: `true`, call: func(ctx context.Context, c *Client) error {
			return c.CreateCollection(ctx, "c", CreateCollection{Vectors: json.RawMessage(`{"size":1,"distance":"Dot"}`)})
		}},
		"DeleteCollection": {result: `true`, call: func(ctx context.Context, c *Client) error {
			_, err := c.DeleteCollection(ctx, "c")
			return err
		}},
		"StreamShard": {result: `"bytes"`, call: func(ctx context.Context, c *Client) error {
			d, err := c.StreamShardSnapshot(ctx, "c", 0)
			if err == nil {
				_ = d.Body.Close()
			}
			return err
		}},
	}
}

func TestRetryRules(t *testing.T) {
	type want struct {
		Requests int
		Sleeps   int
		Kind     string
	}
	cases := map[string]struct {
		reason   string
		call     string
		statuses []int
		want     want
	}{
		"NoRetry400": {reason: "Bad input is final.", call: "ListSnapshots", statuses: []int{400},
			want: want{Requests: 1, Kind: "BadRequest"}},
		"NoRetry401": {reason: "A wrong key stays wrong.", call: "ListSnapshots", statuses: []int{401},
			want: want{Requests: 1, Kind: "Unauthorized"}},
		"NoRetry403": {reason: "Missing access stays missing.", call: "ListSnapshots", statuses: []int{403},
			want: want{Requests: 1, Kind: "Forbidden"}},
		"NoRetry404": {reason: "Not found is an answer.", call: "ListSnapshots", statuses: []int{404},
			want: want{Requests: 1, Kind: "NotFound"}},
		"NoRetry409": {reason: "Conflicts are answers.", call: "ListSnapshots", statuses: []int{409},
			want: want{Requests: 1, Kind: "Conflict"}},
		"Bounded500": {reason: "Internal errors are retried up to MaxAttempts.", call: "ListSnapshots", statuses: []int{500},
			want: want{Requests: 4, Sleeps: 3, Kind: "APIError 500"}},
		"Bounded503": {reason: "Unavailable shards are retried up to MaxAttempts.", call: "ListSnapshots", statuses: []int{503},
			want: want{Requests: 4, Sleeps: 3, Kind: "Unavailable"}},
		"Recovers502": {reason: "A retry that succeeds returns success.", call: "ListSnapshots", statuses: []int{502, 504, 200},
			want: want{Requests: 3, Sleeps: 2}},
		"CountRetried": {reason: "Count is a read-only POST.", call: "Count", statuses: []int{503, 200},
			want: want{Requests: 2, Sleeps: 1}},
		"ScrollRetried": {reason: "Scroll is a read-only POST.", call: "Scroll", statuses: []int{503, 200},
			want: want{Requests: 2, Sleeps: 1}},
		"RetrieveRetried": {reason: "Retrieve is a read-only POST.", call: "Retrieve", statuses: []int{500, 200},
			want: want{Requests: 2, Sleeps: 1}},
		"DeleteSnapshotRetried": {reason: "Deleting a snapshot twice is harmless.", call: "DeleteSnapshot", statuses: []int{503, 200},
			want: want{Requests: 2, Sleeps: 1}},
		"StreamRetriedBeforeBody": {reason: "A stream is retried until its headers arrive.", call: "StreamShard", statuses: []int{503, 200},
			want: want{Requests: 2, Sleeps: 1}},
		"CreateSnapshotOnce": {reason: "A retry would create a second snapshot.", call: "CreateSnapshot", statuses: []int{503},
			want: want{Requests: 1, Kind: "Unavailable"}},
		"UpsertOnce": {reason: "Upsert is not retried.", call: "Upsert", statuses: []int{500},
			want: want{Requests: 1, Kind: "APIError 500"}},
		"UploadOnce": {reason: "The upload body is a one-shot stream.", call: "Upload", statuses: []int{503},
			want: want{Requests: 1, Kind: "Unavailable"}},
		"RecoverOnce": {reason: "Recovery keeps running server-side.", call: "Recover", statuses: []int{503},
			want: want{Requests: 1, Kind: "Unavailable"}},
		"CreateCollectionOnce": {reason: "A retry would answer 409.", call: "CreateCollection", statuses: []int{500},
			want: want{Requests: 1, Kind: "APIError 500"}},
		"DeleteCollectionOnce": {reason: "A retry would answer false.", call: "DeleteCollection", statuses: []int{503},
			want: want{Requests: 1, Kind: "Unavailable"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rc := retryCalls()[tc.call]
			h := statusSequence(json.RawMessage(rc.result), tc.statuses...)
			c, f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				// Read uploads fully so the answer does not race the body.
				_, _ = io.Copy(io.Discard, r.Body)
				h(w, r)
			})
			err := rc.call(t.Context(), c)
			got := want{Requests: len(f.requests()), Sleeps: len(f.sleeps()), Kind: errorKind(err)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n%s: -want, +got:\n%s", tc.reason, tc.call, diff)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	cases := map[string]struct {
		reason     string
		retryAfter string
		want       []time.Duration
	}{
		"Honoured": {
			reason:     "Qdrant's Retry-After seconds are waited exactly.",
			retryAfter: "3",
			want:       []time.Duration{3 * time.Second},
		},
		"Capped": {
			reason:     "A long Retry-After is capped at MaxDelay.",
			retryAfter: "120",
			want:       []time.Duration{DefaultMaxDelay},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var n atomic.Int32
			c, f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					w.Header().Set("Retry-After", tc.retryAfter)
					writeError(w, http.StatusTooManyRequests, "Rate limiting exceeded: try later")
					return
				}
				writeRaw(w, `[]`)
			})
			if _, err := c.ListSnapshots(t.Context(), "c"); err != nil {
				t.Fatalf("ListSnapshots(): %v", err)
			}
			if diff := cmp.Diff(tc.want, f.sleeps()); diff != "" {
				t.Errorf("%s\nslept: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	p := RetryPolicy{}.withDefaults()
	cases := map[string]struct {
		reason string
		n      int
		jitter float64
		want   time.Duration
	}{
		"First":      {reason: "The first delay is BaseDelay.", n: 0, want: 250 * time.Millisecond},
		"Doubles":    {reason: "Each retry doubles the delay.", n: 2, want: time.Second},
		"Capped":     {reason: "Delays stop at MaxDelay.", n: 10, want: 10 * time.Second},
		"NoOverflow": {reason: "Huge retry numbers do not overflow.", n: 200, want: 10 * time.Second},
		"MaxJitter":  {reason: "Jitter adds at most 20%.", n: 1, jitter: 0.999999, want: 599999900 * time.Nanosecond},
		"HalfJitter": {reason: "Jitter scales with the delay.", n: 10, jitter: 0.5, want: 11 * time.Second},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, p.backoff(tc.n, tc.jitter)); diff != "" {
				t.Errorf("%s\nbackoff(%d, %v): -want, +got:\n%s", tc.reason, tc.n, tc.jitter, diff)
			}
		})
	}
}

func TestRetryDelaysWithJitter(t *testing.T) {
	c, f := newFake(t, statusSequence(nil, http.StatusServiceUnavailable), func(cfg *Config) {
		cfg.Retry = RetryPolicy{MaxAttempts: 5, BaseDelay: 100 * time.Millisecond, MaxDelay: 300 * time.Millisecond}
	})
	_, _ = c.ListSnapshots(t.Context(), "c")
	floors := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}
	got := f.sleeps()
	if len(got) != len(floors) {
		t.Fatalf("slept %v, want %d sleeps", got, len(floors))
	}
	for i, d := range got {
		if d < floors[i] || d > floors[i]+floors[i]/5 {
			t.Errorf("sleep %d = %v, want within [%v, %v]", i, d, floors[i], floors[i]+floors[i]/5)
		}
	}
}

func TestRetryConnectionRefused(t *testing.T) {
	type want struct {
		Sleeps  int
		Refused bool
	}
	cases := map[string]struct {
		reason string
		call   string
		want   want
	}{
		"GETRetried": {
			reason: "A refused GET is retried up to MaxAttempts.",
			call:   "ListSnapshots",
			want:   want{Sleeps: 3, Refused: true},
		},
		"ReadOnlyPOSTRetried": {
			reason: "A refused count is retried.",
			call:   "Count",
			want:   want{Sleeps: 3, Refused: true},
		},
		"CreateSnapshotNotRetried": {
			reason: "Non-idempotent calls get one attempt even when refused.",
			call:   "CreateSnapshot",
			want:   want{Sleeps: 0, Refused: true},
		},
		"UploadNotRetried": {
			reason: "Uploads get one attempt.",
			call:   "Upload",
			want:   want{Sleeps: 0, Refused: true},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var slept int
			c, err := New(Config{URL: "http://" + closedAddr(t), Sleep: func(context.Context, time.Duration) error {
				slept++
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			err = retryCalls()[tc.call].call(t.Context(), c)
			got := want{Sleeps: slept, Refused: errors.Is(err, syscall.ECONNREFUSED)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n%s: -want, +got:\n%s\nerr: %v", tc.reason, tc.call, diff, err)
			}
		})
	}
}

func TestRetryConnectionDroppedBeforeResponse(t *testing.T) {
	var n atomic.Int32
	c, f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			_ = conn.Close() // EOF before any response
			return
		}
		writeRaw(w, `{"count":7}`)
	})
	got, err := c.Count(t.Context(), "c", true)
	if err != nil {
		t.Fatalf("Count(): %v", err)
	}
	if diff := cmp.Diff(uint64(7), got); diff != "" {
		t.Errorf("Count(): -want, +got:\n%s", diff)
	}
	if diff := cmp.Diff(2, len(f.requests())); diff != "" {
		t.Errorf("requests: -want, +got:\n%s", diff)
	}
}

func TestRetryStopsOnCancel(t *testing.T) {
	cases := map[string]struct {
		reason string
		sleep  func(cancel context.CancelFunc) func(context.Context, time.Duration) error
	}{
		"DuringSleep": {
			reason: "Cancelling while waiting to retry returns at once.",
			sleep: func(cancel context.CancelFunc) func(context.Context, time.Duration) error {
				return func(ctx context.Context, _ time.Duration) error {
					cancel()
					return sleepContext(ctx, time.Hour)
				}
			},
		},
		"BeforeRetry": {
			reason: "An attempt failing because of cancellation is not retried.",
			sleep: func(context.CancelFunc) func(context.Context, time.Duration) error {
				return func(context.Context, time.Duration) error {
					t.Error("slept although the context was cancelled")
					return nil
				}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var n atomic.Int32
			c, f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				if name == "BeforeRetry" {
					cancel()
					<-r.Context().Done()
					return
				}
				writeError(w, http.StatusServiceUnavailable, "Shard temporarily unavailable")
			}, func(cfg *Config) { cfg.Sleep = tc.sleep(cancel) })
			_, err := c.ListSnapshots(ctx, "c")
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s\nListSnapshots(): err = %v, want context.Canceled", tc.reason, err)
			}
			if diff := cmp.Diff(1, len(f.requests())); diff != "" {
				t.Errorf("%s\nrequests: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
