package cpython_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
	"github.com/subinterp/subinterp/internal/testutil"
)

// rt is the process's runtime, shared by every test in this package
// (CPython has one runtime per process). Tests of the runtime's own life
// cycle re-run this binary in a subprocess (see lifecycle_test.go).
var rt *cpython.Runtime

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	testutil.Main(m, func() (func() error, error) {
		var err error
		rt, err = cpython.Initialize(cpython.RuntimeOptions{NoSite: true})
		if err != nil {
			return nil, err
		}
		return rt.Finalize, nil
	})
}

// newInterp creates an isolated interpreter closed when the test ends.
func newInterp(t testing.TB, cfg ...cpython.Config) *cpython.Interpreter {
	t.Helper()
	c := cpython.IsolatedConfig()
	if len(cfg) > 0 {
		c = cfg[0]
	}
	in, err := rt.NewInterpreter(c)
	require.NoError(t, err)
	t.Cleanup(func() {
		if !in.IsClosed() {
			require.NoError(t, in.Close())
		}
	})
	return in
}

var bg = context.Background()
