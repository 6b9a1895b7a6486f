// Package qdrant is a client for Qdrant's REST API (1.13 to 1.19) covering
// what the qdrantops provider needs to back up and restore collections as
// shard snapshots: cluster topology, collection configuration, aliases,
// points for verification, and streamed snapshot download, upload and
// recovery. Snapshots can be larger than memory, so every snapshot body is
// streamed in both directions, and errors never carry the api key or any URL
// query, since presigned S3 URLs are credentials.
package qdrant

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/netguard"
)

// Config configures a Client for one Qdrant node.
type Config struct {
	// URL is the base URL of ONE node's REST API, e.g. http://127.0.0.1:6333.
	// A path prefix (behind a reverse proxy) and a trailing slash work.
	URL string
	// APIKey is sent as the api-key header when non-empty.
	APIKey string
	// CAPEM is a PEM bundle of the roots trusted for HTTPS instead of the
	// system roots. It cannot be combined with HTTPClient.
	CAPEM []byte
	// HTTPClient replaces the default client. Its Timeout should be zero:
	// snapshot streams last hours, so deadlines come from contexts. The
	// client is copied so that redirects can be refused without changing it.
	HTTPClient *http.Client
	// Retry bounds retries of idempotent calls; the zero value is the default.
	Retry RetryPolicy
	// Sleep waits between retries; tests replace it. The default waits on a
	// timer or until ctx is done.
	Sleep func(ctx context.Context, d time.Duration) error
	// ResponseHeaderTimeout bounds the wait for an answer's headers once the
	// request is sent, so that a node that accepts a request and never
	// answers fails the call instead of holding it forever. Zero means
	// DefaultResponseHeaderTimeout, negative no bound. Calls with wait=true
	// are not bounded by it: Qdrant answers them only when the operation
	// (a snapshot, a recovery) is done, which may take hours; their context
	// bounds them. A snapshot stream or download waits for the longer of
	// this and IdleReadTimeout, since Qdrant may start the archive first.
	ResponseHeaderTimeout time.Duration
	// IdleReadTimeout fails the reading of a response body (a snapshot
	// stream, a JSON answer) that delivers no byte for this long while it is
	// being read. Time the caller spends between reads does not count. Zero
	// means DefaultIdleReadTimeout, negative no bound.
	IdleReadTimeout time.Duration
}

// Deadline defaults. Qdrant itself gives up on a recovery download after 60 s
// without data (API.md 1.6); twice that leaves room for a busy node.
const (
	DefaultResponseHeaderTimeout = 60 * time.Second
	DefaultIdleReadTimeout       = 2 * time.Minute
)

// Client talks to one Qdrant node. It is safe for concurrent use.
type Client struct {
	base   string // scheme://host[/prefix], no trailing slash
	apiKey string
	hc     *http.Client
	retry  RetryPolicy
	sleep  func(ctx context.Context, d time.Duration) error
	// headerTimeout and idleTimeout are 0 when unbounded.
	headerTimeout time.Duration
	idleTimeout   time.Duration
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	base, err := parseBaseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	hc, err := httpClient(cfg)
	if err != nil {
		return nil, err
	}
	sleep := cfg.Sleep
	if sleep == nil {
		sleep = sleepContext
	}
	return &Client{
		base: base, apiKey: cfg.APIKey, hc: hc, retry: cfg.Retry.withDefaults(), sleep: sleep,
		headerTimeout: orDefault(cfg.ResponseHeaderTimeout, DefaultResponseHeaderTimeout),
		idleTimeout:   orDefault(cfg.IdleReadTimeout, DefaultIdleReadTimeout),
	}, nil
}

// orDefault maps a configured timeout to the one used: 0 for none.
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// BaseURL returns the node's base URL without a trailing slash.
func (c *Client) BaseURL() string { return c.base }

