package s3server

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// Main runs a test package's tests with one S3 server it starts and stops
// around them. Without the server's binary the tests are skipped, saying why,
// except in CI, where that is a failure.
func Main(m *testing.M, srv **Server) {
	if why := Available(); why != "" {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "S3 tests cannot run in CI:", why)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "skipping S3 tests:", why)
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "s3server")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s, err := Start(context.Background(), dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*srv = s
	code := m.Run()
	s.Stop()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}
