package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
)

// TestPythonParse: python3's command line, option by option.
func TestPythonParse(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want pythonSpec
	}{
		{"nothing", nil, pythonSpec{kind: "default", argv: []string{""}}},
		{"-c with args", []string{"-c", "print(1)", "a", "-b"}, pythonSpec{kind: "command", target: "print(1)", argv: []string{"-c", "a", "-b"}}},
		{"-c glued", []string{"-cpass"}, pythonSpec{kind: "command", target: "pass", argv: []string{"-c"}}},
		{"cluster ending in c", []string{"-Bc", "pass", "x"}, pythonSpec{kind: "command", target: "pass", argv: []string{"-c", "x"}, flags: cpython.PythonFlags{DontWriteBytecode: true}}},
		{"-m with args", []string{"-m", "json.tool", "-h"}, pythonSpec{kind: "module", target: "json.tool", argv: []string{"-m", "-h"}}},
		{"-m glued", []string{"-mjson"}, pythonSpec{kind: "module", target: "json", argv: []string{"-m"}}},
		{"FILE with args", []string{"s.py", "-c", "x"}, pythonSpec{kind: "file", target: "s.py", argv: []string{"s.py", "-c", "x"}}},
		{"-- then FILE", []string{"-u", "--", "-s.py"}, pythonSpec{kind: "file", target: "-s.py", argv: []string{"-s.py"}, flags: cpython.PythonFlags{Unbuffered: true}}},
		{"stdin", []string{"-", "a"}, pythonSpec{kind: "default", argv: []string{"-", "a"}}},
		{"warnings and X options", []string{"-W", "error", "-Wd", "-X", "dev", "-Xutf8=1", "-c", ""},
			pythonSpec{kind: "command", argv: []string{"-c"}, flags: cpython.PythonFlags{WarnOptions: []string{"error", "d"}, XOptions: []string{"dev", "utf8=1"}}}},
		{"-X faulthandler is accepted and dropped", []string{"-X", "faulthandler", "-Xfaulthandler=1", "-c", ""}, pythonSpec{kind: "command", argv: []string{"-c"}}},
		{"counted flags", []string{"-OO", "-bbb", "-vv", "-c", ""}, pythonSpec{kind: "command", argv: []string{"-c"}, flags: cpython.PythonFlags{Optimize: 2, BytesWarning: 2, Verbose: 2}}},
		{"switches", []string{"-qSiPx", "-E", "-s", "-R", "f.py"}, pythonSpec{kind: "file", target: "f.py", argv: []string{"f.py"}, noSite: true, inspect: true, safePath: true, skipFirstLine: true, flags: cpython.PythonFlags{Quiet: true}}},
		{"-I is safe path", []string{"-I", "-c", ""}, pythonSpec{kind: "command", argv: []string{"-c"}, safePath: true}},
		{"version", []string{"-V"}, pythonSpec{kind: "default", argv: []string{""}, version: 1}},
		{"verbose version", []string{"-VV"}, pythonSpec{kind: "default", argv: []string{""}, version: 2}},
		{"--version", []string{"--version"}, pythonSpec{kind: "default", argv: []string{""}, version: 1}},
		{"help", []string{"-h"}, pythonSpec{kind: "default", argv: []string{""}, help: true}},
		{"--help", []string{"--help"}, pythonSpec{kind: "default", argv: []string{""}, help: true}},
		{"-?", []string{"-?"}, pythonSpec{kind: "default", argv: []string{""}, help: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePython("python3", tc.args)
			require.NoError(t, err)
			tc.want.prog = "python3"
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestPythonUsageErrors: every bad command line exits 2 with python3's
// three lines (what is wrong, the usage, where to get help), before
// CPython starts.
func TestPythonUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown short option", []string{"-z"}, "unknown option -z"},
		{"unknown option in a cluster", []string{"-Bz", "-c", "pass"}, "unknown option -z"},
		{"unknown long option", []string{"--bogus"}, "unknown option --bogus"},
		{"-c without code", []string{"-c"}, "argument expected for the -c option"},
		{"-m without module", []string{"-m"}, "argument expected for the -m option"},
		{"-m with an empty name", []string{"-m", ""}, "-m needs a module name"},
		{"-W without argument", []string{"-W"}, "argument expected for the -W option"},
		{"-X without argument", []string{"-X"}, "argument expected for the -X option"},
		{"parser debugging", []string{"-d", "-c", "pass"}, "-d (parser debugging) is not supported"},
		{"hash-based pycs", []string{"--check-hash-based-pycs", "always"}, "--check-hash-based-pycs is not supported"},
		{"--help-env", []string{"--help-env"}, "--help-env is not supported here: see python3 --help-env; -h lists what this command takes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runPython("/usr/local/bin/python3", tc.args, &stdout, &stderr)
			assert.Equal(t, exitUsage, code)
			assert.Empty(t, stdout.String())
			lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
			require.Len(t, lines, 3, stderr.String())
			assert.Equal(t, "python3: "+tc.want, lines[0])
			assert.Equal(t, "usage: python3 [option] ... [-c cmd | -m mod | file | -] [arg] ...", lines[1])
			assert.Equal(t, "Try `python3 -h' for more information.", lines[2])

			_, err := parsePython("python3", tc.args)
			var usage *pythonUsageError
			require.ErrorAs(t, err, &usage)
			assert.Equal(t, tc.want, usage.Error())
		})
	}
	// Through the subcommand the messages name it.
	var stdout, stderr bytes.Buffer
	assert.Equal(t, exitUsage, dispatch([]string{"python", "-z"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "subinterp python: unknown option -z")
}

func TestPythonHelpAndVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, dispatch([]string{"help", "python"}, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "usage: subinterp python [option]")
	assert.Contains(t, stdout.String(), "-X faulthandler is accepted and has no effect")
	assert.Empty(t, stderr.String())

	stdout.Reset()
	require.Equal(t, exitOK, runPython("python3", []string{"-V"}, &stdout, &stderr))
	assert.Equal(t, "Python "+cpython.LinkedVersion()+"\n", stdout.String())
	stdout.Reset()
	require.Equal(t, exitOK, runPython("python3", []string{"-VV"}, &stdout, &stderr))
	assert.Regexp(t, `^Python \S+\nsubinterp `, stdout.String())

	stdout.Reset()
	require.Equal(t, exitOK, dispatch([]string{"--help"}, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "python     run a program as python3 does")
}

// TestPythonPath0: what goes first on sys.path (in every interpreter).
func TestPythonPath0(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	require.NoError(t, os.MkdirAll(real, 0o755))
	script := filepath.Join(real, "s.py")
	require.NoError(t, os.WriteFile(script, nil, 0o644))
	link := filepath.Join(dir, "link.py")
	require.NoError(t, os.Symlink(script, link))
	wd, err := os.Getwd()
	require.NoError(t, err)

	tests := []struct {
		name string
		spec pythonSpec
		want string
		ok   bool
	}{
		{"-c", pythonSpec{kind: "command"}, "", true},
		{"stdin or console", pythonSpec{kind: "default"}, "", true},
		{"-m: the current directory", pythonSpec{kind: "module", target: "x"}, wd, true},
		{"FILE: its directory", pythonSpec{kind: "file", target: script}, real, true},
		{"FILE through a symlink: the real directory", pythonSpec{kind: "file", target: link}, real, true},
		{"-P", pythonSpec{kind: "file", target: script, safePath: true}, "", false},
		{"a directory run as the program, even with -P", pythonSpec{kind: "importer", target: dir, safePath: true}, dir, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := path0(tc.spec)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestPythonLink: the python3 link made for sys.executable is reused,
// replaced when it points elsewhere, and its failure is an error.
func TestPythonLink(t *testing.T) {
	dir := t.TempDir()
	link, err := pythonLink(dir, "/bin/true")
	require.NoError(t, err)
	assert.Equal(t, "python3", filepath.Base(link))
	target, err := os.Readlink(link)
	require.NoError(t, err)
	assert.Equal(t, "/bin/true", target)

	again, err := pythonLink(dir, "/bin/true")
	require.NoError(t, err)
	assert.Equal(t, link, again)
	other, err := pythonLink(dir, "/bin/false")
	require.NoError(t, err)
	assert.NotEqual(t, link, other, "one link per program")

	blocked := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(blocked, nil, 0o644))
	_, err = pythonLink(blocked, "/bin/true")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "making a python3 link to this program")
}

// runPythonBinary runs `subinterp python args...` with stdin.
func runPythonBinary(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	return runCommand(t, pythonCommand(t, args...), dir, stdin)
}

// pythonCommand is `subinterp python args...` with a cache of its own, so
// the python3 link made for sys.executable goes into the test's temporary
// directory, not the user's cache.
func pythonCommand(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, append([]string{"python"}, args...)...)
	cmd.Env = append(os.Environ(), "SUBINTERP_CACHE="+t.TempDir())
	return cmd
}

// runCommand runs cmd in dir with stdin and returns what it did.
func runCommand(t *testing.T, cmd *exec.Cmd, dir, stdin string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangAfter)
	defer cancel()
	full := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	full.Dir, full.Env = dir, cmd.Env
	var stdout, stderr bytes.Buffer
	full.Stdin = strings.NewReader(stdin)
	full.Stdout, full.Stderr = &stdout, &stderr
	err := full.Run()
	require.NoError(t, ctx.Err(), "%q did not finish; stderr:\n%s", cmd.Args, stderr.String())
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// TestPythonExitStatus: exit statuses and what goes to stderr, as python3.
func TestPythonExitStatus(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		code     int
		stderr   []string // substrings
		noStderr []string
	}{
		{"success", []string{"-c", "pass"}, 0, nil, nil},
		{"sys.exit()", []string{"-c", "import sys; sys.exit()"}, 0, nil, nil},
		{"sys.exit(3)", []string{"-c", "import sys; sys.exit(3)"}, 3, nil, nil},
		{"sys.exit(256) keeps the low byte", []string{"-c", "raise SystemExit(256)"}, 0, nil, nil},
		{"sys.exit(True)", []string{"-c", "raise SystemExit(True)"}, 1, nil, nil},
		{"sys.exit('bye')", []string{"-c", "import sys; sys.exit('bye')"}, 1, []string{"bye\n"}, []string{"Traceback"}},
		{"uncaught exception", []string{"-c", "def f():\n    raise ValueError('boom')\nf()"}, 1,
			[]string{"Traceback (most recent call last):\n  File \"<string>\", line 3, in <module>\n", "line 2, in f\n", "ValueError: boom\n"},
			[]string{"<subinterp python>", "_subinterp_python"}},
		{"syntax error in -c", []string{"-c", "def f(:"}, 1, []string{"  File \"<string>\", line 1\n", "SyntaxError: "}, []string{"Traceback"}},
		{"KeyboardInterrupt raised by the code", []string{"-c", "raise KeyboardInterrupt"}, 130, []string{"KeyboardInterrupt\n"}, nil},
		{"sys.excepthook is used", []string{"-c", "import sys\nsys.excepthook = lambda t, v, tb: print('hook', t.__name__, file=sys.stderr)\n1/0"}, 1,
			[]string{"hook ZeroDivisionError\n"}, []string{"Traceback"}},
		{"missing FILE", []string{"missing.py"}, 2,
			[]string{"subinterp python: can't open file '" + filepath.Join(dir, "missing.py") + "': [Errno 2] No such file or directory\n"}, nil},
		{"-m of a missing module", []string{"-m", "no_such_module_xyz"}, 1, []string{": No module named no_such_module_xyz\n"}, []string{"Traceback"}},
		{"a directory without __main__.py", []string{"."}, 1, []string{"can't find '__main__' module in"}, nil},
		{"a bad -X value stops CPython's start", []string{"-X", "int_max_str_digits=5", "-c", "pass"}, 1, []string{"subinterp python: starting CPython:", "int_max_str_digits"}, nil},
		{"an -X option CPython cannot take here", []string{"-X", "warn_default_encoding", "-c", "pass"}, 1,
			[]string{"subinterp python: starting CPython: subinterp: invalid runtime options: Flags.XOptions: CPython reads warn_default_encoding only from a command line"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runPythonBinary(t, dir, "", tc.args...)
			assert.Equal(t, tc.code, r.code, r.stderr)
			for _, s := range tc.stderr {
				assert.Contains(t, r.stderr, s)
			}
			for _, s := range tc.noStderr {
				assert.NotContains(t, r.stderr, s)
			}
			assert.Empty(t, r.stdout)
		})
	}
}

// TestPythonPrograms: -c, FILE, -m, stdin, a directory, -i, and the flags
// as the program sees them.
func TestPythonPrograms(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	show := "import sys; print(sys.argv, repr(sys.path[0]), __name__, globals().get('__file__'))"
	script := write("pkg/show.py", show+"\n")
	write("pkg/__main__.py", show+"\n")
	write("helper.py", "VALUE = 42\n")

	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"-c", []string{"-c", show, "a"}, "", "['-c', 'a'] '' __main__ None\n"},
		{"FILE", []string{"pkg/show.py", "b"}, "", "['pkg/show.py', 'b'] '" + filepath.Dir(script) + "' __main__ " + script + "\n"},
		{"-m", []string{"-m", "pkg.show", "c"}, "", "['" + script + "', 'c'] '" + dir + "' __main__ " + script + "\n"},
		{"stdin", []string{"-", "d"}, show + "\n", "['-', 'd'] '' __main__ <stdin>\n"},
		{"stdin by default", nil, "print(6 * 7)\n", "42\n"},
		{"a directory with __main__.py", []string{"pkg"}, "", "['pkg'] '" + filepath.Join(dir, "pkg") + "' __main__ " + filepath.Join(dir, "pkg", "__main__.py") + "\n"},
		{"the script's directory is importable", []string{"-c", "import helper; print(helper.VALUE)"}, "", "42\n"},
		{"-x skips the first line", []string{"-x", "-"}, "this is not python\nprint('second')\n", "second\n"},
		{"flags", []string{"-OO", "-B", "-bb", "-q", "-W", "error::DeprecationWarning", "-X", "utf8", "-X", "dev", "-c",
			"import sys; f = sys.flags; print(f.optimize, f.dont_write_bytecode, f.bytes_warning, f.quiet, f.utf8_mode, f.dev_mode, sys.warnoptions[-1], sorted(sys._xoptions))"},
			"", "2 1 2 1 1 True error::DeprecationWarning ['dev', 'utf8']\n"},
		{"-X options CPython reads at start", []string{"-X", "int_max_str_digits=700", "-X", "tracemalloc", "-X", "importtime", "-c",
			"import sys, tracemalloc; print(sys.flags.int_max_str_digits, tracemalloc.is_tracing())"},
			"", "700 True\n"},
		{"-S", []string{"-S", "-c", "import sys; print('site' in sys.modules)"}, "", "False\n"},
		{"-u", []string{"-u", "-c", "import sys; print(sys.stdout.write_through)"}, "", "True\n"},
		{"-i after -c: the console sees its globals", []string{"-i", "-c", "x = 5"}, "print(x * 2)\n", "10\n"},
		{"-i console runs a block cut short by the end of input", []string{"-q", "-i"}, "if True:\n    print('in block')", "in block\n"},
		{"the console's exit() sets the status", []string{"-i", "-c", "pass"}, "exit(0)\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runPythonBinary(t, dir, tc.stdin, tc.args...)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Equal(t, tc.want, r.stdout)
		})
	}

	t.Run("-i prompts on stderr, banner unless -q", func(t *testing.T) {
		r := runPythonBinary(t, dir, "1 + 1\n", "-i")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, "2\n", r.stdout)
		assert.Contains(t, r.stderr, "Python "+cpython.LinkedVersion())
		assert.Contains(t, r.stderr, ">>> ")
		r = runPythonBinary(t, dir, "1/0\n", "-q", "-i")
		assert.Equal(t, 0, r.code, "an error in the console does not end it")
		assert.NotContains(t, r.stderr, "Python "+cpython.LinkedVersion())
		assert.Contains(t, r.stderr, "File \"<stdin>\", line 1")
		assert.Contains(t, r.stderr, "ZeroDivisionError")
	})
}

