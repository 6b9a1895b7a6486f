package qdrant

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestErrorFromResponse(t *testing.T) {
	long := strings.Repeat("x", 5000)
	type args struct {
		status int
		header http.Header
		body   string
	}
	cases := map[string]struct {
		reason string
		args   args
		want   error
	}{
		"JSONEnvelopeNotFound": {
			reason: "A JSON error envelope without result gives a *NotFoundError with Qdrant's text.",
			args:   args{status: 404, body: "{\"status\":{\"error\":\"Not found: Collection `foo` doesn't exist!\"},\"time\":0.000031}"},
			want:   &NotFoundError{APIError{StatusCode: 404, Message: "Not found: Collection `foo` doesn't exist!", Method: "GET", Path: "/p"}},
		},
		"JSONEnvelopeResultNull": {
			reason: "Older versions send \"result\": null next to the error.",
			args:   args{status: 400, body: `{"result":null,"status":{"error":"Wrong input: bad"},"time":0.0}`},
			want:   &BadRequestError{APIError{StatusCode: 400, Message: "Wrong input: bad", Method: "GET", Path: "/p"}},
		},
		"ValidationError422": {
			reason: "422 validation failures are bad requests too.",
			args:   args{status: 422, body: `{"status":{"error":"Validation error in path parameters: checksum"},"time":0.0}`},
			want:   &BadRequestError{APIError{StatusCode: 422, Message: "Validation error in path parameters: checksum", Method: "GET", Path: "/p"}},
		},
		"PlainTextUnauthorized": {
			reason: "401s are plain text.",
			args:   args{status: 401, body: "Invalid API key or JWT"},
			want:   &UnauthorizedError{APIError{StatusCode: 401, Message: "Invalid API key or JWT", Method: "GET", Path: "/p"}},
		},
		"PlainTextForbidden": {
			reason: "The upload endpoints reject early in plain text.",
			args:   args{status: 403, body: "Forbidden: Global manage access is required\n"},
			want:   &ForbiddenError{APIError{StatusCode: 403, Message: "Forbidden: Global manage access is required", Method: "GET", Path: "/p"}},
		},
		"PlainTextNotFound": {
			reason: "File endpoints answer 404 in plain text.",
			args:   args{status: 404, body: "Not found: Snapshot x.snapshot not found"},
			want:   &NotFoundError{APIError{StatusCode: 404, Message: "Not found: Snapshot x.snapshot not found", Method: "GET", Path: "/p"}},
		},
		"Conflict": {
			reason: "409 is a *ConflictError.",
			args:   args{status: 409, body: "{\"status\":{\"error\":\"Wrong input: Collection `c` already exists!\"},\"time\":0.0}"},
			want:   &ConflictError{APIError{StatusCode: 409, Message: "Wrong input: Collection `c` already exists!", Method: "GET", Path: "/p"}},
		},
		"AlreadyInProgress": {
			reason: "A string status is used as the message.",
			args:   args{status: 503, body: `{"status":"already_in_progress","time":0.0}`},
			want:   &UnavailableError{APIError{StatusCode: 503, Message: "already_in_progress", Method: "GET", Path: "/p"}},
		},
		"BadGateway": {
			reason: "A proxy's 502 is an unavailable node.",
			args:   args{status: 502, body: "<html>bad gateway</html>"},
			want:   &UnavailableError{APIError{StatusCode: 502, Message: "<html>bad gateway</html>", Method: "GET", Path: "/p"}},
		},
		"GatewayTimeout": {
			reason: "A proxy's 504 is an unavailable node.",
			args:   args{status: 504},
			want:   &UnavailableError{APIError{StatusCode: 504, Message: "gateway timeout", Method: "GET", Path: "/p"}},
		},
		"TooManyRequests": {
			reason: "429 carries Retry-After.",
			args:   args{status: 429, header: http.Header{"Retry-After": {"7"}}, body: `{"status":{"error":"Rate limiting exceeded: slow down"},"time":0.0}`},
			want: &TooManyRequestsError{APIError: APIError{StatusCode: 429, Message: "Rate limiting exceeded: slow down", Method: "GET", Path: "/p"},
				RetryAfter: 7 * time.Second},
		},
		"InternalError": {
			reason: "Other statuses give the generic *APIError.",
			args:   args{status: 500, body: `{"status":{"error":"Service internal error: boom"},"time":0.0}`},
			want:   &APIError{StatusCode: 500, Message: "Service internal error: boom", Method: "GET", Path: "/p"},
		},
		"StandaloneMode": {
			reason: "405 (standalone mode, 1.19) is a generic *APIError.",
			args:   args{status: 405, body: `{"status":{"error":"Qdrant is running in standalone mode"},"time":0.0}`},
			want:   &APIError{StatusCode: 405, Message: "Qdrant is running in standalone mode", Method: "GET", Path: "/p"},
		},
		"EmptyBody": {
			reason: "Without a body the status text is the message.",
			args:   args{status: 507},
			want:   &APIError{StatusCode: 507, Message: "insufficient storage", Method: "GET", Path: "/p"},
		},
		"LongBodyCapped": {
			reason: "Messages are capped at 1 KiB.",
			args:   args{status: 500, body: long},
			want:   &APIError{StatusCode: 500, Message: long[:maxMessage] + "…", Method: "GET", Path: "/p"},
		},
		"URLQueryRedacted": {
			reason: "Presigned URLs echoed by Qdrant lose their query.",
			args:   args{status: 400, body: `{"status":{"error":"Wrong input: Failed to download tar from https://b.example/k.snapshot?X-Amz-Signature=abc: status - 404 Not Found"},"time":0.0}`},
			want: &BadRequestError{APIError{StatusCode: 400, Method: "GET", Path: "/p",
				Message: "Wrong input: Failed to download tar from https://b.example/k.snapshot?REDACTED: status - 404 Not Found"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.args.status, Header: tc.args.header, Body: io.NopCloser(strings.NewReader(tc.args.body))}
			if resp.Header == nil {
				resp.Header = http.Header{}
			}
			got := errorFromResponse("GET", "/p", resp, scrubber())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nerrorFromResponse(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestErrorHelpers(t *testing.T) {
	base := APIError{Method: "GET", Path: "/p"}
	cases := map[string]struct {
		reason string
		err    error
		want   string
	}{
		"BadRequest":      {reason: "IsBadRequest sees through wrapping.", err: &BadRequestError{base}, want: "BadRequest"},
		"Unauthorized":    {reason: "IsUnauthorized sees through wrapping.", err: &UnauthorizedError{base}, want: "Unauthorized"},
		"Forbidden":       {reason: "IsForbidden sees through wrapping.", err: &ForbiddenError{base}, want: "Forbidden"},
		"NotFound":        {reason: "IsNotFound sees through wrapping.", err: &NotFoundError{base}, want: "NotFound"},
		"Conflict":        {reason: "IsConflict sees through wrapping.", err: &ConflictError{base}, want: "Conflict"},
		"Unavailable":     {reason: "IsUnavailable sees through wrapping.", err: &UnavailableError{base}, want: "Unavailable"},
		"TooManyRequests": {reason: "IsTooManyRequests sees through wrapping.", err: &TooManyRequestsError{APIError: base}, want: "TooManyRequests"},
		"Generic":         {reason: "Other statuses are only an *APIError.", err: &APIError{StatusCode: 418}, want: "APIError 418"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			wrapped := fmt.Errorf("cannot do it: %w", tc.err)
			if diff := cmp.Diff(tc.want, errorKind(wrapped)); diff != "" {
				t.Errorf("%s\nerrorKind(...): -want, +got:\n%s", tc.reason, diff)
			}
			var apiErr *APIError
			if !errors.As(wrapped, &apiErr) {
				t.Errorf("%s\nerrors.As(*APIError) = false, want true for every typed error", tc.reason)
			}
		})
	}
}

func TestIsRetryable(t *testing.T) {
	cases := map[string]struct {
		reason string
		err    error
		want   bool
	}{
		"Status500":        {reason: "Internal errors are retried.", err: &APIError{StatusCode: 500}, want: true},
		"Status502":        {reason: "Proxy errors are retried.", err: &UnavailableError{APIError{StatusCode: 502}}, want: true},
		"Status503":        {reason: "Unavailable shards are retried.", err: &UnavailableError{APIError{StatusCode: 503}}, want: true},
		"Status504":        {reason: "Gateway timeouts are retried.", err: &UnavailableError{APIError{StatusCode: 504}}, want: true},
		"Status429":        {reason: "Rate limits are retried.", err: &TooManyRequestsError{APIError: APIError{StatusCode: 429}}, want: true},
		"Status400":        {reason: "Bad input is final.", err: &BadRequestError{APIError{StatusCode: 400}}, want: false},
		"Status401":        {reason: "Auth failures are final.", err: &UnauthorizedError{APIError{StatusCode: 401}}, want: false},
		"Status403":        {reason: "Forbidden is final.", err: &ForbiddenError{APIError{StatusCode: 403}}, want: false},
		"Status404":        {reason: "Not found is final.", err: &NotFoundError{APIError{StatusCode: 404}}, want: false},
		"Status409":        {reason: "Conflicts are final.", err: &ConflictError{APIError{StatusCode: 409}}, want: false},
		"Status507":        {reason: "Insufficient storage is not transient.", err: &APIError{StatusCode: 507}, want: false},
		"Refused":          {reason: "A refused dial never reached Qdrant.", err: &url.Error{Op: "Get", URL: "http://x", Err: syscall.ECONNREFUSED}, want: true},
		"Reset":            {reason: "A reset connection is retried.", err: &url.Error{Op: "Get", URL: "http://x", Err: syscall.ECONNRESET}, want: true},
		"EOF":              {reason: "EOF before a response is retried.", err: &url.Error{Op: "Get", URL: "http://x", Err: io.EOF}, want: true},
		"Canceled":         {reason: "Cancellation is final.", err: &url.Error{Op: "Get", URL: "http://x", Err: context.Canceled}, want: false},
		"DeadlineExceeded": {reason: "A passed deadline is final.", err: fmt.Errorf("x: %w", context.DeadlineExceeded), want: false},
		"TLS":              {reason: "An untrusted certificate will not change.", err: &url.Error{Op: "Get", URL: "https://x", Err: x509.UnknownAuthorityError{}}, want: false},
		"Other":            {reason: "Unknown errors are not retried.", err: errors.New("boom"), want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, IsRetryable(fmt.Errorf("wrapped: %w", tc.err))); diff != "" {
				t.Errorf("%s\nIsRetryable(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 8, 4, 10, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		reason string
		value  string
		want   time.Duration
	}{
		"Seconds":  {reason: "Delay-seconds is the usual form.", value: "3", want: 3 * time.Second},
		"HTTPDate": {reason: "An HTTP date is relative to now.", value: "Tue, 04 Aug 2026 10:00:30 GMT", want: 30 * time.Second},
		"Past":     {reason: "A past date means no wait.", value: "Tue, 04 Aug 2026 09:00:00 GMT", want: 0},
		"Negative": {reason: "Negative seconds are ignored.", value: "-5", want: 0},
		"Garbage":  {reason: "Unparsable values are ignored.", value: "soon", want: 0},
		"Empty":    {reason: "No header, no wait.", value: "", want: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, parseRetryAfter(tc.value, now)); diff != "" {
				t.Errorf("%s\nparseRetryAfter(%q): -want, +got:\n%s", tc.reason, tc.value, diff)
			}
		})
	}
}

func TestScrubber(t *testing.T) {
	cases := map[string]struct {
		reason  string
		secrets []string
		in      string
		want    string
	}{
		"QueryAndFragment": {
			reason: "Queries and fragments of any URL are cut.",
			in:     "from https://h/p.snapshot?sig=1#frag: 404",
			want:   "from https://h/p.snapshot?REDACTED: 404",
		},
		"ReqwestSendError": {
			reason: "Qdrant's message for a store it cannot reach prints reqwest's error, the whole URL in parentheses.",
			in:     "Service internal error: Http request error: error sending request for url (http://s3:9000/b/k.snapshot?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=abc123)",
			want:   "Service internal error: Http request error: error sending request for url (http://s3:9000/b/k.snapshot?REDACTED)",
		},
		"UserInfo": { //nolint:gosec // A fake credential the test expects redacted.
			reason: "User info in a URL is a credential.",
			in:     "GET http://user:pw@h/x failed",
			want:   "GET http://REDACTED@h/x failed",
		},
		"SeveralURLs": {
			reason: "Every URL in the text is handled.",
			in:     "a file:///s/x?q=1 and `http://h?a=b`",
			want:   "a file:///s/x?REDACTED and `http://h?REDACTED`",
		},
		"Secrets": {
			reason:  "Known secrets are replaced wherever they appear.",
			secrets: []string{"topsecret", ""},
			in:      "key topsecret was wrong",
			want:    "key REDACTED was wrong",
		},
		"NoURL": {
			reason: "Text without URLs is unchanged.",
			in:     "Not found: Collection `c` doesn't exist!",
			want:   "Not found: Collection `c` doesn't exist!",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, scrubber(tc.secrets...)(tc.in)); diff != "" {
				t.Errorf("%s\nscrubber(...)(%q): -want, +got:\n%s", tc.reason, tc.in, diff)
			}
		})
	}
}

func TestSanitizeTransportError(t *testing.T) {
	in := &url.Error{Op: "Put", URL: "http://u:p@h:1/c/recover?wait=true&sig=s3cr3t", Err: syscall.ECONNREFUSED} //nolint:gosec // A fake credential the test expects redacted.
	got := sanitizeTransportError(fmt.Errorf("x: %w", in))
	if strings.Contains(got.Error(), "s3cr3t") || strings.Contains(got.Error(), "u:p") {
		t.Errorf("sanitizeTransportError(...) = %q, want no query or user info", got)
	}
	if !errors.Is(got, syscall.ECONNREFUSED) {
		t.Errorf("sanitizeTransportError(...) lost the cause: %v", got)
	}
	if diff := cmp.Diff("Put \"http://h:1/c/recover\": connection refused", got.Error()); diff != "" {
		t.Errorf("sanitizeTransportError(...).Error(): -want, +got:\n%s", diff)
	}
}

func TestTruncate(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     string
		n      int
		want   string
	}{
		"Short":        {reason: "Short text is kept.", in: "abc", n: 5, want: "abc"},
		"Cut":          {reason: "Long text is cut and marked.", in: "abcdef", n: 3, want: "abc…"},
		"RuneBoundary": {reason: "A multi-byte rune is never split.", in: "aé", n: 2, want: "a…"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, truncate(tc.in, tc.n)); diff != "" {
				t.Errorf("%s\ntruncate(%q, %d): -want, +got:\n%s", tc.reason, tc.in, tc.n, diff)
			}
		})
	}
}
