package cpython

/*
#include "lifecycle.h"
#include <stdlib.h>
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/subinterp/subinterp/bindings"
	"github.com/subinterp/subinterp/channel"
)

// Runtime is the process's one CPython runtime. Create it with Initialize
// and end it with Finalize; CPython cannot be started again afterwards.
type Runtime struct {
	opts     RuntimeOptions
	version  string
	debug    bool
	channels *channel.Registry
	// paths and npaths are RuntimeOptions.ModulePaths as C strings, kept
	// for every interpreter's sys.path; never freed (the runtime lives as
	// long as the process).
	paths  **C.char
	npaths C.int

	mu       sync.Mutex
	state    runtimeState
	main     *Interpreter
	interps  map[int64]*Interpreter
	creating sync.WaitGroup // NewInterpreter calls under way

	funcsMu sync.RWMutex
	funcs   map[string]*hostFunc // RegisterFunc
	workers hostWorkers          // run host functions

	// dropped joins the goroutines closing interpreters Python created
	// and no longer refers to (host.InterpreterRef).
	dropped sync.WaitGroup
}

// DefaultFinalizeTimeout bounds Finalize when RuntimeOptions.FinalizeTimeout
// is not set.
const DefaultFinalizeTimeout = 30 * time.Second

func (rt *Runtime) interruptGrace() time.Duration {
	if rt.opts.InterruptGrace > 0 {
		return rt.opts.InterruptGrace
	}
	return DefaultInterruptGrace
}

// hostCallOfCaller returns the host function call the calling goroutine
// runs in, if any.
func (rt *Runtime) hostCallOfCaller() (hostCall, bool) { return rt.workers.callOfCaller() }

type runtimeState int

const (
	stateRunning runtimeState = iota
	stateFinalizing
	stateFinalized
)

// singleton is the process-wide runtime: CPython has one per process.
var singleton struct {
	mu        sync.Mutex
	rt        *Runtime
	finalized bool
}

// Initialize starts CPython on a new OS thread, which from then on serves
// the main interpreter. Python installs no signal handlers (Go owns
// signals). It may be called once per process.
func Initialize(opts RuntimeOptions) (*Runtime, error) {
	singleton.mu.Lock()
	defer singleton.mu.Unlock()
	if singleton.rt != nil {
		return nil, ErrAlreadyInitialized
	}
	if singleton.finalized {
		return nil, fmt.Errorf("%w: CPython cannot be initialized again in this process", ErrFinalized)
	}
	if err := bindings.Register(); err != nil {
		return nil, err
	}
	if want := 2 * runtime.NumCPU(); !opts.KeepGOMAXPROCS && runtime.GOMAXPROCS(0) < want {
		runtime.GOMAXPROCS(want)
	}
	if err := opts.Flags.validate(); err != nil {
		return nil, err
	}
	executable, err := runtimeExecutable(opts)
	if err != nil {
		return nil, err
	}
	rt := &Runtime{opts: opts, channels: channel.NewRegistry(), interps: map[int64]*Interpreter{}}
	bindings.SetHost(host{rt})
	rt.paths, rt.npaths = cstrings(opts.ModulePaths, func(s string) *C.char { return C.CString(s) }, nil)
	th, err := startThread(func() (*C.PyThreadState, error) { return initPython(opts, executable, rt.paths, rt.npaths) })
	if err != nil {
		return nil, fmt.Errorf("subinterp: %w", err)
	}
	rt.version = LinkedVersion()
	rt.debug = C.si_is_debug_build() != 0
	rt.main = &Interpreter{rt: rt, id: int64(C.PyInterpreterState_GetID(th.interp)), main: true, th: th, cfg: LegacyConfig()}
	th.onAbandonedDone = rt.main.release
	rt.interps[rt.main.id] = rt.main
	singleton.rt = rt
	return rt, nil
}

// runtimeExecutable checks the options that decide CPython's path
// configuration and returns the program path to give it ("" for CPython's
// own choice).
func runtimeExecutable(opts RuntimeOptions) (string, error) {
	return runtimeExecutableFor(opts, LinkedVersion())
}

// runtimeExecutableFor is runtimeExecutable for a libpython of version
// linked.
func runtimeExecutableFor(opts RuntimeOptions, linked string) (string, error) {
	if opts.Venv == "" {
		return "", nil
	}
	if opts.Home != "" {
		return "", fmt.Errorf("%w: Venv and Home exclude each other (a venv's pyvenv.cfg names its home)", ErrInvalidOptions)
	}
	if opts.NoSite {
		return "", fmt.Errorf("%w: Venv needs site (NoSite false): site is what adds the venv's site-packages", ErrInvalidOptions)
	}
	return venvExecutable(opts.Venv, linked)
}

// initPython runs on the main interpreter's thread.
func initPython(opts RuntimeOptions, executable string, paths **C.char, npaths C.int) (*C.PyThreadState, error) {
	var o C.si_init_options
	var frees []unsafe.Pointer
	defer func() {
		for _, p := range frees {
			C.free(p)
		}
	}()
	cs := func(s string) *C.char {
		p := C.CString(s)
		frees = append(frees, unsafe.Pointer(p))
		return p
	}
	home := opts.Home
	if home == "" && opts.Venv == "" { // a venv names its home itself
		home = defaultHome()
	}
	if home != "" {
		o.home = cs(home)
	}
	if executable != "" {
		o.executable = cs(executable)
	}
	o.paths, o.npaths = paths, npaths
	o.no_site = 0
	if opts.NoSite {
		o.no_site = 1
	}
	argv := opts.Argv
	if len(argv) == 0 {
		argv = []string{""}
	}
	o.argv, o.argc = cstrings(argv, cs, &frees)
	f := opts.Flags
	o.bytes_warning, o.optimize, o.verbose = C.int(f.BytesWarning), C.int(f.Optimize), C.int(f.Verbose)
	o.dont_write_bytecode, o.quiet, o.unbuffered = cbool(f.DontWriteBytecode), cbool(f.Quiet), cbool(f.Unbuffered)
	o.utf8_mode = -1
	if v, ok := f.xoption("utf8"); ok {
		o.utf8_mode = cbool(v != "0")
	}
	// CPython reads -X dev for its pre-initialization only from a
	// command line it parses itself.
	if _, ok := f.xoption("dev"); ok {
		o.dev_mode = 1
	}
	o.warnoptions, o.nwarnoptions = cstrings(f.WarnOptions, cs, &frees)
	o.xoptions, o.nxoptions = cstrings(f.XOptions, cs, &frees)
	var ts *C.PyThreadState
	if err := cError(C.si_runtime_init(&o, &ts)); err != nil {
		return nil, err
	}
	// Before any other interpreter exists: this first call also guards
	// the builtin modules' method tables (see bindings.GuardSignals).
	C.si_attach(ts)
	err := bindings.GuardSignals()
	C.si_detach()
	if err != nil {
		return nil, err
	}
	return ts, nil
}

// cstrings makes a C array of C strings, recording what to free.
func cstrings(ss []string, cs func(string) *C.char, frees *[]unsafe.Pointer) (**C.char, C.int) {
	if len(ss) == 0 {
		return nil, 0
	}
	arr := (**C.char)(C.calloc(C.size_t(len(ss)), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	if frees != nil {
		*frees = append(*frees, unsafe.Pointer(arr))
	}
	for i, s := range ss {
		unsafe.Slice(arr, len(ss))[i] = cs(s)
	}
	return arr, C.int(len(ss))
}

// Main returns the main interpreter.
func (rt *Runtime) Main() *Interpreter {
	if rt == nil {
		return nil
	}
	return rt.main
}

// LinkedVersion returns the version of the CPython library this program
// is linked with, e.g. "3.13.15", without starting it (Initialize need
// not have been called).
func LinkedVersion() string {
	if f := strings.Fields(C.GoString(C.Py_GetVersion())); len(f) > 0 {
		return f[0]
	}
	return ""
}

// MajorMinor returns the major.minor part of a CPython version: "3.13"
// for "3.13.15", "3.14" for "3.14.0a1+" or "3.13.15.final.0". A version
// without a minor part comes back as it is.
func MajorMinor(version string) string {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return version
	}
	minor := parts[1]
	for i, r := range minor {
		if r < '0' || r > '9' {
			minor = minor[:i]
			break
		}
	}
	return parts[0] + "." + minor
}

// Version returns the CPython version, e.g. "3.13.15".
func (rt *Runtime) Version() string {
	if rt == nil {
		return ""
	}
	return rt.version
}

// Debug reports whether CPython is a --with-pydebug build.
func (rt *Runtime) Debug() bool { return rt != nil && rt.debug }

// Channels returns the runtime's channel registry, shared by Go and every
// interpreter.
func (rt *Runtime) Channels() *channel.Registry {
	if rt == nil {
		return nil
	}
	return rt.channels
}

// Interpreters returns every live interpreter, the main one first, the
// others by id.
func (rt *Runtime) Interpreters() []*Interpreter {
	if rt == nil {
		return nil
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.sortedLocked()
}

func (rt *Runtime) sortedLocked() []*Interpreter {
	out := make([]*Interpreter, 0, len(rt.interps))
	for _, in := range rt.interps {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].main != out[j].main {
			return out[i].main
		}
		return out[i].id < out[j].id
	})
	return out
}

// NewInterpreter creates an interpreter on a new OS thread that serves it
// for its whole life.
func (rt *Runtime) NewInterpreter(cfg Config) (*Interpreter, error) {
	if rt == nil {
		return nil, ErrNotInitialized
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rt.mu.Lock()
	if rt.state != stateRunning {
		rt.mu.Unlock()
		return nil, ErrFinalized
	}
	rt.creating.Add(1)
	rt.mu.Unlock()
	defer rt.creating.Done()

	var c C.PyInterpreterConfig
	c.use_main_obmalloc = cbool(cfg.UseMainObmalloc)
	c.allow_fork = cbool(cfg.AllowFork)
	c.allow_exec = cbool(cfg.AllowExec)
	c.allow_threads = cbool(cfg.AllowThreads)
	c.allow_daemon_threads = cbool(cfg.AllowDaemonThreads)
	c.check_multi_interp_extensions = cbool(cfg.CheckMultiInterpExtensions)
	c.gil = C.si_gil_shared()
	if cfg.OwnGIL {
		c.gil = C.si_gil_own()
	}
	th, err := startThread(func() (*C.PyThreadState, error) {
		var ts *C.PyThreadState
		if err := cError(C.si_interp_new(&c, rt.paths, rt.npaths, &ts)); err != nil {
			if ts != nil {
				// Created, but sys.path could not be set: end it again
				// (no Python code ran in it, so no thread can refuse).
				var msg *C.char
				C.si_interp_end(ts, &msg)
				_ = cError(msg)
			}
			return nil, err
		}
		C.si_attach(ts)
		err := bindings.GuardSignals()
		C.si_detach()
		if err != nil {
			// As above: no Python code ran in it yet.
			var msg *C.char
			C.si_interp_end(ts, &msg)
			_ = cError(msg)
			return nil, err
		}
		return ts, nil
	})
	if err != nil {
		return nil, fmt.Errorf("subinterp: %w", err)
	}
	in := &Interpreter{rt: rt, id: int64(C.PyInterpreterState_GetID(th.interp)), cfg: cfg, th: th}
	th.onAbandonedDone = in.release
	rt.mu.Lock()
	rt.interps[in.id] = in
	rt.mu.Unlock()
	return in, nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func (rt *Runtime) forget(in *Interpreter) {
	rt.mu.Lock()
	delete(rt.interps, in.id)
	rt.mu.Unlock()
}

// Finalize is FinalizeContext bounded by RuntimeOptions.FinalizeTimeout
// (DefaultFinalizeTimeout when unset).
func (rt *Runtime) Finalize() error {
	if rt == nil {
		return ErrNotInitialized
	}
	d := rt.opts.FinalizeTimeout
	if d <= 0 {
		d = DefaultFinalizeTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return rt.FinalizeContext(ctx)
}

// FinalizeContext ends every subinterpreter (interrupting code that still
// runs, joining the Python threads it started), then the main interpreter
// and the runtime, and closes the channel registry: Go code still waiting
// on a channel gets an error wrapping ErrFinalized. CPython cannot be
// initialized again in this process afterwards. If ctx ends first (a call
// stuck in C, a Python thread that does not end) it fails with an error
// naming what still runs and leaves CPython up: Py_FinalizeEx would wait
// for those threads forever, or abort the process. It fails at once when
// called from a Go host function (the interpreter that called it would
// wait for it).
func (rt *Runtime) FinalizeContext(ctx context.Context) error {
	if rt == nil {
		return ErrNotInitialized
	}
	if ctx == nil {
		return errors.New("subinterp: nil context")
	}
	if call, ok := rt.hostCallOfCaller(); ok {
		return fmt.Errorf("%w: Finalize called from Go host function %s, which interpreter %d is waiting for", ErrRunning, call.name, call.interp)
	}
	rt.mu.Lock()
	if rt.state != stateRunning {
		rt.mu.Unlock()
		return ErrFinalized
	}
	rt.state = stateFinalizing
	rt.mu.Unlock()
	rt.creating.Wait()

	var errs []error
	for _, in := range rt.Interpreters() {
		if in.main {
			continue
		}
		if err := in.closeForFinalize(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	main := rt.main
	if len(errs) == 0 {
		if err := main.waitIdle(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// Py_FinalizeEx would abort the process on an interpreter that
		// still has threads; leave CPython up and say why. Finalize may be
		// called again.
		rt.mu.Lock()
		rt.state = stateRunning
		rt.mu.Unlock()
		return fmt.Errorf("subinterp: finalize: %w", errors.Join(errs...))
	}
	err := main.th.end(func() error {
		if C.si_runtime_finalize(main.th.ts) < 0 {
			return errors.New("subinterp: Py_FinalizeEx could not flush buffered data")
		}
		return nil
	})
	main.closed.Store(true)
	rt.forget(main)
	rt.mu.Lock()
	rt.state = stateFinalized
	rt.mu.Unlock()
	rt.dropped.Wait()
	rt.workers.stop()
	rt.channels.Close(ErrFinalized)
	singleton.mu.Lock()
	singleton.rt = nil
	singleton.finalized = true
	singleton.mu.Unlock()
	return err
}

// host is what the Python module sees of the runtime (bindings.Host).
type host struct{ rt *Runtime }

func info(in *Interpreter) bindings.InterpreterInfo {
	whence := bindings.WhenceGo
	switch {
	case in.main:
		whence = bindings.WhenceRuntime
	case in.pyOwned.Load():
		whence = bindings.WhencePython
	}
	return bindings.InterpreterInfo{ID: in.id, Isolated: in.cfg.OwnGIL, Whence: whence}
}

// dropped reports whether in is an interpreter Python created whose last
// Python object is gone: it is being closed, and Python no longer sees it
// (as CPython destroys such an interpreter at once).
func dropped(in *Interpreter) bool {
	return in.pyOwned.Load() && in.pyRefs.Load() <= 0 && in.createdRef.Load()
}

func (h host) Interpreter(id int64) (bindings.InterpreterInfo, bool) {
	h.rt.mu.Lock()
	in, ok := h.rt.interps[id]
	h.rt.mu.Unlock()
	if !ok || dropped(in) {
		return bindings.InterpreterInfo{}, false
	}
	return info(in), true
}

func (h host) lookup(id int64) (*Interpreter, error) {
	h.rt.mu.Lock()
	in, ok := h.rt.interps[id]
	h.rt.mu.Unlock()
	if !ok || dropped(in) {
		return nil, fmt.Errorf("%w: interpreter %d does not exist (closed?)", bindings.ErrNoInterpreter, id)
	}
	return in, nil
}

// pyError marks an error about interpreter use with the bindings sentinel
// Python maps to PEP 734's exception types.
func pyError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrClosed):
		return fmt.Errorf("%w: %w", bindings.ErrNoInterpreter, err)
	case errors.Is(err, ErrRunning):
		return fmt.Errorf("%w: %w", bindings.ErrInterpreterBusy, err)
	}
	return err
}

func (h host) Channels() *channel.Registry { return h.rt.channels }

func (h host) Create(ctx context.Context, isolated bool) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	cfg := LegacyConfig()
	if isolated {
		cfg = IsolatedConfig()
	}
	in, err := h.rt.NewInterpreter(cfg)
	if err != nil {
		return 0, err
	}
	// Python objects own it from here: the first Interpreter object takes
	// the first reference (InterpreterRef).
	in.pyOwned.Store(true)
	if err := ctx.Err(); err != nil {
		// The calling code was interrupted while the interpreter was made:
		// nothing will ever hold it.
		_ = in.Close()
		return 0, err
	}
	return in.id, nil
}

// InterpreterRef counts the Python Interpreter objects of interpreter id.
// One that Python created is closed once no object refers to it any more
// (delta 0 only checks), as CPython 3.14 does for the interpreters of
// concurrent.interpreters.
func (h host) InterpreterRef(id int64, delta int) {
	h.rt.mu.Lock()
	in, ok := h.rt.interps[id]
	h.rt.mu.Unlock()
	if !ok || !in.pyOwned.Load() {
		return
	}
	if delta > 0 {
		in.createdRef.Store(true)
	}
	if in.pyRefs.Add(int64(delta)) > 0 {
		return
	}
	h.rt.mu.Lock()
	defer h.rt.mu.Unlock()
	if h.rt.state != stateRunning {
		return // Finalize ends it
	}
	h.rt.dropped.Add(1)
	go func() {
		defer h.rt.dropped.Done()
		h.rt.closeDropped(in)
	}()
}

// closeDropped closes an interpreter Python no longer refers to, once it
// is idle; it gives up if Python takes a new reference, if the interpreter
// cannot be closed (threads that do not end), or when the runtime
// finalizes.
func (rt *Runtime) closeDropped(in *Interpreter) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for in.pyRefs.Load() <= 0 && !in.closed.Load() {
		rt.mu.Lock()
		running := rt.state == stateRunning
		rt.mu.Unlock()
		if !running {
			return
		}
		if !in.busy.Load() {
			err := in.Close()
			if err == nil || !errors.Is(err, ErrRunning) || !in.busy.Load() {
				return
			}
		}
		<-tick.C // a call runs in it: look again when it may have ended
	}
}

func (h host) Run(ctx context.Context, target int64, src string, bind []byte) error {
	in, err := h.lookup(target)
	if err != nil {
		return err
	}
	stdout, stderr := in.writers()
	err = in.execEncoded(ctx, src, bind, stdout, stderr)
	var rf *RunFailedError
	if errors.As(err, &rf) {
		return &bindings.Exception{Type: rf.Type, Message: rf.Message, Traceback: rf.Traceback}
	}
	return pyError(err)
}

func (h host) CallIn(ctx context.Context, target int64, fn string, args []byte) ([]byte, error) {
	in, err := h.lookup(target)
	if err != nil {
		return nil, err
	}
	var data []byte
	stdout, stderr := in.writers()
	err = in.do(ctx, func() error {
		return withOutput(stdout, stderr, false, func() error {
			var err error
			data, err = bindings.CallPickled(fn, args)
			return err
		})
	})
	var rf *RunFailedError
	if errors.As(err, &rf) {
		return nil, &bindings.Exception{Type: rf.Type, Message: rf.Message, Traceback: rf.Traceback}
	}
	return data, pyError(err)
}

func (h host) Close(ctx context.Context, id int64) error {
	in, err := h.lookup(id)
	if err != nil {
		return err
	}
	return pyError(in.CloseContext(ctx))
}

func (h host) IsRunning(id int64) (running, ok bool) {
	in, err := h.lookup(id)
	if err != nil {
		return false, false
	}
	return in.IsRunning(), true
}

// WaitContext is the context for Python code of interpreter id blocking on
// OS thread thread: the running call's for the interpreter's own thread.
// Other Python threads wait under Background: the call that started them
// ending (or being interrupted) must not cancel their waits, and closing
// the interpreter waits for them, as CPython does.
func (h host) WaitContext(id int64, thread uint64) context.Context {
	in, err := h.lookup(id)
	if err != nil || uint64(in.th.ident) != thread {
		return context.Background()
	}
	return in.th.waitContext()
}

// CodeEnded stops interrupts for the call running on id's own thread:
// its code is over (see bindings.Host). Runs on that thread, GIL held.
func (h host) CodeEnded(id int64, thread uint64) {
	if in, err := h.lookup(id); err == nil && uint64(in.th.ident) == thread {
		in.th.codeEnded()
	}
}

func (h host) HasHostFunc(name string) bool { return h.rt.hostFunc(name) != nil }

func (h host) HostFuncNames() []string { return h.rt.hostFuncNames() }

func (h host) CallHost(ctx context.Context, caller int64, name string, args []byte) ([]byte, error) {
	hf := h.rt.hostFunc(name)
	if hf == nil {
		return nil, fmt.Errorf("no Go host function %q is registered", name)
	}
	var result []byte
	var err error
	goexit := h.rt.workers.run(hostCall{name: name, interp: caller}, func() {
		result, err = hf.call(ctx, h.rt.channels, args)
	})
	if goexit {
		return nil, fmt.Errorf("host function %s called runtime.Goexit (t.FailNow or require in a test?) instead of returning", name)
	}
	return result, err
}

func (h host) Interpreters() []bindings.InterpreterInfo {
	all := h.rt.Interpreters()
	out := make([]bindings.InterpreterInfo, 0, len(all))
	for _, in := range all {
		if !dropped(in) {
			out = append(out, info(in))
		}
	}
	return out
}