// TestPythonExecutable: sys.executable re-enters this command, whether it
// was called as `subinterp python` or through a python3 symlink
// (busybox-style), and a child started through it sees subinterp too.
func TestPythonExecutable(t *testing.T) {
	code := `import subprocess, sys
out = subprocess.run([sys.executable, "-c", "import sys, subinterp; print(sys.executable, sys.argv)", "child"],
                     capture_output=True, text=True, check=True).stdout
print(sys.executable)
print(out, end="")`
	binaryReal, err := filepath.EvalSymlinks(binary)
	require.NoError(t, err)

	r := runPythonBinary(t, "", "", "-c", code)
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2, r.stdout)
	exe := lines[0]
	assert.Equal(t, "python3", filepath.Base(exe))
	real, err := filepath.EvalSymlinks(exe)
	require.NoError(t, err)
	assert.Equal(t, binaryReal, real, "sys.executable leads to this program")
	assert.Equal(t, exe+" ['-c', 'child']", lines[1])

	// Busybox: a python3 symlink to the binary is `subinterp python`.
	dir := t.TempDir()
	link := filepath.Join(dir, "python3")
	require.NoError(t, os.Symlink(binary, link))
	r = runCommand(t, exec.Command(link, "-c", code), "", "")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, link+"\n"+link+" ['-c', 'child']\n", r.stdout)

	// Found on PATH, as CPython finds argv[0].
	cmd := exec.Command(link, "-c", "import sys; print(sys.executable)")
	cmd.Args[0] = "python3"
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	r = runCommand(t, cmd, t.TempDir(), "")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, link+"\n", r.stdout)

	r = runCommand(t, exec.Command(link, "-z"), "", "")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "python3: unknown option -z")
}

