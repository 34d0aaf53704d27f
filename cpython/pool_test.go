package cpython_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
	"github.com/subinterp/subinterp/internal/testutil"
)

// poolPrelude gives every pool interpreter its id (ME), a counter of the
// tasks it ran, and wait_for(path), which blocks (in Python, interruptibly)
// until a file exists: a gate that the test opens.
const poolPrelude = `
import os, time, subinterp
ME = subinterp.get_current().id
RUNS = []

def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.002)
    return ME

def add(a, b):
    return a + b

def ident(x):
    return x
`

// newPool creates a pool closed when the test ends.
func newPool(t testing.TB, opts cpython.PoolOptions) *cpython.Pool {
	t.Helper()
	if opts.Prelude == "" {
		opts.Prelude = poolPrelude
	}
	p, err := cpython.NewPool(rt, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(bg, 30*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil && !errors.Is(err, cpython.ErrClosed) {
			t.Errorf("closing the pool: %v", err)
		}
	})
	return p
}

// gate is a file whose creation releases Python code blocked in wait_for.
type gate string

func newGate(t testing.TB) gate { return gate(filepath.Join(t.TempDir(), "open")) }

func (g gate) open(t testing.TB) {
	t.Helper()
	require.NoError(t, os.WriteFile(string(g), nil, 0o644))
}

// waitUntil polls cond (on the test's goroutine) for up to failAfter.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.WaitUntil(t, what, cond)
}

// waitFull waits until the pool serves at full size again, with nothing
// left to replace or close.
func waitFull(t testing.TB, p *cpython.Pool) {
	t.Helper()
	waitUntil(t, "the pool is idle at full size", func() bool {
		s := p.Stats()
		return s.Idle == s.Size && s.Starting == 0 && s.Retired == 0 && s.Busy == 0
	})
}

// holdAll occupies every interpreter of p with a gated task and returns the
// channel on which the tasks' results (the interpreter ids) arrive.
func holdAll(t testing.TB, p *cpython.Pool, g gate) <-chan any {
	t.Helper()
	size := p.Stats().Size
	ids := make(chan any, size)
	for range size {
		go func() {
			id, err := p.Call(bg, "wait_for", string(g))
			if err != nil {
				ids <- err
				return
			}
			ids <- id
		}()
	}
	waitUntil(t, "every interpreter is busy", func() bool { return p.Stats().Busy == size })
	return ids
}

func TestPoolBasics(t *testing.T) {
	p := newPool(t, cpython.PoolOptions{Size: 2, Name: "basics"})
	s := p.Stats()
	assert.Equal(t, cpython.PoolStats{Size: 2, Idle: 2}, s)

	v, err := p.Call(bg, "add", 2, 40)
	require.NoError(t, err)
	assert.Equal(t, int64(42), v)
	v, err = p.Call(bg, "json.dumps", []any{1, "a"})
	require.NoError(t, err)
	assert.Equal(t, `[1, "a"]`, v)
	v, err = p.Eval(bg, "6 * 7")
	require.NoError(t, err)
	assert.Equal(t, int64(42), v)
	require.NoError(t, p.Exec(bg, "RUNS.append(x)", cpython.WithGlobals(map[string]any{"x": "hello"})))

	// A Python exception is the task's error; the interpreter stays.
	_, err = p.Call(bg, "add", 1, "x")
	var rf *cpython.RunFailedError
	require.ErrorAs(t, err, &rf)
	assert.Equal(t, "TypeError", rf.Type)
	assert.Contains(t, rf.Traceback, "in add")
	_, err = p.Call(bg, "no_such_function")
	require.ErrorAs(t, err, &rf)
	assert.Equal(t, "NameError", rf.Type)
	// An argument that cannot cross.
	_, err = p.Call(bg, "ident", make(chan int))
	assert.ErrorIs(t, err, cpython.ErrNotShareable)

	s = p.Stats()
	assert.Equal(t, uint64(4), s.Completed)
	assert.Equal(t, uint64(3), s.Failed)
	assert.Equal(t, uint64(0), s.Replaced, "ordinary exceptions do not replace interpreters")
	assert.Equal(t, 2, s.Idle)
	assert.Equal(t, 0, s.Busy)
}

