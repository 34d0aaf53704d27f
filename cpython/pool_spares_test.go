package cpython_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
	"github.com/subinterp/subinterp/internal/testutil"
)

func TestPoolSparesBadValue(t *testing.T) {
	before := len(rt.Interpreters())
	_, err := cpython.NewPool(rt, cpython.PoolOptions{Size: 1, Spares: -1})
	require.Error(t, err)
	assert.ErrorIs(t, err, cpython.ErrInvalidPoolOptions)
	assert.ErrorContains(t, err, "Spares -1")
	assert.Len(t, rt.Interpreters(), before, "nothing was created")
}

// waitSpares waits until the pool has its spares ready and serves at full
// size.
func waitSpares(t testing.TB, p *cpython.Pool, spares int) {
	t.Helper()
	waitUntil(t, "the spares are ready", func() bool {
		s := p.Stats()
		return s.Spares == spares && s.SparesStarting == 0 && s.Idle == s.Size && s.Starting == 0
	})
}

// laterPrelude runs poolPrelude, then, in every interpreter after the first
// (counted in the file count), the Python code then.
func laterPrelude(count, then string) string {
	return poolPrelude + `
with open(` + strconv.Quote(count) + `, "a") as f:
    f.write("x")
if os.path.getsize(` + strconv.Quote(count) + `) > 1:
` + then + "\n"
}

// A renewal hands the next caller a ready spare: the pool is back at full
// size when the call that retired an interpreter returns, with nothing to
// wait for. Without spares the replacement is still being created then (its
// prelude waits for a gate here, so that this holds however slowly the
// test runs).
func TestPoolSparesServeReplacements(t *testing.T) {
	for _, spares := range []int{0, 1, 2} {
		t.Run(strconv.Itoa(spares), func(t *testing.T) {
			g := newGate(t)
			prelude := poolPrelude
			if spares == 0 {
				prelude = laterPrelude(filepath.Join(t.TempDir(), "count"), "    wait_for("+strconv.Quote(string(g))+")")
			}
			p := newPool(t, cpython.PoolOptions{Size: 1, MaxTasksPerInterpreter: 1, Spares: spares, Prelude: prelude})
			waitSpares(t, p, spares)
			first, err := p.Eval(bg, "ME")
			require.NoError(t, err)
			s := p.Stats()
			assert.Equal(t, uint64(1), s.Replaced)
			if spares == 0 {
				assert.Equal(t, 0, s.Idle, "without spares the replacement is still being created")
				assert.Equal(t, 1, s.Starting)
				g.open(t)
			} else {
				assert.Equal(t, 1, s.Idle, "a spare took the retired interpreter's place at once")
				assert.Equal(t, 0, s.Starting)
				assert.Equal(t, spares, s.Spares+s.SparesStarting, "the spare used is being replaced")
			}
			assert.Equal(t, s.Size, s.Busy+s.Idle+s.Starting)
			second, err := p.Eval(bg, "ME")
			require.NoError(t, err)
			assert.NotEqual(t, first, second, "the second call ran in a fresh interpreter")
			v, err := p.Call(bg, "add", 40, 2)
			require.NoError(t, err, "the prelude ran in the spare")
			assert.Equal(t, int64(42), v)
			waitSpares(t, p, spares)
			assert.Equal(t, uint64(3), p.Stats().Replaced)
			assert.Equal(t, uint64(0), p.Stats().ReplaceErrors)
		})
	}
}