func parseBaseURL(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", errors.New("cannot use an empty Qdrant URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// The url package quotes the input, which may hold credentials.
		return "", errors.New("cannot parse the Qdrant URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("cannot use Qdrant URL scheme %q: want http or https", u.Scheme)
	case u.Host == "":
		return "", errors.New("cannot use a Qdrant URL without a host")
	case u.User != nil:
		return "", errors.New("cannot use a Qdrant URL with user info: set the api key instead")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("cannot use a Qdrant URL with a query or fragment")
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

func httpClient(cfg Config) (*http.Client, error) {
	if cfg.HTTPClient != nil {
		if len(cfg.CAPEM) > 0 {
			return nil, errors.New("cannot apply a CA bundle to a caller-supplied HTTP client")
		}
		hc := *cfg.HTTPClient
		hc.CheckRedirect = refuseRedirect
		return &hc, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone() //nolint:forcetypeassert // net/http documents DefaultTransport as an *http.Transport.
	// Qdrant compresses snapshot downloads on the fly when asked, which
	// hides Content-Length and costs CPU on the node.
	tr.DisableCompression = true
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: netguard.Control}).DialContext
	if len(cfg.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CAPEM) {
			return nil, errors.New("cannot parse any certificate from the CA bundle")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	// No Timeout: a streamed shard snapshot can take hours; callers bound
	// calls with context deadlines.
	return &http.Client{Transport: tr, CheckRedirect: refuseRedirect}, nil
}

// refuseRedirect hands 3xx answers back as errors: the api-key header is a
// custom header that net/http would forward to any redirect target.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// request describes one API call. path is already escaped and relative to
// the base URL; it appears in errors, the query never does.
type request struct {
	method     string
	path       string
	query      url.Values
	body       []byte // JSON body, resent on retries
	idempotent bool   // may be retried
	stream     bool   // a snapshot body: the headers may wait for the archive to start
	secrets    []string
}

// headerWaitFor is how long r may wait for its answer's headers; 0 for no
// bound.
func (c *Client) headerWaitFor(r *request) time.Duration {
	if r.query.Get("wait") == "true" {
		return 0
	}
	if r.stream && c.headerTimeout > 0 && c.idleTimeout > c.headerTimeout {
		return c.idleTimeout
	}
	return c.headerTimeout
}

func (r *request) scrub(c *Client) func(string) string {
	return scrubber(append([]string{c.apiKey}, r.secrets...)...)
}

// send performs one attempt and returns a 2xx response, or a typed error
// after reading (a bounded part of) the error body. The response's body fails
// with a *TimeoutError when it stalls; closing it releases the request.
func (c *Client) send(ctx context.Context, r *request, body io.Reader, contentType string) (*http.Response, error) {
	target := c.base + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	// Deadlines cancel this context with a *TimeoutError as its cause.
	ctx, cancel := context.WithCancelCause(ctx)
	wait := &headerWait{method: r.method, path: r.path, after: c.headerWaitFor(r), cancel: cancel}
	if wait.after > 0 {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: wait.start})
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		cancel(nil)
		return nil, fmt.Errorf("cannot build request %s %s: %w", r.method, r.path, sanitizeTransportError(err))
	}
	if c.apiKey != "" {
		req.Header.Set("api-key", c.apiKey)
	}
	// Setting identity also stops net/http from asking for gzip on its own.
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", "qdrantops")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	wait.answered()
	if err != nil {
		cancel(nil)
		var timeout *TimeoutError
		if errors.As(context.Cause(ctx), &timeout) {
			return nil, timeout
		}
		return nil, sanitizeTransportError(err)
	}
	resp.Body = newIdleBody(ctx, resp.Body, cancel, c.idleTimeout, r.method, r.path)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close() //nolint:errcheck // the error body is best effort
		return nil, errorFromResponse(r.method, r.path, resp, r.scrub(c))
	}
	return resp, nil
}

// maxJSONBody bounds a JSON answer so a confused server cannot exhaust memory;
// real answers (scroll pages, collection info) are far smaller.
const maxJSONBody = 16 << 20

// envelope is Qdrant's {"result":…,"status":"ok","time":…}.
type envelope struct {
	Result json.RawMessage `json:"result"`
	Status json.RawMessage `json:"status"`
}

// doJSON performs r (with retries when idempotent) and decodes the envelope's
// result into out, if out is not nil. accepted is true for a 202, which has
// no result.
func (c *Client) doJSON(ctx context.Context, r *request, out any) (accepted bool, err error) {
	err = c.withRetry(ctx, r, func() error {
		var body io.Reader
		contentType := ""
		if r.body != nil {
			body, contentType = bytes.NewReader(r.body), "application/json"
		}
		resp, err := c.send(ctx, r, body, contentType)
		if err != nil {
			return err
		}
		defer resp.Body.Close() //nolint:errcheck // read-only body
		accepted, err = decodeEnvelope(r, resp, out)
		return err
	})
	return accepted, err
}