// TestPythonInterpreters: a script written for concurrent.interpreters
// runs with `from subinterp import interpreters`: it creates an
// interpreter, calls a module's function and one of its own __main__
// (which runs in a fake __main__ over there, as in CPython 3.14), runs
// exec(), and its atexit callback still finds the interpreter open.
func TestPythonInterpreters(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "mod.py"), []byte("def double(x):\n    return 2 * x\n"), 0o644))
	script := `import atexit, threading
from subinterp import interpreters
import mod

count = 0

def inc():
    global count
    count += 1
    return __name__, count

if __name__ == "__main__":
    interp = interpreters.create()
    print(interp.call(mod.double, 21))
    print(interp.call(inc), interp.call(inc), count)
    interp.exec("import sys; sys.stdout.write('exec ran\\n')")
    try:
        interp.exec("raise KeyError('k')")
    except interpreters.ExecutionFailed as exc:
        print("failed:", exc.excinfo.type.__name__)
    threading.Thread(target=lambda: print("thread joined")).start()
    atexit.register(lambda: print("atexit:", interp.call(mod.double, 1)))
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.py"), []byte(script), 0o644))
	r := runPythonBinary(t, dir, "", "main.py")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "42\n('<fake __main__>', 1) ('<fake __main__>', 2) 0\nexec ran\nfailed: KeyError\nthread joined\natexit: 2\n", r.stdout)
	// The interpreter is left open: CPython 3.14 warns at exit, 3.13 does not.
	warning := "<sys>:0: RuntimeWarning: remaining subinterpreters; close them with Interpreter.close()\n"
	if cpython.MajorMinor(cpython.LinkedVersion()) >= "3.14" {
		assert.Equal(t, warning, r.stderr)
	} else {
		assert.Empty(t, r.stderr)
	}
}

// startUntilReady starts cmd and waits for the line "ready" on its stdout
// (the program says it has got where the test wants it). It returns the
// buffer that collects its stderr.
func startUntilReady(t *testing.T, cmd *exec.Cmd) *bytes.Buffer {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	ready, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, stderr.String())
	require.Equal(t, "ready\n", ready)
	return stderr
}

// TestPythonCtrlC: SIGINT raises KeyboardInterrupt in the program, which
// exits with 130 and the traceback.
func TestPythonCtrlC(t *testing.T) {
	cmd := pythonCommand(t, "-c", "print('ready', flush=True)\nwhile True:\n    pass\n")
	stderr := startUntilReady(t, cmd)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, stderr.String())
	assert.Equal(t, exitInterrupted, exitErr.ExitCode())
	assert.Contains(t, stderr.String(), "KeyboardInterrupt")
	assert.Regexp(t, `File "<string>", line [23], in <module>`, stderr.String(), "the loop's line (3.14 reports the pass)")
}

// TestPythonFakeMainFails: a function of the script whose file cannot run
// as a fake __main__ in the other interpreter is a NotShareableError,
// naming the missing name; the interpreter's own __main__ is unchanged.
func TestPythonFakeMainFails(t *testing.T) {
	dir := t.TempDir()
	script := `from subinterp import interpreters
