package main

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"unicode"

	"github.com/subinterp/subinterp/cpython"
)

// pythonMainPy is the program part of `subinterp python`, loaded as the
// module _subinterp_python in the main interpreter.
//
//go:embed python_main.py
var pythonMainPy string

// pythonAbout is the help text of `subinterp python`.
const pythonAbout = `
Runs a Python program as python3 does, in the runtime's main interpreter,
with the subinterp module importable: a script written for CPython 3.14's
concurrent.interpreters runs with "from subinterp import interpreters" on
CPython 3.12-3.15. The same binary called through a symlink whose name
starts with "python" (python3 -> subinterp) behaves as this command, and
sys.executable is such a path, so programs that start sys.executable again
(subprocess, multiprocessing, test.support.script_helper) get this command.

Options (as python3's):
  -b, -bb   warn (-bb: error) about comparing bytes with str
  -B        do not write .pyc files
  -c CMD    run the program passed as a string (ends the options)
  -E, -s    accepted: PYTHON* variables and the user site are always ignored
  -h, -?    this help
  -i        interactive mode after running the program (the code module's console)
  -I        isolated: as -E -s -P
  -m MOD    run library module MOD as a script (ends the options)
  -O, -OO   remove asserts (-OO: and docstrings)
  -P        do not put the script's directory (or the current one) first on sys.path
  -q        no banner in interactive mode
  -R        accepted: hash randomization is always on
  -S        do not import site
  -u        unbuffered stdout and stderr
  -v        trace imports (-vv: more)
  -V        print the Python version (-VV: and the subinterp build)
  -W ARG    warning control (sys.warnoptions)
  -x        skip the first line of the source
  -X OPT    CPython's -X options (dev, utf8, importtime, tracemalloc, ...);
            -X faulthandler is accepted and has no effect: Go owns the
            process's signals, and a crash prints Go's report
  FILE      run a .py file, or a directory or zip file with a __main__.py
  -         read the program from stdin (the default when stdin is not a terminal)

Exit status as python3's: 0, the SystemExit code, 1 for an uncaught
exception (its traceback on stderr, through sys.excepthook), 2 for bad
usage or a FILE that cannot be opened, 130 for Ctrl-C. Ctrl-C raises
KeyboardInterrupt and keeps raising it until the program has stopped (the
runtime interrupts as Interpreter.Interrupt does).`

// pythonSpec is a parsed python command line.
type pythonSpec struct {
	// prog names the command in messages: the name it was called by
	// (python3) or "subinterp python".
	prog string
	// kind is what to run: "command" (-c), "module" (-m), "file" or
	// "default" (stdin, or the interactive console); target is the code,
	// the module or the path.
	kind, target string
	// argv is sys.argv.
	argv  []string
	flags cpython.PythonFlags
	// noSite is -S, inspect -i, safePath -P (or -I), skipFirstLine -x.
	noSite, inspect, safePath, skipFirstLine bool
	// version counts -V; help is -h.
	version int
	help    bool
}

// pythonUsageError is a bad python command line: its message is the
// first of the three lines python3 prints (exit status 2).
type pythonUsageError struct{ msg string }

func (e *pythonUsageError) Error() string { return e.msg }

// cmdPython is `subinterp python`.
func cmdPython(args []string, stdout, stderr io.Writer) int {
	return runPython("", args, stdout, stderr)
}

// invokedAsPython reports whether the program was called by a name that
// starts with "python" (a python3 -> subinterp symlink): then it is
// `subinterp python`, busybox-style.
func invokedAsPython(argv0 string) bool {
	return strings.HasPrefix(filepath.Base(argv0), "python")
}

// runPython parses and runs a python command line. invokedAs is the name
// the program was called by when that is a python name, else "".
func runPython(invokedAs string, args []string, stdout, stderr io.Writer) int {
	prog := "subinterp python"
	if invokedAs != "" {
		prog = filepath.Base(invokedAs)
	}
	spec, err := parsePython(prog, args)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		fmt.Fprintf(stderr, "usage: %s [option] ... [-c cmd | -m mod | file | -] [arg] ...\n", prog)
		fmt.Fprintf(stderr, "Try `%s -h' for more information.\n", prog)
		return exitUsage
	}
	switch {
	case spec.help:
		fmt.Fprintf(stdout, "usage: %s [option] ... [-c cmd | -m mod | file | -] [arg] ...\n%s\n", prog, strings.TrimRight(pythonAbout, "\n"))
		return exitOK
	case spec.version > 0:
		fmt.Fprintf(stdout, "Python %s\n", cpython.LinkedVersion())
		if spec.version > 1 {
			fmt.Fprintf(stdout, "%s\n", strings.TrimSpace(buildLine()))
		}
		return exitOK
	}
	if spec.kind == "file" {
		if code, ok := checkScript(prog, spec.target, stderr); !ok {
			return code
		}
		if isImporter(spec.target) {
			spec.kind = "importer"
		}
	}
	executable, warning := pythonExecutable(invokedAs)
	if warning != "" {
		fmt.Fprintf(stderr, "%s: warning: %s\n", prog, warning)
	}
	return execPython(spec, executable, stderr)
}

