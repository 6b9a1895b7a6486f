package qdrant

import (
	"context"
	"errors"
	"testing"
)

// A tenant's connection URL cannot lead the provider to a cloud's instance
// metadata service, however the address is written or resolved.
func TestMetadataAddressesAreRefused(t *testing.T) {
	for _, u := range []string{
		"http://169.254.169.254",
		"http://169.254.169.254:80/latest",
		"http://[fd00:ec2::254]",
		"http://[fe80::1]:6333",
		"http://0.0.0.0:6333",
		"http://[::ffff:169.254.169.254]",
	} {
		t.Run(u, func(t *testing.T) {
			c, err := New(Config{URL: u})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Version(context.Background())
			if !errors.Is(err, ErrRefusedAddress) || IsRetryable(err) {
				t.Errorf("Version via %s: want ErrRefusedAddress, not retried, got %v", u, err)
			}
		})
	}
}