if __name__ != "__main__":
    raise RuntimeError("only runs as the program")

def spam():
    return 1

interp = interpreters.create()
try:
    interp.call(spam)
except interpreters.NotShareableError as exc:
    print("NotShareableError:", "spam" in str(exc))
print(interp.call(eval, "sorted(k for k in globals() if not k.startswith('__'))"))
interp.close()
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.py"), []byte(script), 0o644))
	r := runPythonBinary(t, dir, "", "main.py")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "NotShareableError: True\n[]\n", r.stdout)
}

// TestPythonEndWaitsForThreads: as python3, the end waits for the
// non-daemon threads of the interpreters the program made (here one that
// never ends), and Ctrl-C gives up on them: status 130, naming them.
func TestPythonEndWaitsForThreads(t *testing.T) {
	script := `from subinterp import interpreters
import atexit
interp = interpreters.create()
interp.exec("import threading, time\nthreading.Thread(target=time.sleep, args=(3600,), name='sleeper').start()")
atexit.register(lambda: print("ready", flush=True))
`
	cmd := pythonCommand(t, "-c", script)
	stderr := startUntilReady(t, cmd)

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// A Ctrl-C that lands before the end has begun interrupts the atexit
	// call instead; the next one gives up the wait.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var err error
	for err == nil {
		select {
		case err = <-exited:
			if err == nil {
				t.Fatal("the command ended with status 0 while a thread still ran")
			}
		case <-tick.C:
			_ = cmd.Process.Signal(syscall.SIGINT)
		}
	}
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, stderr.String())
	assert.Equal(t, exitInterrupted, exitErr.ExitCode(), stderr.String())
	assert.Contains(t, stderr.String(), "subinterp python: ending CPython:")
	assert.Contains(t, stderr.String(), "sleeper")
}

// TestPythonMultiprocessing: multiprocessing's spawn starts its workers
// through sys.executable, so they are `subinterp python` too (its
// resource tracker fails on signal.signal: docs/python-api.md); fork
// works as in python3.
func TestPythonMultiprocessing(t *testing.T) {
	dir := t.TempDir()
	script := `import multiprocessing as mp, sys

def where(x):
    # No call into subinterp here: after a fork, Go's runtime in the child
    # has lost its threads. The spawned child is subinterp python: it has
    # the module.
    return x * x, "subinterp" in sys.modules

if __name__ == "__main__":
    with mp.get_context(sys.argv[1]).Pool(2) as pool:
        print(pool.map(where, range(3)))
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pool.py"), []byte(script), 0o644))
	for _, method := range []string{"spawn", "fork"} {
		t.Run(method, func(t *testing.T) {
			r := runPythonBinary(t, dir, "", "pool.py", method)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Equal(t, "[(0, True), (1, True), (4, True)]\n", r.stdout)
		})
	}
}
