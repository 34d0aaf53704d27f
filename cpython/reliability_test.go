package cpython_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
)

// Regression tests for the reliability defects of a long-running service:
// interrupts that got lost, pools that replaced healthy interpreters,
// Close and Finalize that could hang, host functions that could wedge an
// interpreter.

// TestInterruptReachesTaskBehindBusyThread: a deadline that ends before
// the pinned thread has the GIL for the task (a busy Python thread holds
// it) still stops the task; it used to be dropped, leaving `while True:
// pass` running for good.
func TestInterruptReachesTaskBehindBusyThread(t *testing.T) {
	in := newInterp(t)
	in.SetInterruptGrace(failAfter)
	pyOK(t, in, "import threading\nstop = False\ndef spin():\n    while not stop: pass\nth = threading.Thread(target=spin)\nth.start()")
	t.Cleanup(func() { pyOK(t, in, "stop = True\nth.join()") })
	interrupted := 0
	for i := range 100 {
		ctx, cancel := context.WithTimeout(bg, 2*time.Millisecond)
		err := in.Exec(ctx, "while True: pass")
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, "call %d", i)
		require.False(t, in.IsRunning(), "call %d left the interpreter running", i)
		var ie *cpython.InterruptedError
		if !errors.As(err, &ie) {
			// On a busy machine the deadline can pass before Exec even
			// takes the interpreter: then the call is refused with the
			// bare context error and nothing ran, which is right too.
			continue
		}
		require.True(t, ie.Stopped, "call %d", i)
		interrupted++
	}
	require.Positive(t, interrupted, "no call got as far as its code")
}

// TestInterruptRetriedUntilCodeStops: an interrupt the code swallows (a
// handler that carries on, or CPython dropping it in a __del__) is raised
// again until the code stops.
func TestInterruptRetriedUntilCodeStops(t *testing.T) {
	cases := map[string]string{
		"caught and ignored twice": `
caught = 0
while True:
    try:
        while True: pass
    except KeyboardInterrupt:
        caught += 1
        if caught > 2:
            raise
`,
		"lands in __del__": `
class D:
    def __del__(self):
        for _ in range(5000): pass
while True:
    D()
`,
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			in := newInterp(t)
			in.SetInterruptGrace(failAfter)
			var stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(bg, 20*time.Millisecond)
			defer cancel()
			err := in.Exec(ctx, src, cpython.WithStderr(&stderr))
			var ie *cpython.InterruptedError
			require.ErrorAs(t, err, &ie)
			assert.True(t, ie.Stopped)
			assert.False(t, in.IsRunning())
			assert.Equal(t, "ok", evalPy(t, in, "'ok'"))
		})
	}
}

