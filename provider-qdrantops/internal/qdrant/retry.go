package qdrant

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// RetryPolicy bounds the retries of idempotent calls. Zero fields take the
// defaults; MaxAttempts 1 disables retries.
type RetryPolicy struct {
	MaxAttempts int           // attempts in total, default 4
	BaseDelay   time.Duration // first delay, default 250ms
	MaxDelay    time.Duration // cap of any delay, default 10s
}

// Retry defaults.
const (
	DefaultMaxAttempts = 4
	DefaultBaseDelay   = 250 * time.Millisecond
	DefaultMaxDelay    = 10 * time.Second
)

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts < 1 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	p.BaseDelay = min(p.BaseDelay, p.MaxDelay)
	return p
}

// backoff is the delay before retry number n (0-based): base*2^n capped at
// MaxDelay, plus up to 20% jitter so that many reconcilers hitting one node
// spread out. jitter is a fraction in [0, 1).
func (p RetryPolicy) backoff(n int, jitter float64) time.Duration {
	d := p.MaxDelay
	if n < 62 {
		if exp := p.BaseDelay << n; exp > 0 && exp>>n == p.BaseDelay {
			d = min(exp, p.MaxDelay)
		}
	}
	return d + time.Duration(float64(d)*0.2*jitter)
}

// delay picks the wait after a failed attempt: the server's Retry-After
// (capped at MaxDelay) for a 429 that sent one, else the backoff.
func (p RetryPolicy) delay(n int, err error) time.Duration {
	var tooMany *TooManyRequestsError
	if errors.As(err, &tooMany) && tooMany.RetryAfter > 0 {
		return min(tooMany.RetryAfter, p.MaxDelay)
	}
	return p.backoff(n, rand.Float64()) //nolint:gosec // Jitter spreads retries; it guards no secret.
}

// withRetry runs attempt until it succeeds, fails for good, or the attempts
// of an idempotent request run out. A non-idempotent request gets exactly one
// attempt: repeating it could create a second snapshot, recover twice, or
// resend a one-shot upload stream.
func (c *Client) withRetry(ctx context.Context, r *request, attempt func() error) error {
	attempts := 1
	if r.idempotent {
		attempts = c.retry.MaxAttempts
	}
	for n := 0; ; n++ {
		err := attempt()
		if err == nil {
			return nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("%s %s: %w", r.method, r.path, ctxErr)
		}
		if n+1 >= attempts || !IsRetryable(err) {
			if n > 0 {
				return fmt.Errorf("%w (after %d attempts)", err, n+1)
			}
			return err
		}
		if err := c.sleep(ctx, c.retry.delay(n, err)); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				err = ctxErr
			}
			return fmt.Errorf("%s %s: cannot wait to retry: %w", r.method, r.path, err)
		}
	}
}
