package cpython_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
)

// helperEnv makes the test binary run one life-cycle scenario instead of
// the tests: the runtime can start only once per process, so each scenario
// needs a process of its own.
const helperEnv = "SUBINTERP_TEST_HELPER"

// helperModes are scenarios other test files add (in init functions).
var helperModes = map[string]func() error{}

func runHelper(mode string) int {
	var err error
	switch mode {
	case "lifecycle":
		err = helperLifecycle()
	case "options":
		err = helperOptions()
	case "pep-run-in-thread":
		err = helperPEPRunInThread()
	default:
		if h, ok := helperModes[mode]; ok {
			err = h()
		} else {
			err = fmt.Errorf("unknown helper mode %q", mode)
		}
	}
	if err != nil {
		fmt.Println("FAIL:", err)
		return 1
	}
	fmt.Println("HELPER OK")
	return 0
}

func expect(err, target error, what string) error {
	if !errors.Is(err, target) {
		return fmt.Errorf("%s: got %v, want %v", what, err, target)
	}
	return nil
}

func helperLifecycle() error {
	var none *cpython.Runtime
	if _, err := none.NewInterpreter(cpython.IsolatedConfig()); !errors.Is(err, cpython.ErrNotInitialized) {
		return fmt.Errorf("NewInterpreter before Initialize: %v", err)
	}
	if err := none.Finalize(); !errors.Is(err, cpython.ErrNotInitialized) {
		return fmt.Errorf("Finalize before Initialize: %v", err)
	}
	rt, err := cpython.Initialize(cpython.RuntimeOptions{})
	if err != nil {
		return err
	}
	if _, err := cpython.Initialize(cpython.RuntimeOptions{}); !errors.Is(err, cpython.ErrAlreadyInitialized) {
		return fmt.Errorf("second Initialize: %v", err)
	}
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	if err != nil {
		return err
	}
	// A running interpreter is interrupted by Finalize, not waited for.
	done := make(chan error, 1)
	go func() { done <- in.Exec(bg, "while True: pass") }()
	for deadline := time.Now().Add(failAfter); !in.IsRunning(); runtime.Gosched() {
		if time.Now().After(deadline) {
			return fmt.Errorf("the Exec did not start within %v", failAfter)
		}
	}
	legacy, err := rt.NewInterpreter(cpython.LegacyConfig())
	if err != nil {
		return err
	}
	if err := rt.Finalize(); err != nil {
		return fmt.Errorf("finalize: %w", err)
	}
	if err := expect(<-done, cpython.ErrInterrupted, "interrupted by Finalize"); err != nil {
		return err
	}
	if !in.IsClosed() || !legacy.IsClosed() {
		return errors.New("Finalize left an interpreter open")
	}
	if err := expect(in.Exec(bg, "pass"), cpython.ErrClosed, "Exec after Finalize"); err != nil {
		return err
	}
	if _, err := rt.NewInterpreter(cpython.IsolatedConfig()); !errors.Is(err, cpython.ErrFinalized) {
		return fmt.Errorf("NewInterpreter after Finalize: %v", err)
	}
	if err := expect(rt.Finalize(), cpython.ErrFinalized, "second Finalize"); err != nil {
		return err
	}
	if _, err := cpython.Initialize(cpython.RuntimeOptions{}); !errors.Is(err, cpython.ErrFinalized) {
		return fmt.Errorf("Initialize after Finalize: %v", err)
	}
	return nil
}

func helperOptions() error {
	dir := os.Getenv("SUBINTERP_TEST_DIR")
	rt, err := cpython.Initialize(cpython.RuntimeOptions{
		NoSite:      true,
		Argv:        []string{"prog", "--flag"},
		ModulePaths: []string{dir},
	})
	if err != nil {
		return err
	}
	defer rt.Finalize()
	for _, in := range []*cpython.Interpreter{rt.Main(), must(rt.NewInterpreter(cpython.IsolatedConfig()))} {
		v, err := in.Eval(bg, "(__import__('sys').argv, 'site' in __import__('sys').modules, __import__('helpermod').VALUE)")
		if err != nil {
			return err
		}
		got := fmt.Sprint(v)
		if got != "[[prog --flag] false 42]" {
			return fmt.Errorf("interpreter %d: argv/site/module path: %s", in.ID(), got)
		}
	}
	return nil
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func runHelperProcess(t *testing.T, mode string, env ...string) {
	t.Helper()
	// A helper stuck in a wait is killed: the test fails instead of hanging.
	ctx, cancel := context.WithTimeout(context.Background(), 2*failAfter)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+mode), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "helper %s did not end within %v; output:\n%s", mode, 2*failAfter, out)
	require.NoError(t, err, "helper output:\n%s", out)
	assert.Contains(t, string(out), "HELPER OK")
}

func TestLifecycle(t *testing.T) {
	runHelperProcess(t, "lifecycle")
}

func TestRuntimeOptions(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "helpermod.py"), []byte("VALUE = 42\n"), 0o644))
	runHelperProcess(t, "options", "SUBINTERP_TEST_DIR="+dir)
}
