// Package openapicheck checks the emulator's requests and responses against
// Qdrant's own OpenAPI schema, so that the emulator and the client that talks to
// it cannot drift from the real REST contract together. The schema is Qdrant's
// text and is never copied into this repository: QDRANT_OPENAPI names the file.
package openapicheck

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/qdrantops/qdrantops/cluster/qdrantemu"
)

// EnvVar names the file holding Qdrant's OpenAPI schema.
const EnvVar = "QDRANT_OPENAPI"

// A Checker validates exchanges and remembers what failed.
type Checker struct {
	router routers.Router

	mu       sync.Mutex
	problems []string
	checked  map[string]int // operation id -> exchanges checked
}

// Load reads an OpenAPI file.
func Load(path string) (*Checker, error) {
	b, err := os.ReadFile(path) //nolint:gosec // A path the test run names.
	if err != nil {
		return nil, fmt.Errorf("cannot read OpenAPI schema: %w", err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("cannot parse OpenAPI schema: %w", err)
	}
	// Match any host: the emulator listens on loopback ports, not Qdrant's servers.
	doc.Servers = nil
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("cannot route OpenAPI schema: %w", err)
	}
	return &Checker{router: r, checked: map[string]int{}}, nil
}

// FromEnv loads the schema named by QDRANT_OPENAPI, skipping the test (and
// saying why) when it is not set.
func FromEnv(t testing.TB) *Checker {
	t.Helper()
	p := os.Getenv(EnvVar)
	if p == "" {
		t.Skipf("%s is not set: it names Qdrant's openapi-v1.19.0.json (.ci/run points it at ../shared/qdrant/); contract checks need it", EnvVar)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Observe validates one exchange; use it as qdrantemu.Options.Observe.
func (c *Checker) Observe(ex qdrantemu.Exchange) {
	ctx := context.Background()
	req := ex.Request.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(ex.RequestBody))
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.fail("%s %s: no such operation in Qdrant's API: %v", req.Method, req.URL.Path, err)
		return
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		// Multipart uploads and bodyless requests carry no JSON to check.
		ExcludeRequestBody: ex.RequestBody == nil,
		MultiError:         true,
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	op := route.Operation.OperationID
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		c.fail("%s request %s %s: %v\n  body: %s", op, req.Method, req.URL.RequestURI(), err, clip(ex.RequestBody))
	}
	if ex.ResponseBody != nil {
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in,
			Status:                 ex.Status,
			Header:                 ex.ResponseHeader,
			Body:                   io.NopCloser(bytes.NewReader(ex.ResponseBody)),
			Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: false},
		}
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			c.fail("%s response %d to %s %s: %v\n  body: %s", op, ex.Status, req.Method, req.URL.RequestURI(), err, clip(ex.ResponseBody))
		}
	}
	c.mu.Lock()
	c.checked[fmt.Sprintf("%s %d", op, ex.Status)]++
	c.mu.Unlock()
}

func (c *Checker) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.problems) < 50 {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

// Verify fails the test for every exchange that broke the contract, and when
// none was checked at all.
func (c *Checker) Verify(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.problems {
		t.Error(p)
	}
	if len(c.checked) == 0 {
		t.Error("no exchange was checked against the OpenAPI schema")
	}
}

// Operations lists the operations and statuses checked, with counts.
func (c *Checker) Operations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.checked))
	for k, n := range c.checked {
		out = append(out, fmt.Sprintf("%s x%d", k, n))
	}
	sort.Strings(out)
	return out
}

func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 400 {
		return s[:400] + "..."
	}
	return s
}

// Ensure the handler type stays compatible with the emulator's hook.
var _ func(qdrantemu.Exchange) = (&Checker{}).Observe

func mustEnv() string { return os.Getenv(EnvVar) }
