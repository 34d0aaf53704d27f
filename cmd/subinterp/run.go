package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/subinterp/subinterp/cpython"
)

// runAbout is the help text of `subinterp run`.
const runAbout = `
Runs Python code in N fresh subinterpreters in parallel, each with its own
GIL (or, with --shared-gil, all sharing the main GIL), and prints every
line they write to stdout or stderr prefixed with the interpreter's id,
as in "[3] hello". sys.argv is [FILE or "-c", args...], as with python3.
With FILE, its directory is put first on sys.path.

The exit status is 0 when every interpreter succeeded; otherwise the
highest status of any interpreter (1 for an uncaught exception, whose
traceback is printed to stderr prefixed with the interpreter's id; n for
sys.exit(n)). --timeout and Ctrl-C interrupt running Python code
(KeyboardInterrupt at the next bytecode); they exit with 1 and 130.

To pass a file name ending in .py as an argument to -c code, put "--"
before it.`

// runSpec is a parsed `subinterp run` command line.
type runSpec struct {
	n       int
	shared  bool
	timeout time.Duration
	noSite  bool
	// venv is a virtual environment for RuntimeOptions.Venv ("" for none).
	venv string
	// code is the source to run; file is its path ("" for -c).
	code []byte
	file string
	// argv is sys.argv; paths are extra sys.path entries.
	argv  []string
	paths []string
	// executable is sys.executable for the code: execRun finds it once
	// CPython has started.
	executable string
}

// cmdRun is `subinterp run`.
func cmdRun(args []string, stdout, stderr io.Writer) int {
	spec, code, done := parseRun(args, stderr)
	if done {
		return code
	}
	return execRun(spec, stdout, stderr)
}

// parseRun parses and checks the command line of `subinterp run`, reading
// FILE. done means: exit with code now.
func parseRun(args []string, stderr io.Writer) (spec runSpec, code int, done bool) {
	fs := newFlagSet("run", "run -n N [--shared-gil] [--timeout D] [--venv DIR] (-c CODE | FILE) [args...]", runAbout, stderr)
	fs.IntVar(&spec.n, "n", 1, "run the code in `N` interpreters at once")
	fs.BoolVar(&spec.shared, "shared-gil", false, "share the main GIL (legacy config: parallel Python code then takes turns)")
	fs.DurationVar(&spec.timeout, "timeout", 0, "interrupt the code after `D` (e.g. 2s, 500ms; 0: no limit)")
	fs.BoolVar(&spec.noSite, "no-site", false, "do not import site (faster start; no site-packages), like python3 -S")
	fs.StringVar(&spec.venv, "venv", "", "use the virtual environment `DIR` (made with the CPython this program links): its site-packages are importable")
	src := fs.String("c", "", "run `CODE` (a Python program as a string) instead of a FILE")
	if code, done := parseFlags(fs, args); done {
		return spec, code, true
	}
	haveC := isSet(fs, "c")
	rest := fs.Args()
	// "--" right before the positional arguments makes them arguments
	// even if they look like a FILE.
	explicit := len(rest) > 0 && len(args) > len(rest) && args[len(args)-len(rest)-1] == "--"

	switch {
	case spec.n < 1:
		return spec, usageError(stderr, "run", "-n must be at least 1 (got %d)", spec.n), true
	case spec.timeout < 0:
		return spec, usageError(stderr, "run", "--timeout must not be negative (got %v)", spec.timeout), true
	case spec.venv != "" && spec.noSite:
		return spec, usageError(stderr, "run", "--venv needs site: drop --no-site"), true
	case haveC && len(rest) > 0 && !explicit && strings.HasSuffix(rest[0], ".py"):
		return spec, usageError(stderr, "run", "give either -c CODE or FILE, not both (got -c and %s; to pass %s to the code as an argument, put -- before it)", rest[0], rest[0]), true
	case !haveC && len(rest) == 0:
		return spec, usageError(stderr, "run", "nothing to run: give -c CODE or a FILE"), true
	}

	if haveC {
		spec.code = []byte(*src)
		spec.argv = append([]string{"-c"}, rest...)
		return spec, exitOK, false
	}
	file := rest[0]
	info, err := os.Stat(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return spec, usageError(stderr, "run", "FILE %s: no such file", file), true
	case err != nil:
		return spec, usageError(stderr, "run", "FILE %s: %v", file, err), true
	case info.IsDir():
		return spec, usageError(stderr, "run", "FILE %s is a directory (give a .py file)", file), true
	}
	spec.code, err = os.ReadFile(file)
	if err != nil {
		return spec, usageError(stderr, "run", "FILE %s: %v", file, err), true
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return spec, usageError(stderr, "run", "FILE %s: %v", file, err), true
	}
	spec.file = abs
	spec.argv = append([]string{file}, rest[1:]...)
	spec.paths = []string{filepath.Dir(abs)}
	return spec, exitOK, false
}

