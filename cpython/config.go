package cpython

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Config says how a new interpreter is isolated from the others; its fields
// are CPython's PyInterpreterConfig (PEP 684).
type Config struct {
	// UseMainObmalloc shares the main interpreter's object allocator.
	// Must be false when OwnGIL is true.
	UseMainObmalloc bool
	// AllowFork permits os.fork() in the interpreter.
	AllowFork bool
	// AllowExec permits os.execv() and friends (and so subprocess).
	AllowExec bool
	// AllowThreads permits the threading module to start threads.
	AllowThreads bool
	// AllowDaemonThreads permits daemon threads.
	AllowDaemonThreads bool
	// CheckMultiInterpExtensions refuses extension modules that do not
	// declare support for multiple interpreters (single-phase init). Must be
	// true when UseMainObmalloc is false.
	CheckMultiInterpExtensions bool
	// OwnGIL gives the interpreter its own GIL, so it runs Python in
	// parallel with every other interpreter.
	OwnGIL bool
}

// IsolatedConfig is an interpreter with its own GIL and allocator that
// accepts only extension modules declaring multi-interpreter support; it
// may start threads but not daemon threads, fork or exec.
func IsolatedConfig() Config {
	return Config{AllowThreads: true, CheckMultiInterpExtensions: true, OwnGIL: true}
}

// LegacyConfig is what Py_NewInterpreter gives: the main interpreter's GIL
// and allocator, everything allowed, any extension module accepted.
func LegacyConfig() Config {
	return Config{UseMainObmalloc: true, AllowFork: true, AllowExec: true, AllowThreads: true, AllowDaemonThreads: true}
}

// validate reports the combinations CPython rejects, with a clearer message
// than CPython's.
func (c Config) validate() error {
	if c.OwnGIL && c.UseMainObmalloc {
		return fmt.Errorf("%w: OwnGIL needs its own allocator (UseMainObmalloc false)", ErrInvalidConfig)
	}
	if !c.UseMainObmalloc && !c.CheckMultiInterpExtensions {
		return fmt.Errorf("%w: an interpreter with its own allocator must check extensions (CheckMultiInterpExtensions true)", ErrInvalidConfig)
	}
	return nil
}

// RuntimeOptions configure the process-wide CPython runtime.
type RuntimeOptions struct {
	// Home is the Python prefix holding the standard library (like
	// PYTHONHOME, which the runtime ignores: it does not read PYTHON*
	// variables). Empty, and no Venv: the executable's own directory when
	// it holds a standard library for this CPython version
	// (lib/python3.X/os.py next to the executable, the layout `subinterp
	// bundle` makes, so a bundled program needs no options and no
	// environment); otherwise the prefix CPython was built for. A Home
	// given here always wins.
	Home string
	// NoSite skips `import site`: interpreters start faster, and
	// site-packages are not on sys.path.
	NoSite bool
	// Argv becomes sys.argv in every interpreter. Empty: [""].
	Argv []string
	// ModulePaths are extra sys.path entries, ahead of the standard
	// library, in every interpreter. A plain site-packages directory can go
	// here (its .pth files are not read; use Venv for that).
	ModulePaths []string
	// Venv is a virtual environment (python3.X -m venv DIR) made with the
	// CPython this program links: sys.prefix becomes DIR and site adds its
	// site-packages (and the base installation's, if its pyvenv.cfg says
	// include-system-site-packages = true) in every interpreter, .pth files
	// included. Initialize refuses, with ErrInvalidOptions, a directory
	// without pyvenv.cfg, a venv made by another CPython version, and Venv
	// together with Home (a venv names its home itself) or NoSite (site is
	// what reads it).
	Venv string
	// Stdout and Stderr receive what Python code prints, in every
	// interpreter, unless a call says otherwise (WithStdout, WithStderr).
	// Nil: the process's own stdout and stderr.
	Stdout, Stderr io.Writer
	// KeepGOMAXPROCS leaves GOMAXPROCS alone. By default Initialize raises
	// it to twice the CPU count: an interpreter's thread needs a P to run
	// Go code each time it comes back from Python, and callers waiting for
	// results spin on Ps of their own, so with only one P per CPU they
	// starve the very threads they wait for (measured on 2 cores, a pool
	// of 2 with 4 callers: 15k calls/s at GOMAXPROCS=2, 128k at 4).
	KeepGOMAXPROCS bool
	// InterruptGrace is how long a call whose context ends waits for the
	// interrupted Python code to stop before it returns without it
	// (InterruptedError.Stopped false, the interpreter busy until the code
	// returns). 0 means DefaultInterruptGrace. Pools and interpreters can
	// override it (PoolOptions.InterruptGrace, SetInterruptGrace).
	InterruptGrace time.Duration
	// Flags are the settings python3's own command-line options give
	// CPython's configuration (sys.flags, sys.warnoptions, sys._xoptions),
	// for programs that behave as a python command (`subinterp python`).
	// The zero value is the embedding default.
	Flags PythonFlags
	// FinalizeTimeout bounds Finalize: how long it waits for running calls
	// to stop and Python threads to end before it gives up with an error
	// naming them (leaving CPython running). 0 means
	// DefaultFinalizeTimeout; FinalizeContext takes a context instead.
	FinalizeTimeout time.Duration
}

