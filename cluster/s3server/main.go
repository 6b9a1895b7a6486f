package s3server

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
)

// Main runs a test package's tests with one S3 server it starts and stops
// around them. Without the server's binary the tests are skipped, saying why,
// except in CI (CI set to anything), where that is a failure. Under -short
// ('make test-unit') they are skipped.
func Main(m *testing.M, srv **Server) {
	skipShort("S3")
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

// skipShort ends a test binary whose tests all need the test ground when
// they run under -short, the unit tests' mode: a TestMain reads flags before
// testing does.
func skipShort(what string) {
	if !flag.Parsed() {
		flag.Parse()
	}
	if testing.Short() {
		fmt.Fprintf(os.Stderr, "skipping %s tests under -short\n", what)
		os.Exit(0)
	}
}