func TestPoolDefaults(t *testing.T) {
	p := newPool(t, cpython.PoolOptions{})
	assert.Equal(t, runtime.NumCPU(), p.Stats().Size)
	isolated, err := p.Eval(bg, "subinterp.get_current().isolated")
	require.NoError(t, err)
	assert.Equal(t, true, isolated, "default config is IsolatedConfig (own GIL)")

	legacy := cpython.LegacyConfig()
	lp := newPool(t, cpython.PoolOptions{Size: 1, Config: &legacy})
	isolated, err = lp.Eval(bg, "subinterp.get_current().isolated")
	require.NoError(t, err)
	assert.Equal(t, false, isolated)
}

func TestPoolBadOptions(t *testing.T) {
	before := len(rt.Interpreters())
	_, err := cpython.NewPool(rt, cpython.PoolOptions{Size: -1})
	assert.ErrorIs(t, err, cpython.ErrInvalidPoolOptions)
	assert.ErrorContains(t, err, "Size -1")
	_, err = cpython.NewPool(rt, cpython.PoolOptions{Size: 1, MaxTasksPerInterpreter: -2})
	assert.ErrorIs(t, err, cpython.ErrInvalidPoolOptions)
	bad := cpython.Config{OwnGIL: true}
	_, err = cpython.NewPool(rt, cpython.PoolOptions{Size: 1, Config: &bad})
	assert.ErrorIs(t, err, cpython.ErrInvalidConfig)
	_, err = cpython.NewPool(nil, cpython.PoolOptions{Size: 1})
	assert.ErrorIs(t, err, cpython.ErrNotInitialized)
	assert.Len(t, rt.Interpreters(), before)
}

