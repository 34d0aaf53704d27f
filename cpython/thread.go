package cpython

/*
#cgo pkg-config: python3-embed
#cgo CFLAGS: -I${SRCDIR}/../include -O2 -Wall -Wno-unused-function
#include "lifecycle.h"
#include <stdlib.h>

// Before 3.14 an own-GIL interpreter keeps its obmalloc arenas when it
// ends (python/cpython#110411); see serve.
static int si_reuse_threads(void) { return PY_VERSION_HEX < 0x030E0000; }
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/subinterp/subinterp/internal/handoff"
)

// Spin budgets (see internal/handoff for why waits spin first). The pinned
// thread spins after each task so a caller that submits the next one soon
// finds it awake; the caller spins while a short task runs. Both fall back
// to parking, so an idle interpreter costs no CPU after its spin. Each
// side spins longer (handoff.NextBudget) right after it had to wake the
// other from a park: that partner comes back late.
const (
	idleSpin   = handoff.DefaultBudget
	callerSpin = handoff.DefaultBudget
)

// DefaultInterruptGrace is how long a call whose context ended (or that
// Interrupt stopped) waits, by default, for the interrupted Python code to
// unwind before it returns without it (InterruptedError.Stopped false),
// leaving the interpreter busy until the code comes back: C code that does
// not return to the eval loop cannot be interrupted. RuntimeOptions,
// PoolOptions and Interpreter.SetInterruptGrace change it.
const DefaultInterruptGrace = 250 * time.Millisecond

// An interrupt is raised again while the task it was made for still runs:
// CPython drops an asynchronous exception that lands in a __del__ method or
// a weakref callback ("Exception ignored in ..."), and code may catch
// KeyboardInterrupt and carry on. The first retry waits long enough for
// code that took the first one to unwind (and format its traceback).
const (
	interruptRetryMin = 50 * time.Millisecond
	interruptRetryMax = time.Second
)

// errNotStarted is the error of a task whose interrupt arrived before its
// code started: the code never ran.
var errNotStarted = errors.New("subinterp: the call was interrupted before its code started")

// task is one unit of work for a pinned thread.
type task struct {
	fn  func() error // runs on the pinned thread with the GIL held
	end func() error // instead of fn: ends the interpreter (attaches itself)
	err error
	seq int64 // which run this is, for interrupts that arrive late
	// stamps records the stages of the round trip in a benchmark build
	// (-tags subinterp_stages); empty otherwise.
	stamps stageStamps
	cs     *callState
	// What the pinned thread saw (read by the caller after done): an
	// interrupt was raised in the code (raised), or the task was stopped
	// before it started (skipped); threadsLeft: an interrupted task left
	// more threads in the interpreter than it found.
	raised, skipped, threadsLeft bool
	// outcome settles who finishes the task: the thread moves it from
	// taskRunning to taskFinished and notifies done, or the caller, giving
	// up (its context ended and the code did not stop), moves it to
	// taskAbandoned and the thread then cleans up on its own.
	outcome atomic.Int32
	done    *handoff.Signal
}

const (
	taskRunning int32 = iota
	taskFinished
	taskAbandoned
)

var taskPool = sync.Pool{New: func() any { return &task{done: handoff.NewSignal()} }}

// C memory the pinned thread and interrupters share, read and written only
// while holding the interpreter's GIL (the interrupter reads it from C).
const (
	runningSeq    = 0 // the seq of the task holding the GIL, 0 between tasks
	runningRaised = 1 // 1 once an interrupter raised in that task
	runningHooked = 2 // 1 once the interpreter has the re-arming unraisablehook
	runningTemp   = 3 // interrupters' temporary thread states (atomic, any thread)
	runningLen    = 4
)

// thread is the goroutine, locked to its OS thread for the interpreter's
// whole life, that owns one interpreter: every C-API call for the
// interpreter happens on it.
type thread struct {
	ts     *C.PyThreadState
	interp *C.PyInterpreterState
	ident  C.ulong // the OS thread, as PyThreadState_SetAsyncExc names it

	wake *handoff.Signal
	slot atomic.Pointer[task]

	running *[runningLen]C.int64_t // indexed by runningSeq, ...
	nextSeq atomic.Int64
	// current is the seq of the submitted task not yet finished, 0 if none.
	current atomic.Int64
	// finished is the seq of the last task the thread finished: seqs grow,
	// so a task seq has finished once finished >= seq.
	finished atomic.Int64
	// interruptFor is the seq of the task an interrupt was last asked for.
	// The thread checks it when a task starts, so an interrupt that comes
	// before the task holds the GIL still stops it.
	interruptFor atomic.Int64
	// interrupter is the seq the current interrupt loop serves.
	interrupter atomic.Int64
	loops       sync.WaitGroup // interrupt loops, joined when the thread ends

	// lifeMu keeps the interpreter alive while an interrupter may be
	// attaching a thread state to it: interrupts hold it shared, ending the
	// interpreter holds it exclusively.
	lifeMu sync.RWMutex
	ended  bool

	// call is the call running on the thread, for Python code that blocks
	// in Go (channel waits, run()) and must stop when the call is cancelled.
	call atomic.Pointer[callState]

	onAbandonedDone func() // called on the pinned thread

	// moved is how many bytes the task that just ran handed back to its
	// caller, set by the task's code on the pinned thread (noteMoved):
	// the caller converts them before it sends more, so the thread spins
	// that much longer before it parks. Only the pinned thread uses it.
	moved  int
	exited chan struct{}
}

// startThread starts a pinned thread whose setup (run on that thread)
// creates or initialises the interpreter and returns its detached thread
// state.
func startThread(setup func() (*C.PyThreadState, error)) (*thread, error) {
	th := &thread{
		wake:    handoff.NewSignal(),
		exited:  make(chan struct{}),
		running: (*[runningLen]C.int64_t)(C.calloc(runningLen, C.size_t(unsafe.Sizeof(C.int64_t(0))))),
	}
	ready := make(chan error, 1)
	go th.serve(setup, ready)
	if err := <-ready; err != nil {
		<-th.exited
		return nil, err
	}
	return th, nil
}

func (th *thread) serve(setup func() (*C.PyThreadState, error), ready chan<- error) {
	// Locked until the interpreter has ended; then the OS thread ends with
	// the goroutine, except before CPython 3.14, where it goes back to Go
	// (unlocked) for the next interpreter: nothing of CPython is bound to it
	// any more (Py_EndInterpreter deleted its thread state). There every
	// own-GIL interpreter leaves its memory behind, and ~0.27 MB more of it
	// stays resident when each interpreter gets a new OS thread (glibc's
	// per-thread caches). From 3.14 nothing is left behind, and reused
	// threads would keep more glibc arenas busy instead (~5-25 MB more
	// RSS). docs/memory.md has the figures. A thread whose setup failed
	// always ends: a failed initialisation may leave state behind.
	runtime.LockOSThread()
	defer close(th.exited)
	ts, err := setup()
	if err != nil {
		C.free(unsafe.Pointer(th.running))
		ready <- err
		return
	}
	th.ts = ts
	th.interp = C.PyThreadState_GetInterpreter(ts)
	th.ident = C.PyThread_get_thread_ident()
	ready <- nil
	idle := idleSpin
	for {
		t := th.slot.Swap(nil)
		if t == nil {
			th.wake.Wait(nil, idle)
			continue
		}
		t.stamps.mark(stagePicked)
		if t.end != nil {
			th.lifeMu.Lock()
			t.err = t.end()
			ended := t.err == nil
			th.ended = ended
			th.lifeMu.Unlock()
			if ended {
				// No interrupter touches running any more (ended, under
				// lifeMu), and none is left to start.
				C.free(unsafe.Pointer(th.running))
			}
			t.done.Notify() // t belongs to the caller from here on
			if ended {
				if C.si_reuse_threads() != 0 {
					runtime.UnlockOSThread()
				}
				return
			}
			continue
		}
		th.runTask(t)
		if !t.outcome.CompareAndSwap(taskRunning, taskFinished) {
			th.current.Store(0)
			if th.onAbandonedDone != nil {
				th.onAbandonedDone()
			}
			taskPool.Put(resetTask(t))
			idle = idleSpin
			continue
		}
		idle = handoff.NextBudget(t.done.Notify()) + handoff.MoveBudget(th.moved)
	}
}

// noteMoved records, from a task's code on the pinned thread, how many
// bytes its result hands back (see thread.moved).
func (th *thread) noteMoved(n int) { th.moved = n }

// runTask runs one task with the interpreter's GIL held, unless an
// interrupt for it came first.
func (th *thread) runTask(t *task) {
	th.moved = 0 // a task that returns no result (or was abandoned) moved nothing
	C.si_attach(th.ts)
	t.stamps.mark(stageAttached)
	th.running[runningSeq] = C.int64_t(t.seq)
	th.call.Store(t.cs)
	// Both are set before an interrupter looks at running (under this
	// GIL), so an interrupt is either seen here or raised in the code.
	if th.interruptFor.Load() == t.seq || t.cs.ctx.Err() != nil {
		t.err, t.skipped = errNotStarted, true
	} else {
		threads := C.si_thread_count(th.interp, &th.running[0])
		t.stamps.mark(stageCodeStart)
		t.err = runGuarded(t.fn)
		t.stamps.mark(stageCodeEnd)
		// Ours: raised by an interrupter, or a Go-level wait (channel,
		// run()) that the call's context or Interrupt woke.
		if th.running[runningRaised] != 0 || t.cs.waitCancelled() {
			t.raised = true
			t.threadsLeft = C.si_thread_count(th.interp, &th.running[0]) > threads
		}
	}
	th.call.Store(nil)
	t.cs.finish()
	th.running[runningSeq] = 0
	if th.running[runningRaised] != 0 {
		// An interrupt that landed as the code finished must not hit
		// the next task.
		C.si_clear_async_exc(th.ident)
		th.running[runningRaised] = 0
	}
	th.finished.Store(t.seq)
	C.si_detach()
	t.stamps.mark(stageDetached)
}

// codeEnded marks the running task's code as over, on the pinned thread
// with the GIL held: interrupters skip a task whose seq is no longer in
// running[runningSeq] (si_interrupt_if), so the exception's description,
// Python code too, is not cut short by a retry. One interrupt raised
// before can still land there; bindings formats again after it.
func (th *thread) codeEnded() {
	th.running[runningSeq] = 0
}

// runGuarded turns a Go panic in task code into an error: the pinned
// thread must survive to release the GIL.
func runGuarded(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("subinterp: internal panic on the interpreter thread: %v", r)
		}
	}()
	return fn()
}

func resetTask(t *task) *task {
	t.fn, t.end, t.err, t.seq, t.cs = nil, nil, nil, 0, nil
	t.raised, t.skipped, t.threadsLeft = false, false, false
	t.stamps = stageStamps{}
	t.outcome.Store(taskRunning)
	return t
}

// submit hands t to the pinned thread and returns the spin budget for
// the caller's wait on it.
func (th *thread) submit(t *task) time.Duration {
	th.slot.Store(t)
	return handoff.NextBudget(th.wake.Notify())
}

// callResult is what one call on the pinned thread came to.
type callResult struct {
	err error
	seq int64
	// interrupted: an interrupt reached the call: raised in its code, or
	// the call was stopped before its code started (err is errNotStarted).
	interrupted bool
	// abandoned: the code had not stopped within the grace after its
	// interrupt; it still runs and the interpreter stays busy.
	abandoned bool
	// threadsLeft: the interrupted code left new threads running.
	threadsLeft bool
}

// run executes fn on the pinned thread and waits for it. If ctx ends first
// the Python code is interrupted (and interrupted again while it runs); if
// it has not stopped within grace, run returns without it (abandoned) and
// the thread reports completion via onAbandonedDone.
//
// moving is how many bytes the call hands over (0 if few): the caller
// spins longer for a call with more to move before it answers
// (handoff.MoveBudget). Only the arguments count, as the result's size is
// not known yet: a call with small arguments and a large result waits
// with the usual budget (the pinned thread counts the result for its own
// wait that follows).
func (th *thread) run(ctx context.Context, grace time.Duration, moving int, fn func() error) callResult {
	t := taskPool.Get().(*task)
	t.fn = fn
	t.seq = th.nextSeq.Add(1)
	t.cs = &callState{ctx: ctx, seq: t.seq}
	th.current.Store(t.seq)
	t.stamps.mark(stageSubmitted)
	budget := th.submit(t) + handoff.MoveBudget(moving)
	if werr := t.done.Wait(ctx, budget); werr == nil {
		t.stamps.mark(stageCollected)
		t.stamps.record()
		return th.collect(t)
	}
	th.interrupt(t.seq)
	timer, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if werr := t.done.Wait(timer, 0); werr == nil {
		return th.collect(t)
	}
	if !t.outcome.CompareAndSwap(taskRunning, taskAbandoned) {
		// Finished just as we gave up: the notification is on its way.
		_ = t.done.Wait(nil, callerSpin)
		return th.collect(t)
	}
	return callResult{seq: t.seq, abandoned: true}
}

// collect reads a finished task's result and recycles the task.
func (th *thread) collect(t *task) callResult {
	th.current.Store(0)
	r := callResult{
		err:         t.err,
		seq:         t.seq,
		interrupted: t.skipped || (t.raised && isKeyboardInterrupt(t.err)),
		threadsLeft: t.threadsLeft,
	}
	taskPool.Put(resetTask(t))
	return r
}

// interrupt makes the task seq raise KeyboardInterrupt if it runs, or stops
// it before it starts, and raises again while it keeps running. It returns
// at once: raising has to wait for the interpreter's GIL.
func (th *thread) interrupt(seq int64) {
	th.interruptFor.Store(seq)
	if th.interrupter.Swap(seq) == seq {
		return // a loop serves this task already
	}
	th.lifeMu.RLock()
	defer th.lifeMu.RUnlock()
	if th.ended {
		return
	}
	th.loops.Add(1)
	go th.interruptLoop(seq)
}

// interruptLoop raises in task seq until it has finished.
func (th *thread) interruptLoop(seq int64) {
	defer th.loops.Done()
	delay := interruptRetryMin
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for th.finished.Load() < seq && th.interrupter.Load() == seq {
		if cs := th.call.Load(); cs != nil && cs.seq == seq {
			cs.interrupt() // wakes Go-level waits (channels, run)
		}
		th.lifeMu.RLock()
		if th.ended {
			th.lifeMu.RUnlock()
			return
		}
		C.si_interrupt_if(th.interp, th.ident, &th.running[runningSeq], C.int64_t(seq))
		th.lifeMu.RUnlock()
		timer.Reset(delay)
		select {
		case <-timer.C:
		case <-th.exited:
			return
		}
		delay = min(2*delay, interruptRetryMax)
	}
}

// end ends the interpreter on its thread; on success the thread exits.
func (th *thread) end(fn func() error) error {
	t := taskPool.Get().(*task)
	t.end = fn
	budget := th.submit(t)
	_ = t.done.Wait(nil, budget)
	err := t.err
	taskPool.Put(resetTask(t))
	if err == nil {
		<-th.exited
		th.loops.Wait()
	}
	return err
}

// callState is one call's context as seen by Python code that blocks in
// Go: the caller's ctx, cancelled early by an interrupt. The cancellable
// context is made only if Python code actually waits.
type callState struct {
	ctx context.Context
	seq int64

	mu          sync.Mutex
	wait        context.Context
	cancel      context.CancelCauseFunc
	interrupted bool
}

// waitContext returns the context Python-initiated waits use.
func (cs *callState) waitContext() context.Context {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.wait == nil {
		cs.wait, cs.cancel = context.WithCancelCause(cs.ctx)
		if cs.interrupted {
			cs.cancel(ErrInterrupted)
		}
	}
	return cs.wait
}

func (cs *callState) interrupt() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.interrupted = true
	if cs.cancel != nil {
		cs.cancel(ErrInterrupted)
	}
}

// waitCancelled reports whether a Go-level wait of the call was woken by
// its context ending or by Interrupt (before finish).
func (cs *callState) waitCancelled() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.wait != nil && cs.wait.Err() != nil
}

func (cs *callState) finish() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.cancel != nil {
		cs.cancel(context.Canceled)
	}
}

// waitContext is the context of the call running on the thread, or
// Background between calls (a Python thread blocking on its own).
func (th *thread) waitContext() context.Context {
	if cs := th.call.Load(); cs != nil {
		return cs.waitContext()
	}
	return context.Background()
}

// cError turns a malloc'd C error string into a Go error (nil for NULL).
func cError(msg *C.char) error {
	if msg == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(msg))
	return errors.New(C.GoString(msg))
}