// fileBootstrap runs a FILE given to `subinterp run`: compiled from bytes
// (so a coding cookie is honoured) under its own name (so tracebacks show
// its lines). Its exec line is the one traceback frame stripFileBootstrap
// removes again (bootstrapFrame).
//
// It also waits for the threads the FILE started, in the same Exec, so that
// what they print after the FILE's code ended still goes to the prefixing
// writers: between two Execs the interpreter's own sys.stdout is back in
// place, and a thread printing right then would go unprefixed. An
// interrupted FILE (KeyboardInterrupt) is not waited for.
var fileBootstrap = joinThreadsDef + `
try:
    exec(compile(globals().pop("__subinterp_source__"), __file__, "exec"))
except KeyboardInterrupt:
    raise
except BaseException:
    __subinterp_join_threads()
    raise
else:
    __subinterp_join_threads()
finally:
    globals().pop("__subinterp_join_threads", None)
`

// setExecutable makes sys.executable (and sys._base_executable, which venv
// and multiprocessing read) the Python program of the CPython build in use.
// CPython derives it from argv[0], which here is the FILE or "-c", so
// subprocess.run([sys.executable, ...]) would not start Python. It binds
// no name in __main__.
const setExecutable = `__import__("sys").executable = __import__("sys")._base_executable = globals().pop("__subinterp_executable__")`

// bootstrapFrame is the traceback line fileBootstrap adds: the exec line.
var bootstrapFrame = fmt.Sprintf(`  File "<string>", line %d, in <module>`, strings.Count(joinThreadsDef, "\n")+3)

// joinThreads waits for the non-daemon threads the code started, as
// python3 does at exit, while the interpreter's output still goes to the
// prefixing writers.
const joinThreads = joinThreadsDef + `
try:
    __subinterp_join_threads()
finally:
    del __subinterp_join_threads
`

// joinThreadsDef defines __subinterp_join_threads, which joins the
// non-daemon threads the code started.
const joinThreadsDef = `
def __subinterp_join_threads():
    import sys
    threading = sys.modules.get("threading")
    if threading is None:
        return
    # Here the main thread is the one that started CPython, and this
    # thread is a dummy: neither ends, neither is the code's to wait for.
    skip = (threading.main_thread(), threading.current_thread())
    dummy = getattr(threading, "_DummyThread", ())
    while True:
        alive = [t for t in threading.enumerate()
                 if t not in skip and not isinstance(t, dummy) and not t.daemon and t.is_alive()]
        if not alive:
            return
        for t in alive:
            t.join()`

// runResult is what happened in one interpreter.
type runResult struct {
	id          int64 // 0: the interpreter could not be created
	status      int   // exit status this interpreter asks for
	interrupted bool  // stopped by --timeout or Ctrl-C (threads not joined)
	stuck       bool  // still running or not closable: do not finalize
	problem     bool  // failed, was interrupted, or could not be created
}

