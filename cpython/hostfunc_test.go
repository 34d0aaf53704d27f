package cpython_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
)

type ctxKey struct{}

// The runtime is shared by the package's tests, so each test registers
// names of its own.
func TestHostFunctions(t *testing.T) {
	require.NoError(t, rt.RegisterFunc("hf_add", func(a, b int) int { return a + b }))
	require.NoError(t, rt.RegisterFunc("hf_join", func(sep string, parts ...string) string { return strings.Join(parts, sep) }))
	require.NoError(t, rt.RegisterFunc("hf_ctx", func(ctx context.Context) (string, error) {
		v, _ := ctx.Value(ctxKey{}).(string)
		return v, nil
	}))
	require.NoError(t, rt.RegisterFunc("hf_fail", func() error { return errors.New("disk on fire") }))
	require.NoError(t, rt.RegisterFunc("hf_panic", func() int { panic("boom") }))
	require.NoError(t, rt.RegisterFunc("hf_stats", func(xs []float64) map[string]any {
		sum := 0.0
		for _, x := range xs {
			sum += x
		}
		return map[string]any{"n": len(xs), "sum": sum}
	}))
	for _, in := range []*cpython.Interpreter{rt.Main(), newInterp(t), newInterp(t, cpython.LegacyConfig())} {
		ctx := context.WithValue(bg, ctxKey{}, fmt.Sprint("caller of ", in.ID()))
		err := in.Exec(ctx, `
import subinterp
h = subinterp.host
assert h.hf_add(2, 40) == 42
assert h.hf_join("-", "a", "b", "c") == "a-b-c"
assert h.hf_join(",") == ""
assert h.hf_ctx() == expected_ctx, h.hf_ctx()
assert h.hf_stats([1, 2.5]) == {"n": 2, "sum": 3.5}
assert {"hf_add", "hf_join"} <= set(dir(h))
def raises(exc, fn, *args, match=""):
    try:
        fn(*args)
    except exc as e:
        assert match in str(e), (match, str(e))
        return
    raise AssertionError(f"{fn} did not raise {exc.__name__}")
raises(subinterp.HostError, h.hf_fail, match="disk on fire")
raises(subinterp.HostError, h.hf_panic, match="panic in host function hf_panic: boom")
raises(TypeError, h.hf_add, 1, match="takes 2 arguments, got 1")
raises(TypeError, h.hf_add, 1, "2", match="argument 2")
raises(TypeError, h.hf_add, 2**70, 1, match="overflows")
raises(TypeError, lambda: h.hf_add(1, b=2), match="positional")
raises(subinterp.NotShareableError, h.hf_add, object(), 1, match="object")
raises(AttributeError, lambda: h.no_such_function, match="no Go host function")
assert issubclass(subinterp.HostError, RuntimeError)
`, cpython.WithGlobals(map[string]any{"expected_ctx": fmt.Sprint("caller of ", in.ID())}))
		var rf *cpython.RunFailedError
		if errors.As(err, &rf) {
			t.Fatalf("interpreter %d: %v\n%s", in.ID(), rf, rf.Traceback)
		}
		require.NoError(t, err)
	}
}

var releasesGILRound atomic.Int64

