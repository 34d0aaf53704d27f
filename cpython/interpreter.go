package cpython

/*
#include "lifecycle.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync/atomic"
	"time"

	"github.com/subinterp/subinterp/bindings"
	"github.com/subinterp/subinterp/channel"
)

// ErrInterrupted is the cause of an InterruptedError made by Interrupt.
var ErrInterrupted = errors.New("subinterp: interrupted")

// InterruptedError reports Python code stopped because its call's context
// ended (Cause is context.Canceled or context.DeadlineExceeded) or because
// Interrupt was called (Cause is ErrInterrupted). errors.Is(err, Cause)
// holds. Traceback says where the code stopped. If Stopped is false the code
// did not reach a point where it could be interrupted (a C call that does
// not return to the eval loop): the call returned without it, and the
// interpreter stays busy until that code returns.
type InterruptedError struct {
	Cause     error
	Traceback string
	Stopped   bool
}

func (e *InterruptedError) Error() string {
	if !e.Stopped {
		return fmt.Sprintf("subinterp: %v; the Python code has not stopped yet (a blocking C call?) and keeps the interpreter busy", e.Cause)
	}
	return fmt.Sprintf("subinterp: Python code interrupted: %v", e.Cause)
}

// Unwrap returns Cause.
func (e *InterruptedError) Unwrap() error { return e.Cause }

// Interpreter is one CPython interpreter, served by its own OS thread. It
// runs one call at a time; calls from several goroutines while it runs get
// ErrRunning (use a Pool to queue work). Its methods are safe to call from
// any goroutine.
type Interpreter struct {
	rt   *Runtime
	id   int64
	cfg  Config
	main bool
	th   *thread

	// stdout and stderr are this interpreter's default writers (before the
	// runtime's); set once, before the interpreter is shared (a Pool sets
	// its writers here).
	stdout, stderr io.Writer

	busy   atomic.Bool // a call or Close holds the interpreter
	closed atomic.Bool
	// interrupting is the seq of the task Interrupt was asked to stop.
	interrupting atomic.Int64
	// threadsLeft: the last call was interrupted and left new Python
	// threads running (a Pool replaces such an interpreter).
	threadsLeft atomic.Bool
	grace       atomic.Int64 // SetInterruptGrace, in ns; 0: the runtime's
	// pyOwned: Python code created the interpreter, and its Interpreter
	// objects (pyRefs of them) own it: the last one gone closes it.
	pyOwned atomic.Bool
	pyRefs  atomic.Int64
	// createdRef: a Python object has referred to it (until then pyRefs
	// 0 means "not handed out yet", not "dropped").
	createdRef atomic.Bool
}

// ID returns the interpreter's id, the same one Python sees.
func (in *Interpreter) ID() int64 { return in.id }

// Config returns the configuration the interpreter was created with.
func (in *Interpreter) Config() Config { return in.cfg }

// IsMain reports whether this is the main interpreter.
func (in *Interpreter) IsMain() bool { return in.main }

// IsRunning reports whether a call is running in the interpreter.
func (in *Interpreter) IsRunning() bool { return in.busy.Load() && !in.closed.Load() }

// IsClosed reports whether the interpreter was closed.
func (in *Interpreter) IsClosed() bool { return in.closed.Load() }

func (in *Interpreter) closedError() error {
	return fmt.Errorf("%w (interpreter %d)", ErrClosed, in.id)
}

// acquire takes the interpreter for one call.
func (in *Interpreter) acquire(ctx context.Context) error {
	if ctx == nil {
		return errors.New("subinterp: nil context")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return in.take()
}

// take marks the interpreter busy for one call or for closing it.
//
// busy is the interpreter's one lock: whoever swaps it from false to true
// owns the interpreter until it stores false again. A successful Close never
// gives it back: it sets closed and leaves busy true, so a closed
// interpreter cannot be taken. closed is read three times, each for a race:
// before the swap (the usual way to learn it is closed); after a failed
// swap (busy because a Close won: say closed, not running); and after a
// successful swap, because Finalize marks the main interpreter closed
// without taking busy.
func (in *Interpreter) take() error {
	if in.closed.Load() {
		return in.closedError()
	}
	if !in.busy.CompareAndSwap(false, true) {
		if in.closed.Load() {
			return in.closedError()
		}
		return fmt.Errorf("%w (interpreter %d)", ErrRunning, in.id)
	}
	if in.closed.Load() {
		in.busy.Store(false)
		return in.closedError()
	}
	return nil
}

func (in *Interpreter) release() { in.busy.Store(false) }

// do runs fn on the interpreter's thread with its GIL held.
func (in *Interpreter) do(ctx context.Context, fn func() error) error {
	return in.doMoving(ctx, 0, fn)
}

// doMoving is do for a call that hands moving bytes to its code, so the
// caller waits for it the longer (thread.run).
func (in *Interpreter) doMoving(ctx context.Context, moving int, fn func() error) error {
	if err := in.acquire(ctx); err != nil {
		return err
	}
	r := in.th.run(ctx, in.InterruptGrace(), moving, fn)
	// Interrupt() names the call it was aimed at; a stale request (the call
	// had ended) must not count for a later call.
	asked := in.interrupting.CompareAndSwap(r.seq, 0)
	in.threadsLeft.Store(r.threadsLeft)
	cause := ctx.Err()
	if cause == nil && (asked || r.interrupted) {
		cause = ErrInterrupted
	}
	if r.abandoned {
		// Still busy: the thread releases it when the code returns.
		return &InterruptedError{Cause: cause, Stopped: false}
	}
	in.release()
	if r.interrupted {
		ie := &InterruptedError{Cause: cause, Stopped: true}
		var rf *RunFailedError
		if errors.As(r.err, &rf) {
			ie.Traceback = rf.Traceback
		}
		return ie
	}
	return r.err
}

// isKeyboardInterrupt reports whether err is a KeyboardInterrupt that
// Python code did not catch.
func isKeyboardInterrupt(err error) bool {
	var rf *RunFailedError
	return errors.As(err, &rf) && rf.Type == "KeyboardInterrupt"
}

// Interrupt makes the code running in the interpreter raise
// KeyboardInterrupt at its next bytecode boundary, and raises it again
// while the code keeps running (an interrupt that lands in a __del__
// method is dropped by CPython); the running call returns an
// InterruptedError whose Cause is ErrInterrupted. A call that has not
// started yet is stopped before its code runs. Code blocked in a C call is
// interrupted only when the call returns to Python. Interrupting an idle
// interpreter does nothing.
func (in *Interpreter) Interrupt() error {
	if in.closed.Load() {
		return in.closedError()
	}
	seq := in.th.current.Load()
	if seq == 0 {
		return nil
	}
	in.interrupting.Store(seq)
	in.th.interrupt(seq)
	return nil
}

// SetInterruptGrace sets how long a call whose context ends waits for the
// interrupted Python code to stop before it returns without it
// (InterruptedError.Stopped false, the interpreter still busy). d <= 0
// restores the runtime's default (RuntimeOptions.InterruptGrace).
func (in *Interpreter) SetInterruptGrace(d time.Duration) {
	in.grace.Store(int64(max(d, 0)))
}

// InterruptGrace returns the grace SetInterruptGrace set, or the
// runtime's default.
func (in *Interpreter) InterruptGrace() time.Duration {
	if d := time.Duration(in.grace.Load()); d > 0 {
		return d
	}
	return in.rt.interruptGrace()
}

func convertError(err error) error {
	if err == nil {
		return nil // without the errors.As below, whose target escapes
	}
	var exc *bindings.Exception
	if errors.As(err, &exc) {
		return &RunFailedError{Type: exc.Type, Message: exc.Message, Traceback: exc.Traceback}
	}
	return err
}

// Exec runs src in the interpreter's __main__ module, like PEP 554's run():
// names it defines stay there for later calls. An uncaught exception comes
// back as *RunFailedError.
func (in *Interpreter) Exec(ctx context.Context, src string, opts ...ExecOption) error {
	var o execOptions
	for _, opt := range opts {
		opt(&o)
	}
	bind, err := encodeGlobals(o.globals)
	if err != nil {
		return err
	}
	stdout, stderr := in.writers()
	if o.stdout != nil {
		stdout = o.stdout
	}
	if o.stderr != nil {
		stderr = o.stderr
	}
	return in.execEncoded(ctx, src, bind, stdout, stderr)
}

// writers are the interpreter's default writers, the runtime's where it
// has none of its own.
func (in *Interpreter) writers() (stdout, stderr io.Writer) {
	stdout, stderr = in.stdout, in.stderr
	if stdout == nil {
		stdout = in.rt.opts.Stdout
	}
	if stderr == nil {
		stderr = in.rt.opts.Stderr
	}
	return stdout, stderr
}

// execEncoded is Exec with the globals already encoded.
func (in *Interpreter) execEncoded(ctx context.Context, src string, bind []byte, stdout, stderr io.Writer) error {
	return in.do(ctx, func() error {
		return withOutput(stdout, stderr, true, func() error { return bindings.Exec(src, bind) })
	})
}

// withOutput runs fn with sys.stdout/sys.stderr sent to the given writers
// (nil: left as they are). With flush, the streams are flushed when fn
// ends; Call and Eval skip it to keep tiny calls fast (interpreters'
// sys.stdout is line-buffered, so whole lines appear anyway).
func withOutput(stdout, stderr io.Writer, flush bool, fn func() error) error {
	if stdout == nil && stderr == nil {
		err := fn()
		if flush {
			bindings.FlushStdio()
		}
		return convertError(err)
	}
	restore, err := bindings.Output(stdout, stderr)
	if err != nil {
		return convertError(err)
	}
	err = fn()
	if flush {
		bindings.FlushStdio()
	}
	restore()
	return convertError(err)
}

func encodeGlobals(globals map[string]any) ([]byte, error) {
	if len(globals) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(globals))
	for name := range globals {
		names = append(names, name)
	}
	sort.Strings(names)
	d := make(channel.Dict, 0, len(names))
	for _, name := range names {
		d = append(d, channel.Item{Key: name, Value: globals[name]})
	}
	data, err := channel.Encode(d)
	if err != nil {
		return nil, fmt.Errorf("subinterp: globals: %w", err)
	}
	return data, nil
}

// Eval evaluates a Python expression in __main__ and converts the result to
// Go (see package channel for the types). Channel ends in the result are
// bound to Go: Release them when done. The interpreter keeps the compiled
// code of its last 256 expressions (of up to 4 KiB; Exec does the same for
// statements), so evaluating one again skips the compiler.
func (in *Interpreter) Eval(ctx context.Context, expr string) (any, error) {
	var data []byte
	stdout, stderr := in.writers()
	err := in.do(ctx, func() error {
		return withOutput(stdout, stderr, false, func() error {
			var err error
			data, err = bindings.Eval(expr)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return decodeResult(data, in.rt.channels)
}

// bindingResolver gives Go its own binding of every channel end a result
// carries, as channel receives do: the end stays usable after Python drops
// its objects, and the caller Releases it.
type bindingResolver struct{ reg *channel.Registry }

func (b bindingResolver) ResolveEnd(kind byte, id channel.ID) (any, error) {
	end, err := b.reg.ResolveEnd(kind, id)
	if err != nil {
		return nil, err
	}
	if err := end.(interface{ Bind() error }).Bind(); err != nil {
		return nil, err
	}
	return end, nil
}

// decodeResult decodes an Eval or Call result and recycles its encoding:
// the decoder copies every value out of it. (Letting a large []byte alias
// the encoding instead saves that copy but not the time: the next encoding
// then needs a fresh buffer, which Go zeroes; measured with
// BenchmarkCallBytes1MiB, it was slower at the default GOGC.)
func decodeResult(data []byte, reg *channel.Registry) (any, error) {
	v, err := channel.Decode(data, bindingResolver{reg})
	bindings.RecycleBuffer(data)
	return v, err
}

// Call calls a Python function with Go arguments and returns its result
// converted to Go. fn is "module.func" ("json.dumps", "pkg.mod.Class.method"),
// or a name defined in __main__ or a builtin ("len"). The arguments are
// positional, then optionally a Kwargs of keyword arguments, then
// optionally ExecOptions (WithStdout, WithStderr, WithGlobals):
//
//	in.Call(ctx, "json.dumps", doc, cpython.Kwargs{"indent": 2}, cpython.WithStdout(&buf))
//
// Channel ends in the result are bound to Go: Release them when done.
// CallAs converts the result to a Go type of your choosing.
func (in *Interpreter) Call(ctx context.Context, fn string, args ...any) (any, error) {
	c, err := splitCallArgs(args)
	if err != nil {
		return nil, fmt.Errorf("subinterp: Call %s: %w", fn, err)
	}
	argv, oob, err := channel.AppendEncodeArgsOOB(bindings.ScratchBuffer(), c.positional)
	if err != nil {
		return nil, fmt.Errorf("subinterp: Call %s: arguments: %w", fn, err)
	}
	kw, err := encodeKwargs(c.kwargs)
	if err != nil {
		return nil, fmt.Errorf("subinterp: Call %s: %w", fn, err)
	}
	bind, err := encodeGlobals(c.opts.globals)
	if err != nil {
		return nil, fmt.Errorf("subinterp: Call %s: %w", fn, err)
	}
	stdout, stderr := in.writers()
	if c.opts.stdout != nil {
		stdout = c.opts.stdout
	}
	if c.opts.stderr != nil {
		stderr = c.opts.stderr
	}
	// With writers of the call's own, flush them when it ends: the caller
	// expects what it printed in its buffer when Call returns.
	flush := c.opts.stdout != nil || c.opts.stderr != nil
	var data []byte
	moving := len(argv)
	for _, b := range oob {
		moving += len(b)
	}
	err = in.doMoving(ctx, moving, func() error {
		return withOutput(stdout, stderr, flush, func() error {
			if bind != nil {
				if err := bindings.Exec("", bind); err != nil {
					return err
				}
			}
			var err error
			data, err = bindings.Call(fn, argv, oob, kw)
			if err == nil {
				in.th.noteMoved(len(data))
			}
			return err
		})
	})
	if err != nil {
		// argv is not recycled: a call abandoned to a stuck C function may
		// still be reading it.
		return nil, err
	}
	// The call has returned, and Python copied the arguments out of argv.
	bindings.RecycleBuffer(argv)
	return decodeResult(data, in.rt.channels)
}

// Close ends the interpreter on its own thread, as CloseContext does with
// no deadline: it waits for Python threads the interpreter's code started
// (non-daemon threading threads, which CPython joins) as long as they run.
func (in *Interpreter) Close() error { return in.CloseContext(context.Background()) }

// closeJoinSlice is how long one round of joining Python threads lasts
// before CloseContext looks at its context again.
const closeJoinSlice = 0.05 // seconds

// CloseContext ends the interpreter on its own thread. Non-daemon Python
// threads still running are joined first, as CPython does; if ctx ends
// before they have finished, CloseContext fails with an error wrapping
// ErrRunning and ctx's error that names them, and the interpreter stays
// open and usable. It fails with ErrRunning while a call runs, while daemon
// or low-level threads are alive (CPython cannot end an interpreter under
// them), or when called from a Go host function that the interpreter's own
// Python code called (the interpreter would wait for its caller); with
// ErrMainInterpreter for the main interpreter (see Runtime.Finalize), and
// with ErrClosed when already closed.
func (in *Interpreter) CloseContext(ctx context.Context) error {
	if in.main {
		return fmt.Errorf("%w: close the runtime with Finalize", ErrMainInterpreter)
	}
	if ctx == nil {
		return errors.New("subinterp: nil context")
	}
	if call, ok := in.rt.hostCallOfCaller(); ok && call.interp == in.id {
		return fmt.Errorf("%w: interpreter %d cannot be closed from Go host function %s, which its own Python code called", ErrRunning, in.id, call.name)
	}
	if err := in.take(); err != nil {
		return err
	}
	if err := in.th.end(func() error { return in.endOnThread(ctx) }); err != nil {
		in.busy.Store(false)
		return fmt.Errorf("%w: cannot close interpreter %d: %w", ErrRunning, in.id, err)
	}
	// busy stays true: a closed interpreter can never be taken again.
	in.closed.Store(true)
	in.rt.forget(in)
	return nil
}

// settleFor bounds how long closing waits for thread states that no alive
// threading thread owns to go: a thread that has just returned still tears
// its thread state down for a moment; one started with _thread or from C
// never goes, and closing then refuses.
const settleFor = 250 * time.Millisecond

// endOnThread ends the interpreter on its pinned thread, joining its
// Python threads first for as long as ctx allows.
func (in *Interpreter) endOnThread(ctx context.Context) error {
	var settling time.Time
	for {
		var msg *C.char
		switch C.si_interp_end(in.th.ts, &msg) {
		case C.SI_END_DONE:
			return nil
		case C.SI_END_REFUSED:
			return cError(msg)
		case C.SI_END_SETTLING:
			if settling.IsZero() {
				settling = time.Now()
			}
			if time.Since(settling) > settleFor || ctx.Err() != nil {
				return fmt.Errorf("%d thread(s) started with _thread or from C are still running; stop them before closing the interpreter", int(C.si_unowned_threads(in.th.ts)))
			}
			time.Sleep(time.Millisecond) // no event marks a thread state's end
			continue
		}
		settling = time.Time{}
		var names *C.char
		if C.si_join_threads(in.th.ts, closeJoinSlice, &names) == 0 {
			continue
		}
		running := cError(names)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w; Python threads still running: %v", err, running)
		}
	}
}

// waitIdle waits until no call runs, interrupting the one that does, or
// until ctx ends.
func (in *Interpreter) waitIdle(ctx context.Context) error {
	tick := time.NewTicker(time.Millisecond) // only at shutdown
	defer tick.Stop()
	var interrupted int64
	for in.busy.Load() && !in.closed.Load() {
		if seq := in.th.current.Load(); seq != 0 && seq != interrupted {
			interrupted = seq
			_ = in.Interrupt()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: interpreter %d still runs a call: %w", ErrRunning, in.id, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// closeForFinalize closes the interpreter, interrupting a running call.
func (in *Interpreter) closeForFinalize(ctx context.Context) error {
	for {
		if err := in.waitIdle(ctx); err != nil {
			return err
		}
		err := in.CloseContext(ctx)
		switch {
		case err == nil || errors.Is(err, ErrClosed):
			return nil
		case errors.Is(err, ErrRunning) && in.busy.Load() && ctx.Err() == nil:
			continue // a call slipped in between waitIdle and Close
		default:
			return err // e.g. refused: daemon threads still running
		}
	}
}
