package flux_test

import (
	"os"
	"sync"
	"testing"

	"github.com/qdrantops/qdrantops/cluster/testenv"
)

// The control plane the integration tests of this package share, started by
// the first that needs it, so that the unit tests run without one (make
// test-unit) and the integration tests start one apiserver, not one each.
var (
	envOnce sync.Once
	env     *testenv.Env
	errEnv  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if env != nil {
		_ = env.Stop()
	}
	os.Exit(code)
}

// controlPlane returns the shared control plane. Without the test ground an
// integration test is skipped, saying why, except in CI (CI set), where that
// is a failure; under -short it is skipped.
func controlPlane(t *testing.T) *testenv.Env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	if why := testenv.Available(); why != "" {
		if os.Getenv("CI") != "" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	envOnce.Do(func() { env, errEnv = testenv.Start() })
	if errEnv != nil {
		t.Fatal(errEnv)
	}
	return env
}