// TestInterruptStormLeavesNothingRunning: 200 calls cut by 1-5 ms
// deadlines; every one stops, no interpreter keeps running, and the pool
// replaces none (the interrupted code unwound cleanly every time).
func TestInterruptStormLeavesNothingRunning(t *testing.T) {
	p := newPool(t, cpython.PoolOptions{Size: 2, InterruptGrace: failAfter, Prelude: poolPrelude + "\ndef spin():\n    while True: pass\n"})
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := range 2 {
		wg.Go(func() {
			for i := range 100 {
				ctx, cancel := context.WithTimeout(bg, time.Duration(1+(g+i)%5)*time.Millisecond)
				_, err := p.Call(ctx, "spin")
				cancel()
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	reached := 0
	for err := range errs {
		require.ErrorIs(t, err, context.DeadlineExceeded)
		var ie *cpython.InterruptedError
		if !errors.As(err, &ie) {
			continue // the deadline passed before the call got an interpreter
		}
		reached++
		require.True(t, ie.Stopped, "%v", err)
	}
	for _, in := range rt.Interpreters() {
		assert.False(t, in.IsRunning(), "interpreter %d still runs", in.ID())
	}
	s := p.Stats()
	assert.Equal(t, 0, s.Busy)
	assert.GreaterOrEqual(t, s.Failed, uint64(reached), "every call that reached an interpreter failed")
	assert.Equal(t, uint64(0), s.Replaced, "%+v", s.Replacements)
}

// TestPoolReplacesInterpreterWithLeftoverThreads: an interrupted task that
// leaves a new Python thread running is replaced (Replacements.Threads),
// and the retired interpreter is closed once the thread ends.
func TestPoolReplacesInterpreterWithLeftoverThreads(t *testing.T) {
	before := len(rt.Interpreters())
	p := newPool(t, cpython.PoolOptions{Size: 1, InterruptGrace: failAfter})
	g := newGate(t)
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	err := p.Exec(ctx, fmt.Sprintf("import threading\nthreading.Thread(target=wait_for, args=(%q,)).start()\nwhile True: pass", string(g)))
	var ie *cpython.InterruptedError
	require.ErrorAs(t, err, &ie)
	require.True(t, ie.Stopped)
	waitUntil(t, "the replacement serves", func() bool { s := p.Stats(); return s.Idle == 1 && s.Starting == 0 })
	s := p.Stats()
	assert.Equal(t, cpython.ReplaceCounts{Threads: 1}, s.Replacements)
	assert.Equal(t, uint64(1), s.Replaced)
	assert.Equal(t, 1, s.Retired, "kept until its thread ends")
	g.open(t)
	waitFull(t, p)
	waitUntil(t, "the retired interpreter is closed", func() bool { return len(rt.Interpreters()) == before+1 })
}

// TestCloseContextThreadThatNeverEnds: Close joins non-daemon threads as
// CPython does; CloseContext gives up when its context ends, names the
// thread, and leaves the interpreter usable.
func TestCloseContextThreadThatNeverEnds(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, "import threading, time\nstop = False\ndef loop():\n    while not stop: time.sleep(0.001)\nth = threading.Thread(target=loop, name='forever')\nth.start()")
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	err := in.CloseContext(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, cpython.ErrRunning)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "forever")
	assert.False(t, in.IsClosed())
	assert.Equal(t, "ok", evalPy(t, in, "'ok'"), "usable after a Close that gave up")
	pyOK(t, in, "stop = True")
	require.NoError(t, in.Close())
	assert.True(t, in.IsClosed())
}

// TestCloseFromOwnPythonThreadRefused: a Python thread of an interpreter
// calling (through a host function) Close on that interpreter gets an
// error instead of a deadlock (Py_EndInterpreter would join the caller).
func TestCloseFromOwnPythonThreadRefused(t *testing.T) {
	in := newInterp(t)
	target := make(chan *cpython.Interpreter, 1)
	target <- in
	require.NoError(t, rt.RegisterFunc("close_my_interpreter", func() error {
		victim := <-target
		target <- victim
		return victim.Close()
	}))
	pyOK(t, in, `
import threading, subinterp
result = []
def run():
    try:
        subinterp.host.close_my_interpreter()
        result.append("closed?!")
    except subinterp.HostError as e:
        result.append(str(e))
th = threading.Thread(target=run)
th.start()
th.join()
`)
	msg := evalPy(t, in, "result[0]")
	assert.Contains(t, msg, "cannot be closed from Go host function close_my_interpreter")
	assert.False(t, in.IsClosed())
}

// TestHostFunctionGoexit: runtime.Goexit in a host function (t.FailNow,
// require in tests) raises HostError like a panic; the interpreter and the
// runtime go on.
func TestHostFunctionGoexit(t *testing.T) {
	require.NoError(t, rt.RegisterFunc("goexit_now", func() { runtime.Goexit() }))
	in := newInterp(t)
	err := in.Exec(bg, "import subinterp\nsubinterp.host.goexit_now()")
	var rf *cpython.RunFailedError
	require.ErrorAs(t, err, &rf)
	assert.Equal(t, "subinterp.HostError", rf.Type)
	assert.Contains(t, rf.Message, "runtime.Goexit")
	assert.Equal(t, "ok", evalPy(t, in, "'ok'"))
	// From the main interpreter too, whose thread serves the runtime.
	err = rt.Main().Exec(bg, "import subinterp\nsubinterp.host.goexit_now()")
	require.ErrorAs(t, err, &rf)
	assert.Contains(t, rf.Message, "runtime.Goexit")
}

// TestPythonCreatedInterpreterClosedWithItsLastObject: an interpreter
// Python code creates lives as long as Python holds an Interpreter object
// for it (as CPython 3.14 does), so one made by a call that is then
// interrupted does not outlive it.
func TestPythonCreatedInterpreterClosedWithItsLastObject(t *testing.T) {
	in := newInterp(t)
	in.SetInterruptGrace(failAfter)
	before := len(rt.Interpreters())
	pyOK(t, in, "import subinterp\nw = subinterp.create()\nwid = w.id\nsame = [i for i in subinterp.list_all() if i.id == wid][0]")
	require.Len(t, rt.Interpreters(), before+1)
	pyOK(t, in, "del w")
	assert.Len(t, rt.Interpreters(), before+1, "another object still refers to it")
	pyOK(t, in, "del same")
	waitUntil(t, "the dropped interpreter is closed", func() bool { return len(rt.Interpreters()) == before })

	// Deadlines landing around create(): nothing is left behind.
	for i := range 50 {
		ctx, cancel := context.WithTimeout(bg, time.Duration(1+i%20)*time.Millisecond)
		_ = in.Exec(ctx, "import subinterp\nws = [subinterp.create() for _ in range(3)]\nwhile True: pass")
		cancel()
		pyOK(t, in, "ws = None")
	}
	waitUntil(t, "every interpreter created by interrupted calls is closed", func() bool { return len(rt.Interpreters()) == before })
}

// TestFinalizeEdgeCases runs in fresh processes: Finalize ends the runtime.
func TestFinalizeEdgeCases(t *testing.T) {
	for _, mode := range []string{"finalize-from-host", "finalize-thread-never-ends", "finalize-closes-channels"} {
		t.Run(mode, func(t *testing.T) { runHelperProcess(t, mode) })
	}
}

func init() {
	helperModes["finalize-from-host"] = helperFinalizeFromHost
	helperModes["finalize-thread-never-ends"] = helperFinalizeThreadNeverEnds
	helperModes["finalize-closes-channels"] = helperFinalizeClosesChannels
}

// helperFinalizeFromHost: Finalize from a host function fails at once
// (the interpreter calling it would wait for it forever).
func helperFinalizeFromHost() error {
	rt, err := cpython.Initialize(cpython.RuntimeOptions{NoSite: true})
	if err != nil {
		return err
	}
	var inner error
	if err := rt.RegisterFunc("finalize", func() { inner = rt.Finalize() }); err != nil {
		return err
	}
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	if err != nil {
		return err
	}
	if err := in.Exec(bg, "import subinterp\nsubinterp.host.finalize()"); err != nil {
		return fmt.Errorf("the host call: %v", err)
	}
	if !errors.Is(inner, cpython.ErrRunning) {
		return fmt.Errorf("Finalize from a host function: got %v, want ErrRunning", inner)
	}
	return rt.Finalize()
}

// helperFinalizeThreadNeverEnds: a thread that never ends bounds
// FinalizeContext by its context; the error names it, and CPython stays up.
func helperFinalizeThreadNeverEnds() error {
	rt, err := cpython.Initialize(cpython.RuntimeOptions{NoSite: true})
	if err != nil {
		return err
	}
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	if err != nil {
		return err
	}
	if err := in.Exec(bg, "import threading, time\nstop = False\ndef loop():\n    while not stop: time.sleep(0.001)\nthreading.Thread(target=loop, name='never-ends').start()"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel()
	err = rt.FinalizeContext(ctx)
	if !errors.Is(err, cpython.ErrRunning) || !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("FinalizeContext with a thread that never ends: got %v", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("never-ends")) {
		return fmt.Errorf("the error does not name the thread: %v", err)
	}
	if err := in.Exec(bg, "stop = True"); err != nil {
		return fmt.Errorf("the interpreter after a FinalizeContext that gave up: %v", err)
	}
	return rt.Finalize()
}

// helperFinalizeClosesChannels: a Go goroutine blocked on a channel of the
// registry returns an error wrapping ErrFinalized.
func helperFinalizeClosesChannels() error {
	rt, err := cpython.Initialize(cpython.RuntimeOptions{NoSite: true})
	if err != nil {
		return err
	}
	r, s, err := rt.Channels().Create(channel.Options{})
	if err != nil {
		return err
	}
	defer s.Release()
	got := make(chan error, 1)
	go func() {
		_, err := r.Recv(context.Background())
		got <- err
	}()
	if err := rt.Finalize(); err != nil {
		return err
	}
	select {
	case err := <-got:
		if !errors.Is(err, cpython.ErrFinalized) {
			return fmt.Errorf("Recv after Finalize: got %v, want ErrFinalized", err)
		}
	case <-time.After(failAfter):
		return errors.New("Recv still blocked after Finalize")
	}
	return nil
}

// TestThreadWaitOutlivesItsCall: a Python thread blocked in Go (a host
// function, recv()) waits under its own context, not the one of the call
// that started it: that call ending does not interrupt it, and Close waits
// for it as CPython does.
func TestThreadWaitOutlivesItsCall(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	require.NoError(t, rt.RegisterFunc("thread_blocks", func(ctx context.Context) (string, error) {
		entered <- struct{}{}
		select {
		case <-ctx.Done():
			return "", context.Cause(ctx)
		case <-release:
			return "released", nil
		}
	}))
	require.NoError(t, rt.RegisterFunc("thread_entered", func() { <-entered }))
	in := newInterp(t)
	pyOK(t, in, `
import subinterp, threading
got = []
def blocker():
    try:
        got.append(subinterp.host.thread_blocks())
    except BaseException as e:
        got.append(repr(e))
th = threading.Thread(target=blocker)
th.start()
subinterp.host.thread_entered()  # the thread is inside Go before this call ends
`)
	close(release)
	pyOK(t, in, "th.join()")
	assert.Equal(t, []any{"released"}, evalPy(t, in, "got"))

	// Close joins a thread blocked in recv until it gets its value.
	r, s, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	defer r.Release()
	defer s.Release()
	pyOK(t, in, "def waiter():\n    got.append(inp.recv())\nth = threading.Thread(target=waiter)\nth.start()", cpython.WithGlobals(map[string]any{"inp": r}))
	closed := make(chan error, 1)
	go func() { closed <- in.Close() }()
	require.NoError(t, s.Send(bg, "during Close"))
	err, ok := receiveWithin(t, closed, "Close to join the thread")
	require.True(t, ok)
	require.NoError(t, err)
}

// TestCloseWithLowLevelThread: a thread started with _thread (no
// threading object to join) makes Close refuse, naming it, once a short
// settling time has shown it is not a thread about to finish; a thread that
// has just finished does not (Close after join always succeeds).
func TestCloseWithLowLevelThread(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, "import _thread, threading\nlock = _thread.allocate_lock()\nlock.acquire()\nrunning = threading.Event()\ndef low():\n    running.set()\n    lock.acquire()\n_thread.start_new_thread(low, ())\nrunning.wait()")
	err := in.Close()
	require.ErrorIs(t, err, cpython.ErrRunning)
	assert.Contains(t, err.Error(), "started with _thread or from C")
	assert.False(t, in.IsClosed())
	pyOK(t, in, "lock.release()")
	// The thread now ends on its own; Close waits the moment it takes.
	spinUntil(t, "Close to succeed once the thread is gone", func() bool { return in.Close() == nil })

	for range 20 {
		other := newInterp(t)
		pyOK(t, other, "import threading\nth = threading.Thread(target=lambda: None)\nth.start()\nth.join()")
		require.NoError(t, other.Close(), "a thread that was just joined")
	}
}

// TestConcurrentDatetimeImportAndClose: own-GIL interpreters importing
// _datetime and ending at the same time. Before 3.14 that corrupted
// memory inside CPython (the process aborted in Py_EndInterpreter, with
// CPython's own _interpreters too) unless the main interpreter imported
// it first, which Initialize does.
func TestConcurrentDatetimeImportAndClose(t *testing.T) {
	// 3.12's _datetime is single-phase: own-GIL interpreters refuse it
	// (and datetime falls back to _pydatetime), so there is no race to
	// lose; the refusal is what to expect there.
	singlePhase := strings.HasPrefix(rt.Version(), "3.12.")
	for round := range 10 {
		ins := []*cpython.Interpreter{newInterp(t), newInterp(t), newInterp(t)}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, len(ins))
		for i, in := range ins {
			wg.Go(func() {
				<-start
				if errs[i] = in.Exec(bg, "import _datetime, datetime\ndatetime.datetime.now()"); errs[i] == nil {
					errs[i] = in.Close()
				}
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if singlePhase {
				require.ErrorContains(t, err, "module _datetime does not support loading in subinterpreters", "round %d, interpreter %d", round, i)
				require.NoError(t, ins[i].Close())
				continue
			}
			require.NoError(t, err, "round %d, interpreter %d", round, i)
		}
	}
}
