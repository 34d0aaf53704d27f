package cpython

/*
#cgo pkg-config: python3-embed
#cgo CFLAGS: -I${SRCDIR}/../include -O2 -Wall -Wno-unused-function
#include "lifecycle.h"
#include <stdlib.h>

static void si_clear_async_exc(unsigned long ident) { PyThreadState_SetAsyncExc(ident, NULL); }
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
// to parking, so an idle interpreter costs no CPU after idleSpin.
const (
	idleSpin   = handoff.DefaultBudget
	callerSpin = handoff.DefaultBudget
)

// interruptGrace is how long a call whose context ended waits for the
// interrupted Python code to unwind before it gives up on it and returns,
// leaving the interpreter busy until the code comes back (C code that does
// not return to the eval loop cannot be interrupted).
const interruptGrace = 250 * time.Millisecond

// task is one unit of work for a pinned thread.
type task struct {
	fn  func() error // runs on the pinned thread with the GIL held
	end func() error // instead of fn: ends the interpreter (attaches itself)
	err error
	seq int64 // which run this is, for interrupts that arrive late
	cs  *callState
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

// thread is the goroutine, locked to its OS thread for its whole life, that
// owns one interpreter: every C-API call for the interpreter happens on it.
type thread struct {
	ts     *C.PyThreadState
	interp *C.PyInterpreterState
	ident  C.ulong // the OS thread, as PyThreadState_SetAsyncExc names it

	wake *handoff.Signal
	slot atomic.Pointer[task]

	// running[0] is the seq of the task holding the GIL, 0 between tasks;
	// running[1] is set by an interrupter that raised in it. Both are
	// accessed only while holding the interpreter's GIL (C memory, since the
	// interrupter reads it from C).
	running *[2]C.int64_t
	nextSeq atomic.Int64
	// current is the seq of the submitted task not yet finished, 0 if none.
	current atomic.Int64

	// lifeMu keeps the interpreter alive while an interrupter may be
	// attaching a thread state to it: interrupts hold it shared, ending the
	// interpreter holds it exclusively.
	lifeMu sync.RWMutex
	ended  bool

	// call is the call running on the thread, for Python code that blocks
	// in Go (channel waits, run()) and must stop when the call is cancelled.
	call atomic.Pointer[callState]

	onAbandonedDone func() // called on the pinned thread
	exited          chan struct{}
}

// startThread starts a pinned thread whose setup (run on that thread)
// creates or initialises the interpreter and returns its detached thread
// state.
func startThread(setup func() (*C.PyThreadState, error)) (*thread, error) {
	th := &thread{
		wake:    handoff.NewSignal(),
		exited:  make(chan struct{}),
		running: (*[2]C.int64_t)(C.calloc(2, C.size_t(unsafe.Sizeof(C.int64_t(0))))),
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
	// Never unlocked: when this goroutine returns, Go ends the OS thread,
	// and with it the thread's CPython thread-state binding.
	runtime.LockOSThread()
	defer close(th.exited)
	defer C.free(unsafe.Pointer(th.running))
	ts, err := setup()
	if err != nil {
		ready <- err
		return
	}
	th.ts = ts
	th.interp = C.PyThreadState_GetInterpreter(ts)
	th.ident = C.PyThread_get_thread_ident()
	ready <- nil
	for {
		t := th.slot.Swap(nil)
		if t == nil {
			th.wake.Wait(nil, idleSpin)
			continue
		}
		if t.end != nil {
			th.lifeMu.Lock()
			t.err = t.end()
			ended := t.err == nil
			th.ended = ended
			th.lifeMu.Unlock()
			t.done.Notify() // t belongs to the caller from here on
			if ended {
				return
			}
			continue
		}
		C.si_attach(th.ts)
		th.running[0] = C.int64_t(t.seq)
		th.call.Store(t.cs)
		t.err = runGuarded(t.fn)
		th.call.Store(nil)
		t.cs.finish()
		th.running[0] = 0
		if th.running[1] != 0 {
			// An interrupt that landed as the code finished must not hit
			// the next task.
			C.si_clear_async_exc(th.ident)
			th.running[1] = 0
		}
		C.si_detach()
		if !t.outcome.CompareAndSwap(taskRunning, taskFinished) {
			th.current.Store(0)
			if th.onAbandonedDone != nil {
				th.onAbandonedDone()
			}
			taskPool.Put(resetTask(t))
			continue
		}
		t.done.Notify()
	}
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
	t.outcome.Store(taskRunning)
	return t
}

// submit hands t to the pinned thread.
func (th *thread) submit(t *task) {
	th.slot.Store(t)
	th.wake.Notify()
}

// errAbandoned marks a call whose code kept running after its context ended.
var errAbandoned = errors.New("abandoned")

// run executes fn on the pinned thread and waits for it. If ctx ends first
// the Python code is interrupted; if it has not stopped within
// interruptGrace, run returns without it (errAbandoned wrapped with the
// context's error) and the thread reports completion via onAbandonedDone.
func (th *thread) run(ctx context.Context, fn func() error) (err error, interrupted bool, seq int64) {
	t := taskPool.Get().(*task)
	t.fn = fn
	seq = th.nextSeq.Add(1)
	t.seq = seq
	t.cs = &callState{ctx: ctx, seq: t.seq}
	th.current.Store(t.seq)
	th.submit(t)
	if werr := t.done.Wait(ctx, callerSpin); werr == nil {
		th.current.Store(0)
		err = t.err
		taskPool.Put(resetTask(t))
		return err, false, seq
	}
	th.interrupt(t.seq)
	grace, cancel := context.WithTimeout(context.Background(), interruptGrace)
	defer cancel()
	if werr := t.done.Wait(grace, 0); werr == nil {
		th.current.Store(0)
		err = t.err
		taskPool.Put(resetTask(t))
		return err, true, seq
	}
	if !t.outcome.CompareAndSwap(taskRunning, taskAbandoned) {
		// Finished just as we gave up: the notification is on its way.
		_ = t.done.Wait(nil, callerSpin)
		th.current.Store(0)
		err = t.err
		taskPool.Put(resetTask(t))
		return err, true, seq
	}
	return errAbandoned, true, seq
}

// interrupt makes the task seq raise KeyboardInterrupt if it still runs.
// It returns at once; the interrupt is delivered from another goroutine
// because it has to wait for the interpreter's GIL.
func (th *thread) interrupt(seq int64) {
	go func() {
		if cs := th.call.Load(); cs != nil && cs.seq == seq {
			cs.interrupt() // wakes Go-level waits (channels, run)
		}
		th.lifeMu.RLock()
		defer th.lifeMu.RUnlock()
		if th.ended {
			return
		}
		C.si_interrupt_if(th.interp, th.ident, &th.running[0], C.int64_t(seq))
	}()
}

// end ends the interpreter on its thread; on success the thread exits.
func (th *thread) end(fn func() error) error {
	t := taskPool.Get().(*task)
	t.end = fn
	th.submit(t)
	_ = t.done.Wait(nil, callerSpin)
	err := t.err
	taskPool.Put(resetTask(t))
	if err == nil {
		<-th.exited
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
