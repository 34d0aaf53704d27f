package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/internal/testutil"
)

// binary is the subinterp command built for the end-to-end tests. CPython
// starts once per process, so each test runs the command in a process of
// its own rather than calling its entry point here.
var binary string

func TestMain(m *testing.M) {
	testutil.Main(m, buildBinary)
}

// buildBinary builds the command into a temporary directory, which the
// teardown it returns removes.
func buildBinary() (func() error, error) {
	dir, err := os.MkdirTemp("", "subinterp-cmd-test-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	binary = filepath.Join(dir, "subinterp")
	// The cgo environment (scripts/python.sh) is inherited from the test run.
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("building subinterp: %w", err)
	}
	return func() error {
		os.RemoveAll(dir)
		return nil
	}, nil
}

// result is what one run of the binary did.
// hangAfter is when a command the tests run counts as hung: far beyond
// what the slowest (microbench --quick against a debug CPython, on a
// machine that runs other suites too: over a minute) needs, so it never
// fails a slow run, only a stuck one.
const hangAfter = 8 * time.Minute

type result struct {
	stdout, stderr string
	code           int
}

// runBinary runs the built command with args in dir ("" for the package
// directory) and returns its output and exit code. It fails the test if the
// command has not ended after hangAfter.
func runBinary(t *testing.T, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangAfter)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "subinterp %q did not finish; stderr:\n%s", args, stderr.String())
	var exitErr *exec.ExitError
	code := 0
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}