func decodeEnvelope(r *request, resp *http.Response, out any) (accepted bool, err error) {
	var env envelope
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJSONBody)).Decode(&env); err != nil {
		return false, fmt.Errorf("cannot decode answer to %s %s: %w", r.method, r.path, err)
	}
	if resp.StatusCode == http.StatusAccepted {
		return true, nil
	}
	if out == nil {
		return false, nil
	}
	if len(env.Result) == 0 || string(env.Result) == "null" {
		return false, fmt.Errorf("cannot decode answer to %s %s: no result", r.method, r.path)
	}
	if err := json.Unmarshal(env.Result, out); err != nil {
		return false, fmt.Errorf("cannot decode result of %s %s: %w", r.method, r.path, err)
	}
	return false, nil
}

// doPlain performs a GET whose answer has no envelope. out may be nil to
// discard the (bounded) body.
func (c *Client) doPlain(ctx context.Context, r *request, out any) error {
	return c.withRetry(ctx, r, func() error {
		resp, err := c.send(ctx, r, nil, "")
		if err != nil {
			return err
		}
		defer resp.Body.Close() //nolint:errcheck // read-only body
		body := io.LimitReader(resp.Body, maxErrorBody)
		if out == nil {
			_, err = io.Copy(io.Discard, body)
			return err
		}
		if err := json.NewDecoder(body).Decode(out); err != nil {
			return fmt.Errorf("cannot decode answer to %s %s: %w", r.method, r.path, err)
		}
		return nil
	})
}

// ErrRefusedAddress says that a Qdrant URL leads to an address the provider
// does not connect to (netguard).
var ErrRefusedAddress = netguard.ErrRefused

// checkName rejects names that cannot be a single path segment. "." and ".."
// matter most: a normalising proxy would turn DELETE …/snapshots/.. into
// DELETE on the collection itself.
func checkName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("cannot use an empty %s name", what)
	case name == "." || name == "..":
		return fmt.Errorf("cannot use %s name %q", what, name)
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("cannot use %s name %q: it contains a path separator or NUL", what, name)
	}
	return nil
}

// collectionPath returns the escaped /collections/{c} path.
func collectionPath(collection string) (string, error) {
	if err := checkName("collection", collection); err != nil {
		return "", err
	}
	return "/collections/" + url.PathEscape(collection), nil
}

// waitQuery is the wait parameter, always explicit because Qdrant's default
// differs per endpoint (true for snapshots, false for points).
func waitQuery(wait bool) url.Values {
	return url.Values{"wait": {fmt.Sprint(wait)}}
}

// headerWait fails a request whose answer's headers do not come within after
// of the request being written. The clock starts when the whole request, its
// body included, is on the wire: an upload's own pace never counts.
type headerWait struct {
	method, path string
	after        time.Duration
	cancel       context.CancelCauseFunc

	mu    sync.Mutex
	timer *time.Timer
	done  bool
}

// start runs when the transport has written the request; again if it writes
// it anew on another connection.
func (w *headerWait) start(httptrace.WroteRequestInfo) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	w.timer = time.AfterFunc(w.after, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.done {
			w.cancel(&TimeoutError{Method: w.method, Path: w.path, After: w.after})
		}
	})
}

// answered stops the clock once headers (or an error) arrived.
func (w *headerWait) answered() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	if w.timer != nil {
		w.timer.Stop()
	}
}

// idleBody fails a response body that delivers no byte for idle while it is
// being read, by cancelling its request, which closes the connection and
// ends the pending Read. Its Close releases the request's context.
type idleBody struct {
	ctx          context.Context
	rc           io.ReadCloser
	cancel       context.CancelCauseFunc
	idle         time.Duration
	method, path string
	timer        *time.Timer
}

func newIdleBody(ctx context.Context, rc io.ReadCloser, cancel context.CancelCauseFunc, idle time.Duration, method, path string) *idleBody {
	b := &idleBody{ctx: ctx, rc: rc, cancel: cancel, idle: idle, method: method, path: path}
	if idle > 0 {
		b.timer = time.AfterFunc(idle, func() {
			b.cancel(&TimeoutError{Method: method, Path: path, After: idle, Body: true})
		})
		b.timer.Stop()
	}
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.timer != nil {
		b.timer.Reset(b.idle)
	}
	n, err := b.rc.Read(p)
	if b.timer != nil {
		b.timer.Stop()
	}
	if err != nil && err != io.EOF { // io.EOF is returned unwrapped by contract.
		var timeout *TimeoutError
		if errors.As(context.Cause(b.ctx), &timeout) {
			return n, timeout
		}
	}
	return n, err
}

func (b *idleBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	err := b.rc.Close()
	b.cancel(nil)
	return err
}