// buildLine is the -VV line: subinterp's own version line.
func buildLine() string {
	var b strings.Builder
	printVersion(&b)
	return b.String()
}

// parsePython parses python3's command line: short options cluster (-Bc
// CODE), -c, -m, -W and -X take the rest of their word or the next one,
// and -c, -m, FILE and - end the options; what follows goes to sys.argv.
// Errors are *pythonUsageError.
func parsePython(prog string, args []string) (pythonSpec, error) {
	spec := pythonSpec{prog: prog, kind: "default"}
	bad := func(format string, a ...any) (pythonSpec, error) {
		return spec, &pythonUsageError{fmt.Sprintf(format, a...)}
	}
	i := 0
	for ; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			i++
			break
		}
		if arg == "-" || !strings.HasPrefix(arg, "-") {
			break
		}
		if strings.HasPrefix(arg, "--") {
			switch arg {
			case "--help":
				spec.help = true
				continue
			case "--version":
				spec.version++
				continue
			case "--help-env", "--help-xoptions", "--help-all":
				return bad("%s is not supported here: see python3 %s; -h lists what this command takes", arg, arg)
			case "--check-hash-based-pycs":
				return bad("--check-hash-based-pycs is not supported")
			}
			return bad("unknown option %s", arg)
		}
		for j := 1; j < len(arg); j++ {
			opt := arg[j]
			// value returns the option's argument: the rest of this word,
			// or the next one.
			value := func() (string, bool) {
				if rest := arg[j+1:]; rest != "" {
					j = len(arg)
					return rest, true
				}
				if i+1 < len(args) {
					i++
					j = len(arg)
					return args[i], true
				}
				return "", false
			}
			switch opt {
			case 'c', 'm':
				v, ok := value()
				if !ok {
					return bad("argument expected for the -%c option", opt)
				}
				spec.kind, spec.target = "command", v
				spec.argv = append([]string{"-c"}, args[i+1:]...)
				if opt == 'm' {
					if v == "" {
						return bad("-m needs a module name")
					}
					spec.kind = "module"
					spec.argv[0] = "-m"
				}
				return spec, nil
			case 'W', 'X':
				v, ok := value()
				if !ok {
					return bad("argument expected for the -%c option", opt)
				}
				if opt == 'W' {
					spec.flags.WarnOptions = append(spec.flags.WarnOptions, v)
					continue
				}
				if name, _, _ := strings.Cut(v, "="); name == "faulthandler" {
					// Go owns the process's signals (cpython.PythonFlags):
					// accepted, as script_helper passes it to every child.
					continue
				}
				spec.flags.XOptions = append(spec.flags.XOptions, v)
			case 'b':
				spec.flags.BytesWarning = min(spec.flags.BytesWarning+1, 2)
			case 'B':
				spec.flags.DontWriteBytecode = true
			case 'E', 's', 'R':
				// The runtime always ignores PYTHON* variables and the user
				// site directory; hash randomization is always on.
			case 'h', '?':
				spec.help = true
			case 'i':
				spec.inspect = true
			case 'I':
				spec.safePath = true
			case 'O':
				spec.flags.Optimize++
			case 'P':
				spec.safePath = true
			case 'q':
				spec.flags.Quiet = true
			case 'S':
				spec.noSite = true
			case 'u':
				spec.flags.Unbuffered = true
			case 'v':
				spec.flags.Verbose++
			case 'V':
				spec.version++
			case 'x':
				spec.skipFirstLine = true
			case 'd':
				return bad("-d (parser debugging) is not supported")
			default:
				return bad("unknown option -%s", string(rune(opt)))
			}
		}
	}
	rest := args[i:]
	switch {
	case len(rest) == 0:
		spec.argv = []string{""}
	case rest[0] == "-":
		spec.argv = rest
	default:
		spec.kind, spec.target, spec.argv = "file", rest[0], rest
	}
	return spec, nil
}

// checkScript reports, as python3 does (status 2), a FILE that cannot be
// opened, before CPython starts.
func checkScript(prog, path string, stderr io.Writer) (int, bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	f, err := os.Open(path)
	if err == nil {
		f.Close()
		return exitOK, true
	}
	var errno syscall.Errno
	msg := err.Error()
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" {
			r := []rune(s)
			r[0] = unicode.ToUpper(r[0])
			s = string(r)
		}
		msg = fmt.Sprintf("[Errno %d] %s", int(errno), s)
	}
	fmt.Fprintf(stderr, "%s: can't open file %s: %s\n", prog, pyRepr(abs), msg)
	return exitUsage, false
}

