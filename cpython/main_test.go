package cpython_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
	"github.com/subinterp/subinterp/internal/testutil"
)

// rt is the process's runtime, shared by every test in this package
// (CPython has one runtime per process). Tests of the runtime's own life
// cycle re-run this binary in a subprocess (see lifecycle_test.go).
var rt *cpython.Runtime

// packageExampleEnv makes the test binary run only the package example,
// which starts CPython itself: the runtime starts once per process, so it
// runs in a process of its own (TestPackageExample).
const packageExampleEnv = "SUBINTERP_TEST_PACKAGE_EXAMPLE"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	if os.Getenv(packageExampleEnv) != "" {
		os.Exit(m.Run()) // with -test.run=^Example$
	}
	flag.Parse()
	skip := "^Example$"
	if prev := flag.Lookup("test.skip").Value.String(); prev != "" {
		skip = prev + "|" + skip
	}
	if err := flag.Set("test.skip", skip); err != nil {
		panic(err)
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

// TestPackageExample runs the package example, which calls Initialize, in
// a process of its own and checks that it passes (its output included).
func TestPackageExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(bg, 2*failAfter)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^Example$", "-test.v")
	cmd.Env = append(os.Environ(), packageExampleEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "the example did not end; output:\n%s", out)
	require.NoError(t, err, "output:\n%s", out)
	require.Contains(t, string(out), "--- PASS: Example ", "output:\n%s", out)
}
