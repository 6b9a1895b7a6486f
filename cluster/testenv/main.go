package testenv

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// Main runs a test package's tests against one control plane it starts and
// stops around them. Without the binaries the tests are skipped, saying why,
// except in CI (CI set to anything), where that is a failure. Under -short
// ('make test-unit') they are skipped. Each extra function starts more of
// the test ground and returns how to stop it.
func Main(m *testing.M, env **Env, extra ...func() (stop func(), err error)) {
	skipShort("integration")
	if why := Available(); why != "" {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "integration tests cannot run in CI:", why)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "skipping integration tests:", why)
		os.Exit(0)
	}
	e, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*env = e
	var stops []func()
	for _, start := range extra {
		stop, err := start()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			_ = e.Stop()
			os.Exit(1)
		}
		stops = append(stops, stop)
	}
	code := m.Run()
	for _, stop := range stops {
		stop()
	}
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "cannot stop control plane:", err)
	}
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