// execRun runs spec and returns the exit status.
func execRun(spec runSpec, stdout, stderr io.Writer) int {
	rt, err := cpython.Initialize(cpython.RuntimeOptions{Argv: spec.argv, ModulePaths: spec.paths, NoSite: spec.noSite, Venv: spec.venv})
	if err != nil {
		fmt.Fprintf(stderr, "subinterp run: starting CPython: %v\n", err)
		return exitFailed
	}
	prefix, err := sysPrefix(context.Background(), rt)
	if err != nil {
		fmt.Fprintf(stderr, "subinterp run: %v\n", err)
		return exitFailed
	}
	// "" if the build has no python3.X program, as CPython says when it
	// cannot tell. In a venv, CPython was given the venv's own program.
	if spec.venv == "" {
		spec.executable = pythonBinary(prefix, rt.Version(), rt.Debug())
	}

	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stopSignals()
	go func() {
		// After the first Ctrl-C, a second one kills the process at once.
		<-sigCtx.Done()
		stopSignals()
	}()
	ctx := sigCtx
	if spec.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(sigCtx, spec.timeout)
		defer cancel()
	}

	var outMu sync.Mutex // one lock for both streams keeps their lines in order
	out := NewSyncWriter(stdout, &outMu)
	errOut := NewSyncWriter(stderr, &outMu)
	cfg := cpython.IsolatedConfig()
	if spec.shared {
		cfg = cpython.LegacyConfig()
	}

	results := make([]runResult, spec.n)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runOne(ctx, sigCtx, rt, cfg, spec, out, errOut)
		}()
	}
	wg.Wait()

	status, failed, interruptedAny, leave := exitOK, 0, false, false
	for _, r := range results {
		status = max(status, r.status)
		if r.problem {
			failed++
		}
		interruptedAny = interruptedAny || r.interrupted
		leave = leave || r.stuck || r.interrupted
	}
	switch {
	case interruptedAny && sigCtx.Err() != nil:
		fmt.Fprintf(errOut, "subinterp run: interrupted (Ctrl-C)\n")
		status = exitInterrupted
	case interruptedAny:
		fmt.Fprintf(errOut, "subinterp run: deadline exceeded: --timeout %v reached\n", spec.timeout)
		status = max(status, exitFailed)
	case failed > 0:
		fmt.Fprintf(errOut, "subinterp run: %d of %d interpreters failed\n", failed, spec.n)
	}
	if leave {
		// Code may still be running (a blocking C call, threads not
		// joined): ending CPython would wait for it. The process exit
		// ends it instead.
		return status
	}
	if err := rt.Finalize(); err != nil {
		fmt.Fprintf(errOut, "subinterp run: warning: %v\n", err)
	}
	return status
}

// runOne creates one interpreter, runs the code in it, reports what went
// wrong on errOut, and closes it. sigCtx is the Ctrl-C context (ctx adds
// the timeout to it).
func runOne(ctx, sigCtx context.Context, rt *cpython.Runtime, cfg cpython.Config, spec runSpec, out, errOut io.Writer) runResult {
	in, err := rt.NewInterpreter(cfg)
	if err != nil {
		fmt.Fprintf(errOut, "subinterp run: creating an interpreter: %v\n", err)
		return runResult{status: exitFailed, problem: true}
	}
	res := runResult{id: in.ID()}
	prefix := fmt.Sprintf("[%d] ", in.ID())
	ow, ew := NewLineWriter(out, prefix), NewLineWriter(errOut, prefix)
	opts := []cpython.ExecOption{cpython.WithStdout(ow), cpython.WithStderr(ew)}

	if spec.venv == "" {
		err = in.Exec(ctx, setExecutable, append(opts, cpython.WithGlobals(map[string]any{"__subinterp_executable__": spec.executable}))...)
	}
	switch {
	case err != nil:
	case spec.file == "":
		err = in.Exec(ctx, string(spec.code), opts...)
	default:
		globals := map[string]any{"__file__": spec.file, "__subinterp_source__": spec.code}
		err = in.Exec(ctx, fileBootstrap, append(opts, cpython.WithGlobals(globals))...)
	}
	var joinErr error
	if spec.file == "" && !interrupted(err) {
		// Like python3 at exit, also after an uncaught exception (a FILE's
		// bootstrap has joined them already).
		joinErr = in.Exec(ctx, joinThreads, opts...)
	}
	_ = ow.Flush()
	_ = ew.Flush()

	for _, e := range []error{err, joinErr} {
		if e == nil {
			continue
		}
		status, stuck := reportRunError(ew, e, spec, sigCtx)
		_ = ew.Flush()
		res.status = max(res.status, status)
		res.problem = res.problem || status != exitOK
		res.stuck = res.stuck || stuck
		res.interrupted = res.interrupted || interrupted(e)
	}
	if res.stuck || res.interrupted {
		return res
	}
	if err := in.Close(); err != nil {
		fmt.Fprintf(ew, "warning: %v\n", err)
		_ = ew.Flush()
		res.stuck = true
	}
	return res
}

