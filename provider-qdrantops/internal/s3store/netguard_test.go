package s3store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/qdrantops/qdrantops/provider-qdrantops/internal/netguard"
)

// A tenant's ProviderConfig names the S3 endpoint: it cannot lead the
// provider to a cloud's instance metadata service, however the address is
// written.
func TestMetadataEndpointsAreRefused(t *testing.T) {
	for _, endpoint := range []string{
		"http://169.254.169.254",
		"http://169.254.169.254:80",
		"http://[fd00:ec2::254]",
		"http://[fe80::1]:9000",
		"http://0.0.0.0:9000",
		"http://[::ffff:169.254.169.254]",
	} {
		t.Run(endpoint, func(t *testing.T) {
			s, err := New(Config{Bucket: "backups", Endpoint: endpoint, UsePathStyle: true, Credentials: aws.AnonymousCredentials{}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := s.Head(ctx, "manifest.json"); !errors.Is(err, netguard.ErrRefused) {
				t.Errorf("Head via %s: want netguard.ErrRefused, got %v", endpoint, err)
			}
		})
	}
}