// isImporter reports whether path is a directory or a zip file: python3
// runs the __main__.py inside it.
func isImporter(path string) bool {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return true
	}
	z, err := zip.OpenReader(path)
	if err != nil {
		return false
	}
	z.Close()
	return true
}

// path0 is what python3 puts first on sys.path (sys_path_0), "" meaning
// the current directory, and whether it puts anything: a directory or zip
// file run as the program itself; else, unless -P or -I, the script's real
// directory, the current directory for -m (absolute), or "" for -c, stdin
// and the console. subinterp puts it first in every interpreter (as
// CPython 3.13 does for subinterpreters), so that they import what the
// program imports.
func path0(spec pythonSpec) (string, bool) {
	switch {
	case spec.kind == "importer":
		abs, err := filepath.Abs(spec.target)
		if err != nil {
			return spec.target, true
		}
		return abs, true
	case spec.safePath:
		return "", false
	case spec.kind == "module":
		wd, err := os.Getwd()
		if err != nil {
			return "", true
		}
		return wd, true
	case spec.kind == "file":
		p, err := filepath.Abs(spec.target)
		if err != nil {
			return "", true
		}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		return filepath.Dir(p), true
	}
	return "", true
}

// pyRepr quotes s as Python's repr() quotes a plain str.
func pyRepr(s string) string {
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

// pythonExecutable returns the path sys.executable gets: one that runs
// this command again. Called by a python name, that name (found on PATH as
// CPython does, not resolved through symlinks); called as `subinterp
// python`, a python3 symlink to this program next to it, or else one made
// in subinterp's cache (python/<hash of this program's path>/python3). A
// warning says why there is none ("" when there is).
func pythonExecutable(invokedAs string) (path, warning string) {
	if invokedAs != "" {
		p := invokedAs
		if !strings.ContainsRune(p, '/') {
			if found, err := exec.LookPath(p); err == nil {
				p = found
			}
		}
		if abs, err := filepath.Abs(p); err == nil {
			return abs, ""
		}
		return p, ""
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Sprintf("cannot find this program (%v): sys.executable is empty", err)
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	for _, name := range []string{"python3", "python"} {
		sibling := filepath.Join(filepath.Dir(exe), name)
		if real, err := filepath.EvalSymlinks(sibling); err == nil && real == exe {
			return sibling, ""
		}
	}
	cache := subinterpCache()
	if cache == "" {
		return "", "no cache directory for a python3 link to this program: sys.executable is empty; " +
			"call it through a python3 symlink instead"
	}
	link, err := pythonLink(filepath.Join(cache, "python"), exe)
	if err != nil {
		return "", fmt.Sprintf("%v: sys.executable is empty; call this program through a python3 symlink instead", err)
	}
	return link, ""
}

// pythonLink makes (or finds) dir/<hash of exe>/python3, a symlink to exe,
// atomically: concurrent first runs each rename a complete link into place.
func pythonLink(dir, exe string) (string, error) {
	sum := sha256.Sum256([]byte(exe))
	linkDir := filepath.Join(dir, hex.EncodeToString(sum[:8]))
	link := filepath.Join(linkDir, "python3")
	if target, err := os.Readlink(link); err == nil && target == exe {
		return link, nil
	}
	if err := os.MkdirAll(linkDir, 0o755); err != nil {
		return "", fmt.Errorf("making a python3 link to this program: %w", err)
	}
	tmp := filepath.Join(linkDir, fmt.Sprintf(".python3.%d", os.Getpid()))
	_ = os.Remove(tmp)
	if err := os.Symlink(exe, tmp); err != nil {
		return "", fmt.Errorf("making a python3 link to this program: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("making a python3 link to this program: %w", err)
	}
	return link, nil
}

// driverFramesOut removes the frames of python_main.py from a traceback
// (the program's own start where python3's would); fallback stands in for
// a traceback that is empty.
func driverFramesOut(tb, fallback string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimRight(tb, "\n"), "\n") {
		if strings.HasPrefix(line, `  File "<subinterp python>"`) {
			continue
		}
		out = append(out, line)
	}
	if len(out) == 1 && strings.HasPrefix(out[0], "Traceback (most recent call last)") || len(out) == 0 {
		return fallback
	}
	if len(out) == 2 && strings.HasPrefix(out[0], "Traceback (most recent call last)") {
		return out[1] // only the driver's frames: the exception line alone
	}
	return strings.Join(out, "\n")
}

// loadPythonMain makes pythonMainPy the module _subinterp_python of the
// main interpreter, binding no name in __main__ (the program's own).
const loadPythonMain = `__import__("sys").modules["_subinterp_python"] = __import__("types").ModuleType("_subinterp_python")
__import__("sys").modules["_subinterp_python"].__file__ = "<subinterp python>"
exec(compile(globals().pop("__subinterp_python_main__"), "<subinterp python>", "exec"), __import__("sys").modules["_subinterp_python"].__dict__)`

// execPython starts CPython with spec's flags, runs the program in the main
// interpreter, does what python3 does at exit, ends the runtime and
// returns the exit status.
func execPython(spec pythonSpec, executable string, stderr io.Writer) int {
	opts := cpython.RuntimeOptions{Argv: spec.argv, NoSite: spec.noSite, Flags: spec.flags}
	if p, ok := path0(spec); ok {
		opts.ModulePaths = []string{p}
	}
	rt, err := cpython.Initialize(opts)
	if err != nil {
		fmt.Fprintf(stderr, "%s: starting CPython: %v\n", spec.prog, err)
		return exitFailed
	}
	main := rt.Main()
	ctx := context.Background()
	if err := main.Exec(ctx, loadPythonMain, cpython.WithGlobals(map[string]any{"__subinterp_python_main__": pythonMainPy})); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", spec.prog, err)
		return exitFailed
	}

	// Go owns the signals: Ctrl-C interrupts the main interpreter's code
	// (KeyboardInterrupt), and once the program is over, the wait for the
	// interpreters' threads at the end.
	endCtx, giveUp := context.WithCancel(ctx)
	defer giveUp()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	var ending atomic.Bool
	defer func() {
		signal.Stop(sigs)
		close(sigs) // no more deliveries after Stop: ends the goroutine
	}()
	go func() {
		for range sigs {
			_ = main.Interrupt()
			if ending.Load() {
				giveUp()
			}
		}
	}()

	status, stuck := callPythonMain(ctx, spec, stderr, main, "_subinterp_python.main",
		spec.kind, spec.target, executable, spec.inspect, spec.skipFirstLine, spec.flags.Quiet)
	if stuck {
		// Code still runs in a C call: ending CPython would wait for it.
		return status
	}
	if st, stuck := callPythonMain(ctx, spec, stderr, main, "_subinterp_python.shutdown"); stuck {
		return max(status, st)
	} else if status == exitOK {
		status = st
	}
	// As python3 at exit, the interpreters' non-daemon threads are waited
	// for as long as they run (Ctrl-C gives up).
	ending.Store(true)
	if err := rt.FinalizeContext(endCtx); err != nil {
		fmt.Fprintf(stderr, "%s: ending CPython: %v\n", spec.prog, err)
		switch {
		case endCtx.Err() != nil:
			status = exitInterrupted
		case status == exitOK:
			status = 120 // python3's status when finalization fails
		}
	}
	return status
}

// callPythonMain calls fn of the driver module and returns the status it
// returned (0 for None), and whether code may still be running (a C call
// the interrupt did not stop).
func callPythonMain(ctx context.Context, spec pythonSpec, stderr io.Writer, main *cpython.Interpreter, fn string, args ...any) (status int, stuck bool) {
	res, err := main.Call(ctx, fn, args...)
	var interrupted *cpython.InterruptedError
	var failed *cpython.RunFailedError
	switch {
	case errors.As(err, &interrupted) && !interrupted.Stopped:
		fmt.Fprintf(stderr, "KeyboardInterrupt\n%s: the program is blocked in a C call; not waiting for it\n", spec.prog)
		return exitInterrupted, true
	case errors.As(err, &interrupted):
		// Ctrl-C: the driver lets KeyboardInterrupt through (it is raised
		// again while the call runs), so its traceback is reported here.
		fmt.Fprintln(stderr, driverFramesOut(interrupted.Traceback, "KeyboardInterrupt"))
		return exitInterrupted, false
	case errors.As(err, &failed) && failed.Type == "KeyboardInterrupt":
		fmt.Fprintln(stderr, driverFramesOut(failed.Traceback, "KeyboardInterrupt"))
		return exitInterrupted, false
	case errors.As(err, &failed) && failed.Type == "SystemExit":
		return systemExitStatus(stderr, failed.Message), false
	case errors.As(err, &failed):
		fmt.Fprintln(stderr, driverFramesOut(failed.Traceback, failed.Error()))
		return exitFailed, false
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n", spec.prog, err)
		return exitFailed, false
	}
	if n, ok := res.(int64); ok {
		return int(n), false
	}
	return exitOK, false
}