// reportRunError writes err to w (a prefixing writer) and returns the exit
// status it stands for, and whether the code may still be running.
func reportRunError(w io.Writer, err error, spec runSpec, sigCtx context.Context) (status int, stuck bool) {
	var failed *cpython.RunFailedError
	var interrupted *cpython.InterruptedError
	switch {
	case errors.As(err, &failed) && failed.Type == "SystemExit":
		return systemExitStatus(w, failed.Message), false
	case errors.As(err, &failed):
		tb := failed.Traceback
		if spec.file != "" {
			tb = stripFileBootstrap(tb)
		}
		if strings.TrimSpace(tb) == "" {
			tb = failed.Error()
		}
		fmt.Fprint(w, strings.TrimRight(tb, "\n")+"\n")
		return exitFailed, false
	case errors.As(err, &interrupted):
		fmt.Fprintf(w, "%s\n", interruptReason(interrupted.Cause, spec, sigCtx))
		if !interrupted.Stopped {
			fmt.Fprintln(w, "the code has not stopped yet (blocked in a C call?); not waiting for it")
			return exitFailed, true
		}
		if tb := strings.TrimRight(interrupted.Traceback, "\n"); tb != "" {
			if spec.file != "" {
				tb = stripFileBootstrap(tb)
			}
			fmt.Fprintln(w, "stopped at:")
			fmt.Fprintln(w, tb)
		}
		return exitFailed, false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// The context ended before the code started.
		fmt.Fprintf(w, "%s\n", interruptReason(err, spec, sigCtx))
		return exitFailed, false
	default:
		fmt.Fprintf(w, "error: %v\n", err)
		return exitFailed, false
	}
}

// interrupted reports whether err says the code was interrupted or never
// started because the context ended.
func interrupted(err error) bool {
	var ie *cpython.InterruptedError
	return errors.As(err, &ie) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// interruptReason says why code was interrupted.
func interruptReason(cause error, spec runSpec, sigCtx context.Context) string {
	switch {
	case sigCtx.Err() != nil:
		return "interrupted (Ctrl-C)"
	case errors.Is(cause, context.DeadlineExceeded):
		return fmt.Sprintf("interrupted: deadline exceeded (--timeout %v)", spec.timeout)
	default:
		return fmt.Sprintf("interrupted: %v", cause)
	}
}

// systemExitStatus turns the message of an uncaught SystemExit into an exit
// status as python3 does: none or None is 0, an int is itself, anything
// else is printed and gives 1.
func systemExitStatus(w io.Writer, msg string) int {
	if msg == "" || msg == "None" {
		return exitOK
	}
	if n, err := strconv.Atoi(msg); err == nil {
		return n & 0xff
	}
	fmt.Fprintln(w, msg)
	return exitFailed
}

// stripFileBootstrap removes the frame fileBootstrap adds right under each
// "Traceback" header, so a FILE's traceback starts at the FILE.
func stripFileBootstrap(tb string) string {
	lines := strings.Split(tb, "\n")
	out := lines[:0]
	for i, line := range lines {
		if line == bootstrapFrame && i > 0 && strings.HasPrefix(lines[i-1], "Traceback (most recent call last)") {
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
