package qdrant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

const (
	// maxErrorBody bounds how much of an error response is read: error bodies
	// are short, and a misbehaving proxy must not make us buffer a snapshot.
	maxErrorBody = 64 << 10
	// maxMessage bounds the message kept in an error, so that conditions and
	// events stay readable.
	maxMessage = 1 << 10
)

// APIError is a non-2xx answer from Qdrant. Every typed error below unwraps
// to its *APIError, so errors.As(err, &apiErr) works for all of them. Method
// and Path never hold the query string, which may carry credentials.
type APIError struct {
	StatusCode int
	Message    string // Qdrant's own text, scrubbed of URL queries and keys
	Method     string
	Path       string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s returned %d: %s", e.Method, e.Path, e.StatusCode, e.Message)
}

// Temporary reports whether repeating the same request may succeed.
func (e *APIError) Temporary() bool {
	switch e.StatusCode {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable,
		http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return true
	}
	return false
}

// BadRequestError is a 400 or 422: Qdrant rejected the input.
type BadRequestError struct{ APIError }

// UnauthorizedError is a 401: the api key is missing or wrong.
type UnauthorizedError struct{ APIError }

// ForbiddenError is a 403: the key lacks the access level, or storage is locked.
type ForbiddenError struct{ APIError }

// NotFoundError is a 404: unknown collection, shard or snapshot.
type NotFoundError struct{ APIError }

// ConflictError is a 409: the collection or alias already exists.
type ConflictError struct{ APIError }

// UnavailableError is a 503 (or a 502/504 from a proxy in front of Qdrant).
type UnavailableError struct{ APIError }

// TooManyRequestsError is a 429. RetryAfter is zero when Qdrant sent none.
type TooManyRequestsError struct {
	APIError
	RetryAfter time.Duration
}

func (e *BadRequestError) Unwrap() error      { return &e.APIError }
func (e *UnauthorizedError) Unwrap() error    { return &e.APIError }
func (e *ForbiddenError) Unwrap() error       { return &e.APIError }
func (e *NotFoundError) Unwrap() error        { return &e.APIError }
func (e *ConflictError) Unwrap() error        { return &e.APIError }
func (e *UnavailableError) Unwrap() error     { return &e.APIError }
func (e *TooManyRequestsError) Unwrap() error { return &e.APIError }

// TimeoutError is a node that stopped answering: it sent no response headers
// within After of the request, or (Body) no byte of a body for After while
// it was read. It is retryable: another attempt, or another node, may answer.
type TimeoutError struct {
	Method string
	Path   string
	After  time.Duration
	Body   bool
}

func (e *TimeoutError) Error() string {
	if e.Body {
		return fmt.Sprintf("%s %s: Qdrant sent no data for %s: the node stalled mid-body", e.Method, e.Path, e.After)
	}
	return fmt.Sprintf("%s %s: Qdrant sent no response headers within %s", e.Method, e.Path, e.After)
}

// Timeout marks a timeout, as net.Error does.
func (e *TimeoutError) Timeout() bool { return true }

// IsTimeout reports whether err is (or wraps) a *TimeoutError.
func IsTimeout(err error) bool { return isType[*TimeoutError](err) }

// newStatusError maps an HTTP status to its typed error.
func newStatusError(method, path string, status int, msg string, retryAfter time.Duration) error {
	base := APIError{StatusCode: status, Message: msg, Method: method, Path: path}
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return &BadRequestError{base}
	case http.StatusUnauthorized:
		return &UnauthorizedError{base}
	case http.StatusForbidden:
		return &ForbiddenError{base}
	case http.StatusNotFound:
		return &NotFoundError{base}
	case http.StatusConflict:
		return &ConflictError{base}
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return &UnavailableError{base}
	case http.StatusTooManyRequests:
		return &TooManyRequestsError{APIError: base, RetryAfter: retryAfter}
	}
	return &base
}

// IsNotFound reports whether err is (or wraps) a 404 from Qdrant.
func IsNotFound(err error) bool { return isType[*NotFoundError](err) }

// IsConflict reports whether err is (or wraps) a 409 from Qdrant.
func IsConflict(err error) bool { return isType[*ConflictError](err) }

// IsBadRequest reports whether err is (or wraps) a 400 or 422 from Qdrant.
func IsBadRequest(err error) bool { return isType[*BadRequestError](err) }

// IsUnauthorized reports whether err is (or wraps) a 401 from Qdrant.
func IsUnauthorized(err error) bool { return isType[*UnauthorizedError](err) }

