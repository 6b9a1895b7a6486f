package qdrant

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recorded is what the fake server saw of one request.
type recorded struct {
	Method string
	Path   string // escaped, as sent
	Query  url.Values
	Body   any // decoded JSON body, nil when none
}

// fakeQdrant is an httptest server that records requests and answers with
// handler. It records the bodies of JSON requests only, so upload tests can
// read the stream themselves.
type fakeQdrant struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []recorded
	headers []http.Header
	slept   []time.Duration
}

func newFake(t *testing.T, handler http.HandlerFunc, mods ...func(*Config)) (*Client, *fakeQdrant) {
	t.Helper()
	f := &fakeQdrant{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recorded{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query()}
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			b, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(b, &rec.Body); err != nil {
				rec.Body = "invalid JSON: " + string(b)
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		if len(rec.Query) == 0 {
			rec.Query = nil
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, rec)
		f.headers = append(f.headers, r.Header.Clone())
		f.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(f.srv.Close)
	cfg := Config{URL: f.srv.URL, Sleep: f.sleep}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New(): %v", err)
	}
	return c, f
}

// sleep records retry delays instead of waiting.
func (f *fakeQdrant) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.slept = append(f.slept, d)
	return ctx.Err()
}

func (f *fakeQdrant) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func (f *fakeQdrant) sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.slept...)
}

func (f *fakeQdrant) lastHeader() http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.headers) == 0 {
		return nil
	}
	return f.headers[len(f.headers)-1]
}

// writeResult writes Qdrant's success envelope.
func writeResult(w http.ResponseWriter, result any) {
	b, err := json.Marshal(result)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"result":%s,"status":"ok","time":0.001}`, b)
}

// writeRaw writes a success envelope around an exact JSON result.
func writeRaw(w http.ResponseWriter, result string) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"result":%s,"status":"ok","time":0.001}`, result)
}

func writeAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"accepted","time":0.000012}`)
}

// writeError writes Qdrant's JSON error envelope (no result key).
func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"status":{"error":%s},"time":0.0}`, b)
}

// writePlain writes a plain-text error like Qdrant's file endpoints and 401s.
func writePlain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}

// statusSequence answers with the given statuses in turn (the last one
// repeats); 200 answers writeResult(result).
func statusSequence(result any, statuses ...int) http.HandlerFunc {
	var mu sync.Mutex
	n := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		status := statuses[min(n, len(statuses)-1)]
		n++
		mu.Unlock()
		switch status {
		case http.StatusOK:
			writeResult(w, result)
		case http.StatusAccepted:
			writeAccepted(w)
		default:
			writeError(w, status, fmt.Sprintf("status %d", status))
		}
	}
}

// closedAddr returns the address of a listener that was closed, so dialing
// it is refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// jsonValue decodes a JSON document for comparison by value.
func jsonValue(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON in test: %v", err)
	}
	return v
}

// errorKind names the typed error in err, for table tests.
func errorKind(err error) string {
	switch {
	case err == nil:
		return ""
	case IsBadRequest(err):
		return "BadRequest"
	case IsUnauthorized(err):
		return "Unauthorized"
	case IsForbidden(err):
		return "Forbidden"
	case IsNotFound(err):
		return "NotFound"
	case IsConflict(err):
		return "Conflict"
	case IsUnavailable(err):
		return "Unavailable"
	case IsTooManyRequests(err):
		return "TooManyRequests"
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return fmt.Sprintf("APIError %d", apiErr.StatusCode)
	}
	return "other: " + err.Error()
}

func ptr[T any](v T) *T { return &v }

// equateJSON compares json.RawMessage values by meaning, not by spacing.
func equateJSON() cmp.Option {
	return cmp.Transformer("JSON", func(m json.RawMessage) any {
		if m == nil {
			return nil
		}
		var v any
		if err := json.Unmarshal(m, &v); err != nil {
			return "invalid JSON: " + string(m)
		}
		return v
	})
}