// PythonFlags are the parts of CPython's configuration that python3's
// command-line options set. Options that only decide what runs, or how
// sys.path[0] is found (-c, -m, -i, -P, -I), are the caller's: CPython does
// not run the program here. The runtime always ignores PYTHON* variables
// and the user site directory (as python3 -I does), so -E and -s need no
// field.
type PythonFlags struct {
	// BytesWarning is -b (1: warn) or -bb (2: error) about bytes/str
	// comparisons.
	BytesWarning int
	// DontWriteBytecode is -B: no .pyc files are written.
	DontWriteBytecode bool
	// Optimize is -O (1: asserts off) or -OO (2: docstrings off too).
	Optimize int
	// Quiet is -q (sys.flags.quiet): no banner in interactive mode.
	Quiet bool
	// Unbuffered is -u: sys.stdout and sys.stderr write through.
	Unbuffered bool
	// Verbose is -v, counted (import tracing).
	Verbose int
	// WarnOptions are -W arguments, in order (sys.warnoptions).
	WarnOptions []string
	// XOptions are -X arguments, "name" or "name=value" (sys._xoptions):
	// CPython's own (dev, utf8, importtime, tracemalloc,
	// int_max_str_digits, ...) take effect as in python3. Refused:
	// "faulthandler" (it installs signal handlers, and Go owns the
	// process's signals) and "warn_default_encoding" (CPython reads it only
	// from a command line it parses itself).
	XOptions []string
}

// validate reports flags CPython would misread, wrapping
// ErrInvalidOptions.
func (f PythonFlags) validate() error {
	switch {
	case f.BytesWarning < 0 || f.BytesWarning > 2:
		return fmt.Errorf("%w: Flags.BytesWarning must be 0, 1 or 2 (got %d)", ErrInvalidOptions, f.BytesWarning)
	case f.Optimize < 0:
		return fmt.Errorf("%w: Flags.Optimize must not be negative (got %d)", ErrInvalidOptions, f.Optimize)
	case f.Verbose < 0:
		return fmt.Errorf("%w: Flags.Verbose must not be negative (got %d)", ErrInvalidOptions, f.Verbose)
	}
	for _, s := range append(append([]string(nil), f.WarnOptions...), f.XOptions...) {
		if strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("%w: Flags: %q contains a NUL byte", ErrInvalidOptions, s)
		}
	}
	for _, x := range f.XOptions {
		name, _, _ := strings.Cut(x, "=")
		switch name {
		case "":
			return fmt.Errorf("%w: Flags.XOptions: %q has no name", ErrInvalidOptions, x)
		case "faulthandler":
			return fmt.Errorf("%w: Flags.XOptions: faulthandler installs signal handlers, and Go owns the process's signals", ErrInvalidOptions)
		case "warn_default_encoding":
			return fmt.Errorf("%w: Flags.XOptions: CPython reads warn_default_encoding only from a command line it parses itself, which an embedded CPython does not", ErrInvalidOptions)
		case "utf8":
			if _, v, _ := strings.Cut(x, "="); v != "" && v != "0" && v != "1" {
				return fmt.Errorf("%w: Flags.XOptions: utf8 takes no value, 1 or 0 (got %q)", ErrInvalidOptions, x)
			}
		}
	}
	return nil
}

// xoption returns the value of -X name ("" for a bare -X name) and
// whether it was given; the last one given wins, as in CPython.
func (f PythonFlags) xoption(name string) (value string, ok bool) {
	for _, x := range f.XOptions {
		if n, v, _ := strings.Cut(x, "="); n == name {
			value, ok = v, true
		}
	}
	return value, ok
}

// ExecOption adjusts one Exec or Call (Interpreter's or Pool's): Exec
// takes them as its last arguments, Call after its arguments and Kwargs.
type ExecOption func(*execOptions)

type execOptions struct {
	stdout, stderr io.Writer
	globals        map[string]any
}

// WithStdout sends what the call prints to sys.stdout to w.
func WithStdout(w io.Writer) ExecOption { return func(o *execOptions) { o.stdout = w } }

// WithStderr sends what the call prints to sys.stderr to w.
func WithStderr(w io.Writer) ExecOption { return func(o *execOptions) { o.stderr = w } }

// WithGlobals binds Go values as globals of __main__ before the code runs
// (converted like Call arguments; see package channel for the types). On
// a Call they are bound before the function is called, and stay bound.
func WithGlobals(globals map[string]any) ExecOption {
	return func(o *execOptions) { o.globals = globals }
}
