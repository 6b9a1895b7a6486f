package testenv

import (
	"fmt"
	"os"
	"testing"
)

// Main runs a test package's tests against one control plane it starts and
// stops around them. Without the binaries the tests are skipped, saying why,
// except in CI, where that is a failure.
func Main(m *testing.M, env **Env) {
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
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "cannot stop control plane:", err)
	}
	os.Exit(code)
}