// A spare that cannot be created costs the callers nothing until one needs
// a replacement: the pool serves, reports the failures (OnBackgroundError,
// ReplaceErrors) and keeps retrying; a call that needs the missing
// interpreter waits for it as without spares, bounded by its context; once
// creation works again the spare and the vacancy are filled.
func TestPoolSpareCreationFails(t *testing.T) {
	dir := t.TempDir()
	count, broken := filepath.Join(dir, "count"), filepath.Join(dir, "broken")
	require.NoError(t, os.WriteFile(broken, nil, 0o644))
	bgErrs := make(chan error, 100)
	p := newPool(t, cpython.PoolOptions{
		Size: 1, Spares: 1, MaxTasksPerInterpreter: 2,
		Prelude: laterPrelude(count, "    if os.path.exists("+strconv.Quote(broken)+"):\n        raise RuntimeError('spare prelude fails')"),
		OnBackgroundError: func(err error) {
			select {
			case bgErrs <- err:
			default:
			}
		},
	})
	err, _ := testutil.Receive(t, bgErrs, "the spare's failure reported")
	require.Error(t, err)
	var rf *cpython.RunFailedError
	assert.ErrorAs(t, err, &rf)
	assert.ErrorContains(t, err, "spare prelude fails")
	s := p.Stats()
	assert.GreaterOrEqual(t, s.ReplaceErrors, uint64(1))
	assert.Equal(t, 0, s.Spares)
	assert.Equal(t, 1, s.SparesStarting, "the spare is retried")

	// The pool serves while its spare is missing.
	v, err := p.Call(bg, "add", 1, 2)
	require.NoError(t, err)
	assert.Equal(t, int64(3), v)
	// This call retires the only interpreter; the next waits in the queue
	// for a replacement that cannot be made yet, until its context ends.
	_, err = p.Call(bg, "add", 1, 2)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(bg)
	called := make(chan error, 1)
	go func() {
		_, err := p.Call(ctx, "add", 1, 2)
		called <- err
	}()
	waitUntil(t, "the caller is queued", func() bool { return p.Stats().Queued == 1 })
	cancel()
	err, _ = testutil.Receive(t, called, "the queued call to give up")
	assert.ErrorIs(t, err, context.Canceled)
	s = p.Stats()
	assert.Equal(t, 0, s.Queued)
	assert.Equal(t, 1, s.Starting, "the vacancy waits for an interpreter")
	assert.Equal(t, 0, s.Idle)

	require.NoError(t, os.Remove(broken))
	waitSpares(t, p, 1)
	v, err = p.Call(bg, "add", 2, 2)
	require.NoError(t, err)
	assert.Equal(t, int64(4), v)
}

// Closing a pool while a spare's prelude runs interrupts the prelude, joins
// the goroutine creating it and ends every interpreter, spares included.
func TestPoolCloseWhileSpareStarts(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	before := len(rt.Interpreters())
	g := newGate(t)
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	// Every interpreter after the first blocks in its prelude until the gate
	// opens, which it never does.
	prelude := laterPrelude(count, "    wait_for("+strconv.Quote(string(g))+")")
	p, err := cpython.NewPool(rt, cpython.PoolOptions{Size: 1, Spares: 2, Prelude: prelude})
	require.NoError(t, err)
	waitUntil(t, "the spares' preludes are blocked", func() bool {
		b, err := os.ReadFile(count)
		return err == nil && len(b) == 3
	})
	s := p.Stats()
	assert.Equal(t, 0, s.Spares)
	assert.Equal(t, 2, s.SparesStarting)
	v, err := p.Call(bg, "add", 1, 1)
	require.NoError(t, err, "the pool serves while spares start")
	assert.Equal(t, int64(2), v)

	require.NoError(t, p.Close(bg))
	assert.Len(t, rt.Interpreters(), before, "the spares' interpreters were ended too")
	s = p.Stats()
	assert.Equal(t, 0, s.Spares+s.SparesStarting+s.Idle+s.Starting)
	assert.ErrorIs(t, p.Close(bg), cpython.ErrClosed)
}

// Spares that are ready when the pool closes are ended with it.
func TestPoolCloseWithReadySpares(t *testing.T) {
	testutil.NoGoroutineLeaks(t)
	before := len(rt.Interpreters())
	p, err := cpython.NewPool(rt, cpython.PoolOptions{Size: 1, Spares: 2, Prelude: poolPrelude})
	require.NoError(t, err)
	waitSpares(t, p, 2)
	assert.Len(t, rt.Interpreters(), before+3)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			_, err := p.Call(bg, "add", i, i)
			if err != nil && !errors.Is(err, cpython.ErrClosed) {
				t.Errorf("call %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	require.NoError(t, p.Close(bg))
	assert.Len(t, rt.Interpreters(), before)
}