func TestPoolConcurrency(t *testing.T) {
	const size, perG = 2, 50
	p := newPool(t, cpython.PoolOptions{Size: size})
	var wg sync.WaitGroup
	errs := make(chan error, 4*size*perG)
	for g := range 4 * size {
		wg.Go(func() {
			for i := range perG {
				v, err := p.Call(bg, "add", g, i)
				if err == nil && v != int64(g+i) {
					err = fmt.Errorf("add(%d, %d) = %v", g, i, v)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := p.Stats()
	assert.Equal(t, uint64(4*size*perG), s.Completed)
	assert.Equal(t, uint64(0), s.Failed)
	assert.Equal(t, cpython.PoolStats{Size: size, Idle: size, Completed: s.Completed}, s)
}

func TestPoolFIFO(t *testing.T) {
	p := newPool(t, cpython.PoolOptions{Size: 1})
	g := newGate(t)
	held := holdAll(t, p, g)
	// Queue callers one by one; each appends its number when it runs.
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			assert.NoError(t, p.Exec(bg, fmt.Sprintf("RUNS.append(%d)", i)))
		})
		waitUntil(t, fmt.Sprintf("%d callers are queued", i+1), func() bool { return p.Stats().Queued == i+1 })
	}
	g.open(t)
	wg.Wait()
	require.IsType(t, int64(0), <-held)
	order, err := p.Eval(bg, "RUNS")
	require.NoError(t, err)
	assert.Equal(t, []any{int64(0), int64(1), int64(2), int64(3), int64(4), int64(5), int64(6), int64(7)}, order,
		"queued callers are served in arrival order")
	s := p.Stats()
	assert.Equal(t, 0, s.Queued)
	assert.Equal(t, uint64(n+2), s.Completed)
}

func TestPoolQueueDeadline(t *testing.T) {
	p := newPool(t, cpython.PoolOptions{Size: 2})
	g := newGate(t)
	held := holdAll(t, p, g)

	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	_, err := p.Call(ctx, "add", 1, 2)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var ie *cpython.InterruptedError
	assert.False(t, errors.As(err, &ie), "the call never reached an interpreter")

	cctx, ccancel := context.WithCancel(bg)
	go func() {
		waitUntil(t, "a caller is queued", func() bool { return p.Stats().Queued == 1 })
		ccancel()
	}()
	_, err = p.Eval(cctx, "1")
	assert.ErrorIs(t, err, context.Canceled)

	s := p.Stats()
	assert.Equal(t, 0, s.Queued, "callers whose context ended left the queue")
	assert.Equal(t, 2, s.Busy)
	g.open(t)
	for range 2 {
		assert.IsType(t, int64(0), <-held)
	}
	waitFull(t, p)
	s = p.Stats()
	assert.Equal(t, uint64(2), s.Completed)
	assert.Equal(t, uint64(0), s.Failed+s.Replaced)
}

func TestPoolContextAlreadyDone(t *testing.T) {
	p := newPool(t, cpython.PoolOptions{Size: 1})
	ctx, cancel := context.WithCancel(bg)
	cancel()
	_, err := p.Call(ctx, "add", 1, 2)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = p.Eval(ctx, "1")
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, p.Exec(ctx, "1"), context.Canceled)
	dctx, dcancel := context.WithDeadline(bg, time.Now().Add(-time.Second))
	defer dcancel()
	assert.ErrorIs(t, p.Exec(dctx, "1"), context.DeadlineExceeded)
	//nolint:staticcheck // a nil context is bad input too
	assert.Error(t, p.Exec(nil, "1"))
	s := p.Stats()
	assert.Equal(t, uint64(0), s.Completed+s.Failed, "no interpreter was touched")
}

func TestPoolPreludeInEachInterpreter(t *testing.T) {
	const size = 3
	p := newPool(t, cpython.PoolOptions{Size: size})
	g := newGate(t)
	held := holdAll(t, p, g)
	g.open(t)
	ids := map[int64]bool{}
	for range size {
		id := <-held
		require.IsType(t, int64(0), id, "%v", id)
		ids[id.(int64)] = true
	}
	assert.Len(t, ids, size, "each interpreter ran the prelude and has its own ME")
	live := map[int64]bool{}
	for _, in := range rt.Interpreters() {
		live[in.ID()] = true
	}
	for id := range ids {
		assert.True(t, live[id], "interpreter %d is live", id)
	}
}

func TestPoolPreludeRaises(t *testing.T) {
	before := len(rt.Interpreters())
	var out bytes.Buffer
	_, err := cpython.NewPool(rt, cpython.PoolOptions{
		Size:    2,
		Stdout:  &lockedWriter{w: &out},
		Prelude: "import json\nprint('prelude ran')\ndef load():\n    raise ValueError('model file missing')\nload()\n",
	})
	require.Error(t, err)
	var rf *cpython.RunFailedError
	require.ErrorAs(t, err, &rf)
	assert.Equal(t, "ValueError", rf.Type)
	assert.Contains(t, err.Error(), "model file missing")
	assert.Contains(t, err.Error(), "Traceback (most recent call last)", "the error message carries the traceback")
	assert.Contains(t, err.Error(), "in load")
	assert.Contains(t, err.Error(), "prelude")
	assert.Len(t, rt.Interpreters(), before, "no interpreter left behind")
	assert.Contains(t, out.String(), "prelude ran", "the prelude prints to the pool's Stdout")
}

func TestPoolMaxTasksPerInterpreter(t *testing.T) {
	p := newPool(t, cpython.PoolOptions{Size: 1, MaxTasksPerInterpreter: 2})
	var ids []int64
	for range 6 {
		id, err := p.Eval(bg, "ME")
		require.NoError(t, err)
		ids = append(ids, id.(int64))
	}
	assert.Equal(t, ids[0], ids[1])
	assert.Equal(t, ids[2], ids[3])
	assert.Equal(t, ids[4], ids[5])
	assert.NotEqual(t, ids[0], ids[2])
	assert.NotEqual(t, ids[2], ids[4])
	waitFull(t, p)
	s := p.Stats()
	assert.Equal(t, uint64(3), s.Replaced)
	assert.Equal(t, uint64(6), s.Completed)
	live := map[int64]bool{}
	for _, in := range rt.Interpreters() {
		live[in.ID()] = true
	}
	assert.False(t, live[ids[0]] || live[ids[2]], "retired interpreters were closed")
}

func TestPoolInterruptsRunawayTask(t *testing.T) {
	before := len(rt.Interpreters())
	p := newPool(t, cpython.PoolOptions{Size: 2, InterruptGrace: failAfter})
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	err := p.Exec(ctx, "while True:\n    pass\n")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var ie *cpython.InterruptedError
	require.ErrorAs(t, err, &ie)
	assert.True(t, ie.Stopped)
	assert.Contains(t, ie.Traceback, "<string>")

	waitFull(t, p)
	s := p.Stats()
	assert.Equal(t, uint64(0), s.Replaced, "the interrupted code unwound: the interpreter is healthy and kept")
	assert.Equal(t, cpython.ReplaceCounts{}, s.Replacements)
	assert.Equal(t, uint64(1), s.Failed)
	assert.Len(t, rt.Interpreters(), before+2)
	// Full size: both interpreters take a task at once.
	g := newGate(t)
	held := holdAll(t, p, g)
	g.open(t)
	assert.IsType(t, int64(0), <-held)
	assert.IsType(t, int64(0), <-held)
}

// TestPoolKeepsInterpreterAfterBaseException: exceptions are answers, not
// damage; what they are called does not retire an interpreter.
func TestPoolKeepsInterpreterAfterBaseException(t *testing.T) {
	p := newPool(t, cpython.PoolOptions{Size: 1})
	id0, err := p.Eval(bg, "ME")
	require.NoError(t, err)
	for _, src := range []string{"raise SystemExit(3)", "raise KeyboardInterrupt", "raise GeneratorExit", "raise ValueError('x')"} {
		err := p.Exec(bg, src)
		var rf *cpython.RunFailedError
		require.ErrorAs(t, err, &rf, src)
		var ie *cpython.InterruptedError
		assert.False(t, errors.As(err, &ie), "%s raised by the code is not an interruption", src)
	}
	id1, err := p.Eval(bg, "ME")
	require.NoError(t, err)
	assert.Equal(t, id0, id1)
	assert.Equal(t, uint64(0), p.Stats().Replaced)
}

func TestPoolStuckInC(t *testing.T) {
	before := len(rt.Interpreters())
	p := newPool(t, cpython.PoolOptions{Size: 2})
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	err := p.Exec(ctx, "import time\ntime.sleep(2)\n")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var ie *cpython.InterruptedError
	require.ErrorAs(t, err, &ie)
	assert.False(t, ie.Stopped, "time.sleep does not return to the eval loop")
	assert.Equal(t, cpython.ReplaceCounts{Stuck: 1}, p.Stats().Replacements)

	// The replacement serves at once, while the stuck one sleeps on.
	waitUntil(t, "the replacement is ready", func() bool {
		s := p.Stats()
		return s.Idle == 2 && s.Starting == 0
	})
	assert.Equal(t, uint64(1), p.Stats().Replaced)
	g := newGate(t)
	held := holdAll(t, p, g)
	g.open(t)
	assert.IsType(t, int64(0), <-held)
	assert.IsType(t, int64(0), <-held)
	v, err := p.Call(bg, "add", 1, 1)
	require.NoError(t, err)
	assert.Equal(t, int64(2), v)

	// Once the C call returns, the janitor closes the stuck interpreter.
	waitFull(t, p)
	waitUntil(t, "the stuck interpreter is closed", func() bool { return len(rt.Interpreters()) == before+2 })
}

func TestPoolCloseWaitsForTasks(t *testing.T) {
	before := len(rt.Interpreters())
	p, err := cpython.NewPool(rt, cpython.PoolOptions{Size: 1, Prelude: poolPrelude})
	require.NoError(t, err)
	g := newGate(t)
	held := holdAll(t, p, g)
	queued := make(chan error, 1)
	go func() { _, err := p.Eval(bg, "1"); queued <- err }()
	waitUntil(t, "a caller is queued", func() bool { return p.Stats().Queued == 1 })

	closed := make(chan error, 1)
	go func() { closed <- p.Close(bg) }()
	assert.ErrorIs(t, <-queued, cpython.ErrClosed, "queued callers get ErrClosed")
	_, err = p.Eval(bg, "1")
	assert.ErrorIs(t, err, cpython.ErrClosed, "no new work once Close started")
	g.open(t)
	assert.IsType(t, int64(0), <-held, "the running task finished normally")
	require.NoError(t, <-closed)
	assert.Len(t, rt.Interpreters(), before)
}

func TestPoolCloseInterruptsRunningTasks(t *testing.T) {
	before := len(rt.Interpreters())
	p, err := cpython.NewPool(rt, cpython.PoolOptions{Size: 2})
	require.NoError(t, err)
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- p.Exec(bg, "while True:\n    pass\n") }()
	}
	waitUntil(t, "both tasks run", func() bool { return p.Stats().Busy == 2 })
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	require.NoError(t, p.Close(ctx))
	for range 2 {
		err := <-errs
		assert.ErrorIs(t, err, cpython.ErrInterrupted)
		var ie *cpython.InterruptedError
		assert.ErrorAs(t, err, &ie)
	}
	assert.Len(t, rt.Interpreters(), before, "every interpreter was closed")
	assert.ErrorIs(t, p.Close(bg), cpython.ErrClosed)
}