// TestHostFunctionReleasesGIL: while a host function blocks, the GIL of
// the interpreter that called it is free. A Python thread of the same
// interpreter runs meanwhile, and so does another interpreter sharing that
// GIL. Were the GIL held across the call, neither could, and the test
// fails at its deadline (then lets the host function return) instead of
// hanging.
func TestHostFunctionReleasesGIL(t *testing.T) {
	entered := make(chan struct{})  // closed when hf_block is entered
	release := make(chan struct{})  // closed to let every host function here return
	progress := make(chan int64, 1) // what the Python thread computed
	var enterOnce, releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	// Names of this run's own: the runtime outlives a test (-count=2).
	round := releasesGILRound.Add(1)
	name := func(base string) string { return fmt.Sprintf("%s_%d", base, round) }
	require.NoError(t, rt.RegisterFunc(name("hf_block"), func() {
		enterOnce.Do(func() { close(entered) })
		<-release
	}))
	// hf_await_block returns true once hf_block is entered: the thread then
	// runs Python code only while the interpreter's own thread is blocked
	// in it. false: the test gave up and released everything.
	require.NoError(t, rt.RegisterFunc(name("hf_await_block"), func() bool {
		select {
		case <-entered:
			return true
		case <-release:
			return false
		}
	}))
	require.NoError(t, rt.RegisterFunc(name("hf_progress"), func(n int64) { progress <- n }))

	a := newInterp(t, cpython.LegacyConfig())
	b := newInterp(t, cpython.LegacyConfig()) // shares a's (the main) GIL
	done := make(chan error, 1)
	go func() {
		done <- a.Exec(bg, `
import subinterp, threading
h = subinterp.host
def work():
    if getattr(h, "hf_await_block_" + suffix)():
        getattr(h, "hf_progress_" + suffix)(sum(range(1000)))
th = threading.Thread(target=work)
th.start()
try:
    getattr(h, "hf_block_" + suffix)()
finally:
    th.join()
`, cpython.WithGlobals(map[string]any{"suffix": fmt.Sprint(round)}))
	}()
	defer func() {
		// Whatever failed, let the host functions return and the Exec end
		// before the interpreters are closed.
		unblock()
		if err, ok := receiveWithin(t, done, "a's Exec to end once released"); ok {
			var rf *cpython.RunFailedError
			if errors.As(err, &rf) {
				t.Errorf("%v\n%s", rf, rf.Traceback)
			}
			assert.NoError(t, err)
		}
	}()

	if _, ok := receiveWithin(t, entered, "a's Python code to call hf_block (a host function that holds the GIL keeps it out: the thread's hf_await_block)"); !ok {
		return
	}
	n, ok := receiveWithin(t, progress, "a Python thread of a to run while hf_block blocks (does hf_block hold a's GIL?)")
	if !ok {
		return
	}
	assert.Equal(t, int64(499500), n)

	type result struct {
		v   any
		err error
	}
	evaluated := make(chan result, 1)
	go func() {
		v, err := b.Eval(bg, "sum(range(1000))")
		evaluated <- result{v, err}
	}()
	r, ok := receiveWithin(t, evaluated, "b, which shares a's GIL, to run while hf_block blocks")
	if !ok {
		unblock() // b gets the GIL once hf_block returns
		r, ok = receiveWithin(t, evaluated, "b's Eval to end once released")
		if !ok {
			return
		}
	}
	require.NoError(t, r.err, "b must run while a's host function blocks")
	assert.Equal(t, int64(499500), r.v)
}

func TestRegisterFuncRejects(t *testing.T) {
	require.NoError(t, rt.RegisterFunc("hf_once", func() {}))
	cases := map[string]struct {
		name string
		fn   any
		msg  string
	}{
		"twice":              {"hf_once", func() {}, "already registered"},
		"not a function":     {"hf_x1", 42, "not a function"},
		"nil function":       {"hf_x2", (func())(nil), "not a function"},
		"bad name":           {"no-dash", func() {}, "not a Python identifier"},
		"empty name":         {"", func() {}, "not a Python identifier"},
		"chan parameter":     {"hf_x3", func(chan int) {}, "parameter 1"},
		"struct result":      {"hf_x4", func() struct{ F func() } { return struct{ F func() }{} }, "result"},
		"func parameter":     {"hf_x5", func(int, func()) {}, "parameter 2"},
		"three results":      {"hf_x6", func() (int, int, error) { return 0, 0, nil }, "at most"},
		"second not error":   {"hf_x7", func() (int, int) { return 0, 0 }, "must be error"},
		"ctx not first":      {"hf_x8", func(int, context.Context) {}, "parameter 2"},
		"pointer parameter":  {"hf_x9", func(*chan int) {}, "parameter 1"},
		"map with bad value": {"hf_x10", func(map[string]chan int) {}, "parameter 1"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := rt.RegisterFunc(c.name, c.fn)
			assert.ErrorIs(t, err, cpython.ErrFuncRegistration)
			assert.ErrorContains(t, err, c.msg)
		})
	}
	var none *cpython.Runtime
	assert.ErrorIs(t, none.RegisterFunc("x", func() {}), cpython.ErrNotInitialized)
}