// IsForbidden reports whether err is (or wraps) a 403 from Qdrant.
func IsForbidden(err error) bool { return isType[*ForbiddenError](err) }

// IsUnavailable reports whether err is (or wraps) a 502, 503 or 504.
func IsUnavailable(err error) bool { return isType[*UnavailableError](err) }

// IsTooManyRequests reports whether err is (or wraps) a 429 from Qdrant.
func IsTooManyRequests(err error) bool { return isType[*TooManyRequestsError](err) }

func isType[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// IsRetryable reports whether the failed call may succeed if repeated: a 5xx
// or 429 answer, or a connection that failed before an answer arrived. It is
// false for context cancellation and for every other 4xx. Whether a call is
// safe to repeat is a separate question the caller must answer.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrRefusedAddress) {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Temporary()
	}
	return IsTimeout(err) || isConnectionError(err)
}

// isConnectionError recognises failures where the server never answered.
func isConnectionError(err error) bool {
	for _, target := range []error{
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		io.EOF, io.ErrUnexpectedEOF,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// errorFromResponse turns a non-2xx response into a typed error. It reads at
// most maxErrorBody bytes and understands both the JSON error envelope and the
// plain-text bodies of file endpoints and 401s.
func errorFromResponse(method, path string, resp *http.Response, scrub func(string) string) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	msg := truncate(scrub(errorMessage(b)), maxMessage)
	if msg == "" {
		msg = strings.ToLower(http.StatusText(resp.StatusCode))
	}
	var retryAfter time.Duration
	if resp.StatusCode == http.StatusTooManyRequests {
		retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return newStatusError(method, path, resp.StatusCode, msg, retryAfter)
}

// errorMessage extracts Qdrant's text from {"status":{"error":"…"}}, from
// {"status":"already_in_progress"}, or else takes the body as plain text.
func errorMessage(b []byte) string {
	var env struct {
		Status json.RawMessage `json:"status"`
	}
	if json.Unmarshal(b, &env) == nil && len(env.Status) > 0 {
		var obj struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(env.Status, &obj) == nil && obj.Error != "" {
			return strings.TrimSpace(obj.Error)
		}
		var s string
		if json.Unmarshal(env.Status, &s) == nil && s != "" {
			return s
		}
	}
	return strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// parseRetryAfter reads delay-seconds or an HTTP date; zero when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// redactURLs removes the query, fragment and user info of every URL in s,
// e.g. in Qdrant's "Failed to download tar from <url>": presigned URLs carry
// their signature, a credential, in the query.
func redactURLs(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		start := i
		for start > 0 && isSchemeByte(s[start-1]) {
			start--
		}
		end := i + 3
		for end < len(s) && !isURLDelimiter(s[end]) {
			end++
		}
		// Punctuation ending a sentence ("…?sig=x: status") stays visible.
		for end > i+3 && strings.IndexByte(".,;:!)]}", s[end-1]) >= 0 {
			end--
		}
		b.WriteString(s[:start])
		b.WriteString(redactURL(s[start:end]))
		s = s[end:]
	}
}

func isSchemeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-'
}

func isURLDelimiter(c byte) bool {
	return c <= ' ' || strings.IndexByte("\"'<>`", c) >= 0
}

func redactURL(raw string) string {
	cut := len(raw)
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		cut = i
	}
	out := raw[:cut]
	if at := strings.LastIndex(out, "@"); at >= 0 {
		if scheme := strings.Index(out, "://"); scheme >= 0 && at > scheme {
			out = out[:scheme+3] + "REDACTED@" + out[at+1:]
		}
	}
	if cut < len(raw) {
		out += "?REDACTED"
	}
	return out
}

// scrubber returns a function that removes secrets and URL queries from text
// that Qdrant or the network stack produced.
func scrubber(secrets ...string) func(string) string {
	return func(s string) string {
		for _, secret := range secrets {
			if secret != "" {
				s = strings.ReplaceAll(s, secret, "REDACTED")
			}
		}
		return redactURLs(s)
	}
}

// sanitizeTransportError strips query and user info from the URL of a
// *url.Error, keeping its type so errors.As and errors.Is still work.
func sanitizeTransportError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	clean := &url.Error{Op: ue.Op, URL: "(redacted URL)", Err: ue.Err}
	if u, perr := url.Parse(ue.URL); perr == nil {
		u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
		clean.URL = u.String()
	}
	return clean
}