func TestPoolUseAfterClose(t *testing.T) {
	p, err := cpython.NewPool(rt, cpython.PoolOptions{Size: 1, Name: "done"})
	require.NoError(t, err)
	require.NoError(t, p.Close(bg))
	_, err = p.Call(bg, "len", "abc")
	assert.ErrorIs(t, err, cpython.ErrClosed)
	assert.ErrorContains(t, err, `pool "done"`)
	_, err = p.Eval(bg, "1")
	assert.ErrorIs(t, err, cpython.ErrClosed)
	assert.ErrorIs(t, p.Exec(bg, "pass"), cpython.ErrClosed)
	assert.ErrorIs(t, p.Close(bg), cpython.ErrClosed)
	s := p.Stats()
	assert.Equal(t, 0, s.Idle+s.Busy+s.Queued)
}

// lockedWriter serialises writes from several interpreter threads.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

func TestPoolOutput(t *testing.T) {
	out := &lockedWriter{w: &bytes.Buffer{}}
	errw := &lockedWriter{w: &bytes.Buffer{}}
	p := newPool(t, cpython.PoolOptions{Size: 2, Stdout: out, Stderr: errw})
	require.NoError(t, p.Exec(bg, "print('from exec')"))
	_, err := p.Eval(bg, "print('from eval')")
	require.NoError(t, err)
	_, err = p.Call(bg, "print", "from call")
	require.NoError(t, err)
	require.NoError(t, p.Exec(bg, "import sys\nprint('to stderr', file=sys.stderr)"))
	var own bytes.Buffer
	require.NoError(t, p.Exec(bg, "print('mine')", cpython.WithStdout(&own)))
	assert.Equal(t, "mine\n", own.String(), "WithStdout wins over the pool's Stdout")
	assert.Contains(t, out.String(), "from exec\n")
	assert.Contains(t, out.String(), "from eval\n")
	assert.Contains(t, out.String(), "from call\n")
	assert.NotContains(t, out.String(), "mine")
	assert.Equal(t, "to stderr\n", errw.String())
}

func TestPoolNoGoroutineLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	before := len(rt.Interpreters())
	p, err := cpython.NewPool(rt, cpython.PoolOptions{Size: 2, Prelude: poolPrelude, MaxTasksPerInterpreter: 3})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 10 {
				_, err := p.Call(bg, "add", g, i)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	assert.Error(t, p.Exec(ctx, "while True:\n    pass\n"))
	cancel()
	assert.Error(t, p.Exec(bg, "raise SystemExit"))
	require.NoError(t, p.Close(bg))
	assert.Len(t, rt.Interpreters(), before)
	// Bounded wait: goroutines that delivered interrupts may still be
	// returning. (Not assert.Eventually: it runs its own goroutine.)
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(10 * time.Second); n > base && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	if n > base {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}
