package qdrant

import (
	"context"
	"fmt"
	"net/http"
)

// Version returns the node's version from GET /, which needs no api key and
// answers without the JSON envelope.
func (c *Client) Version(ctx context.Context) (VersionInfo, error) {
	var v VersionInfo
	r := &request{method: http.MethodGet, path: "/", idempotent: true}
	if err := c.doPlain(ctx, r, &v); err != nil {
		return VersionInfo{}, fmt.Errorf("cannot get Qdrant version: %w", err)
	}
	if v.Version == "" {
		return VersionInfo{}, fmt.Errorf("cannot get Qdrant version: %s answered without a version", c.base)
	}
	return v, nil
}

// Healthz checks that the node's HTTP server answers (GET /healthz).
func (c *Client) Healthz(ctx context.Context) error {
	r := &request{method: http.MethodGet, path: "/healthz", idempotent: true}
	if err := c.doPlain(ctx, r, nil); err != nil {
		return fmt.Errorf("cannot check Qdrant health: %w", err)
	}
	return nil
}

// Readyz checks that the node has caught up with consensus and its shards are
// ready (GET /readyz); a 503 is returned as *UnavailableError. It is not
// retried: "not ready" is an answer, and callers poll.
func (c *Client) Readyz(ctx context.Context) error {
	r := &request{method: http.MethodGet, path: "/readyz"}
	if err := c.doPlain(ctx, r, nil); err != nil {
		return fmt.Errorf("cannot check Qdrant readiness: %w", err)
	}
	return nil
}
