package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunUsageErrors calls the entry point in-process: every case fails
// before CPython starts.
func TestRunUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"n zero", []string{"-n", "0", "-c", "pass"}, "-n must be at least 1 (got 0)"},
		{"n negative", []string{"-n", "-3", "-c", "pass"}, "-n must be at least 1 (got -3)"},
		{"n not a number", []string{"-n", "many", "-c", "pass"}, `invalid value "many" for flag -n`},
		{"neither -c nor FILE", nil, "nothing to run: give -c CODE or a FILE"},
		{"only flags", []string{"-n", "2"}, "nothing to run"},
		{"both -c and FILE", []string{"-c", "pass", "script.py"}, "give either -c CODE or FILE, not both"},
		{"missing FILE", []string{filepath.Join(dir, "nope.py")}, "nope.py: no such file"},
		{"FILE is a directory", []string{dir}, "is a directory"},
		{"negative timeout", []string{"--timeout", "-1s", "-c", "pass"}, "--timeout must not be negative"},
		{"bad timeout", []string{"--timeout", "soon", "-c", "pass"}, `--timeout wants a duration with a unit, like 5s, 1m30s or 250ms (got "soon")`},
		{"timeout without a unit", []string{"--timeout", "5", "-c", "pass"}, `--timeout wants a duration with a unit, like 5s, 1m30s or 250ms (got "5")`},
		{"unknown flag", []string{"--bogus", "-c", "pass"}, "unknown flag: --bogus"},
		{"unknown short flag", []string{"-x", "-c", "pass"}, "unknown flag: -x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(append([]string{"run"}, tc.args...), &stdout, &stderr)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, stderr.String(), tc.want)
			assert.Empty(t, stdout.String())
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			assert.Len(t, lines, 2, "one line saying what is wrong, one pointing to --help:\n%s", stderr.String())
			assert.Equal(t, `Run "subinterp run --help" for usage.`, lines[len(lines)-1])
		})
	}
}

// TestVersion: --version names the build and the CPython it links, and
// doctor --json carries the same.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}, {"-version"}} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, exitOK, dispatch(args, &stdout, &stderr), "%q", args)
		assert.Regexp(t, `^subinterp \S+( [0-9a-f]{1,12}(\+dirty)?)?, go\d\S*, CPython 3\.\d+\.\d+\S*\n$`, stdout.String())
		assert.Empty(t, stderr.String())
	}
	var stdout, stderr bytes.Buffer
	assert.Equal(t, exitUsage, dispatch([]string{"--version", "x"}, &stdout, &stderr))
	v := readBuildVersion()
	assert.Equal(t, "github.com/subinterp/subinterp", v.Module, "tests run inside the module")
}

func TestRunParseArguments(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "s.py")
	require.NoError(t, os.WriteFile(script, []byte("print(1)\n"), 0o644))

	var stderr bytes.Buffer
	spec, _, done := parseRun([]string{"-n", "3", "-c", "print(2)", "a", "b"}, &stderr)
	require.False(t, done, stderr.String())
	assert.Equal(t, 3, spec.n)
	assert.Equal(t, []string{"-c", "a", "b"}, spec.argv)
	assert.Equal(t, "print(2)", string(spec.code))
	assert.Empty(t, spec.file)

	// "--" makes a .py name an argument of -c code.
	spec, _, done = parseRun([]string{"-c", "pass", "--", "x.py"}, &stderr)
	require.False(t, done, stderr.String())
	assert.Equal(t, []string{"-c", "x.py"}, spec.argv)

	// Flags after FILE belong to the script.
	spec, _, done = parseRun([]string{"--shared-gil", script, "-n", "5"}, &stderr)
	require.False(t, done, stderr.String())
	assert.True(t, spec.shared)
	assert.Equal(t, 1, spec.n)
	assert.Equal(t, []string{script, "-n", "5"}, spec.argv)
	assert.Equal(t, script, spec.file)
	assert.Equal(t, []string{dir}, spec.paths)
	assert.Equal(t, "print(1)\n", string(spec.code))
}

func TestDispatch(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, exitUsage, dispatch(nil, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "Commands:")

	stdout.Reset()
	stderr.Reset()
	assert.Equal(t, exitUsage, dispatch([]string{"frobnicate"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), `unknown command "frobnicate"`)

	for _, args := range [][]string{{"--help"}, {"help"}} {
		stdout.Reset()
		assert.Equal(t, exitOK, dispatch(args, &stdout, &stderr))
		assert.Contains(t, stdout.String(), "Commands:")
	}
	for _, name := range []string{"run", "doctor", "microbench", "bench"} {
		stderr.Reset()
		assert.Equal(t, exitOK, dispatch([]string{name, "--help"}, &stdout, &stderr), name)
		assert.Contains(t, stderr.String(), "Usage: subinterp "+name, name)
		assert.NotContains(t, stderr.String(), "internal-", name)
		stderr.Reset()
		assert.Equal(t, exitOK, dispatch([]string{"help", name}, &stdout, &stderr), name)
		assert.Contains(t, stderr.String(), "Usage: subinterp "+name, name)
	}
	for _, args := range [][]string{{"doctor", "extra"}, {"doctor", "--work", "0"}, {"microbench", "extra"}, {"bench", "extra"}} {
		stderr.Reset()
		assert.Equal(t, exitUsage, dispatch(args, &stdout, &stderr), "%q", args)
	}
}

// idPrefix matches the "[id] " a line of run's output starts with.
var idPrefix = regexp.MustCompile(`^\[(\d+)\] `)

// idsOf returns the distinct interpreter ids of lines equal to "[id] "+text.
func idsOf(out, text string) []string {
	seen := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if m := idPrefix.FindStringSubmatch(line); m != nil && line[len(m[0]):] == text {
			seen[m[1]] = true
		}
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func TestRunSuccess(t *testing.T) {
	r := runBinary(t, "", "run", "-n", "2", "-c", "print('hi')")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Len(t, idsOf(r.stdout, "hi"), 2, "both interpreters print, each with its id:\n%s", r.stdout)
	assert.Empty(t, r.stderr)
}

func TestRunOutputAndArgv(t *testing.T) {
	code := `
import sys
print("argv", sys.argv)
print("err", file=sys.stderr)
print("no newline", end="")
`
	r := runBinary(t, "", "run", "-n", "3", "-c", code, "a", "b c")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Len(t, idsOf(r.stdout, "argv ['-c', 'a', 'b c']"), 3, r.stdout)
	assert.Len(t, idsOf(r.stdout, "no newline"), 3, "the trailing partial line is flushed:\n%s", r.stdout)
	assert.Len(t, idsOf(r.stderr, "err"), 3, r.stderr)
}

func TestRunFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "helper.py"), []byte("VALUE = 42\n"), 0o644))
	script := `import sys, threading, time
import helper
print("main", __name__, sys.argv, helper.VALUE)
def late():
    time.sleep(0.05)
    print("thread done")
threading.Thread(target=late).start()
def fail():
    raise KeyError("k")
if sys.argv[1:] == ["fail"]:
    fail()
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.py"), []byte(script), 0o644))

	r := runBinary(t, dir, "run", "-n", "2", "main.py", "x")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Len(t, idsOf(r.stdout, "main __main__ ['main.py', 'x'] 42"), 2, r.stdout)
	assert.Len(t, idsOf(r.stdout, "thread done"), 2, "threads are joined with output still prefixed:\n%s", r.stdout)

	r = runBinary(t, dir, "run", "main.py", "fail")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `[1]   File "`+filepath.Join(dir, "main.py")+`", line 11, in <module>`)
	assert.Contains(t, r.stderr, "[1] KeyError: 'k'")
	assert.NotContains(t, r.stderr, `File "<string>"`, "the bootstrap frame is hidden")
	assert.Len(t, idsOf(r.stdout, "thread done"), 1, r.stdout)
}

func TestRunFailure(t *testing.T) {
	r := runBinary(t, "", "run", "-n", "2", "-c", "print('before')\nraise ValueError('boom')")
	assert.Equal(t, 1, r.code)
	assert.Len(t, idsOf(r.stdout, "before"), 2, r.stdout)
	assert.Len(t, idsOf(r.stderr, "ValueError: boom"), 2, r.stderr)
	assert.Len(t, idsOf(r.stderr, "Traceback (most recent call last):"), 2, r.stderr)
	assert.Contains(t, r.stderr, "2 of 2 interpreters failed")
}

func TestRunOneOfManyFails(t *testing.T) {
	// Only the interpreter with the lowest id fails.
	code := `
import subinterp
if subinterp.get_current().id == 1:
    raise RuntimeError("only me")
print("fine")
`
	r := runBinary(t, "", "run", "-n", "3", "-c", code)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "[1] RuntimeError: only me")
	assert.Len(t, idsOf(r.stdout, "fine"), 2, r.stdout)
	assert.Contains(t, r.stderr, "1 of 3 interpreters failed")
}

func TestRunSyntaxError(t *testing.T) {
	r := runBinary(t, "", "run", "-c", "def f(:\n  pass")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "[1] SyntaxError:")

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.py"), []byte("x = (\n"), 0o644))
	r = runBinary(t, dir, "run", "bad.py")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "bad.py")
	assert.Contains(t, r.stderr, "SyntaxError:")
}

func TestRunMissingFile(t *testing.T) {
	r := runBinary(t, t.TempDir(), "run", "-n", "2", "missing.py")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "missing.py: no such file")
	assert.Empty(t, r.stdout)
}

func TestRunSystemExit(t *testing.T) {
	for code, want := range map[string]int{
		"import sys; sys.exit()":      0,
		"import sys; sys.exit(0)":     0,
		"import sys; sys.exit(3)":     3,
		"import sys; sys.exit('bye')": 1,
	} {
		r := runBinary(t, "", "run", "-c", code)
		assert.Equal(t, want, r.code, "%s: %s", code, r.stderr)
	}
}

func TestRunTimeout(t *testing.T) {
	start := time.Now()
	r := runBinary(t, "", "run", "-n", "2", "--timeout", "300ms", "-c", "while True: pass")
	elapsed := time.Since(start)
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "deadline exceeded")
	assert.Contains(t, r.stderr, "--timeout 300ms")
	assert.Len(t, idsOf(r.stderr, "interrupted: deadline exceeded (--timeout 300ms)"), 2, r.stderr)
	// A thread the code left running is not waited for after a timeout.
	r = runBinary(t, "", "run", "--timeout", "300ms", "-c", "import threading, time\nthreading.Thread(target=time.sleep, args=(600,)).start()")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "[1] interrupted: deadline exceeded (--timeout 300ms)")

	// Not a timing assertion on the code: only that the command did not
	// run on for the minute runBinary allows.
	t.Logf("run --timeout 300ms took %v", elapsed)
}

func TestRunSharedGIL(t *testing.T) {
	r := runBinary(t, "", "run", "-n", "2", "--shared-gil", "-c", "import subinterp; print('own' if subinterp.get_current().isolated else 'shared')")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Len(t, idsOf(r.stdout, "shared"), 2, r.stdout)

	r = runBinary(t, "", "run", "-c", "import subinterp; print('own' if subinterp.get_current().isolated else 'shared')")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Len(t, idsOf(r.stdout, "own"), 1, r.stdout)
}

// TestRunExecutable: sys.executable is the Python program of the CPython
// build in use, not the FILE (CPython derives it from argv[0]), so code can
// start Python in a subprocess; and that Python is the same build.
func TestRunExecutable(t *testing.T) {
	dir := t.TempDir()
	const code = `import subprocess, sys
BUILD = "f'{sys.version} {sys.prefix} {hasattr(sys, \"gettotalrefcount\")}'"
def run(src):
    return subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, check=True).stdout.strip()
print("executable=" + sys.executable)
print("base_executable=" + sys._base_executable)
print("one=" + run("print(1)"))
print("build=" + eval(BUILD))
print("child=" + run("import sys; print(" + BUILD + ")"))
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.py"), []byte(code), 0o644))
	// CPython made sys.executable the FILE given as a path, and "" for a
	// bare name or -c.
	for name, args := range map[string][]string{
		"FILE":         {"run", "main.py", "arg"},
		"FILE as path": {"run", filepath.Join(dir, "main.py")},
		"-c":           {"run", "-c", code},
	} {
		t.Run(name, func(t *testing.T) {
			r := runBinary(t, dir, args...)
			require.Equal(t, 0, r.code, r.stderr)
			got := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				key, value, _ := strings.Cut(idPrefix.ReplaceAllString(line, ""), "=")
				got[key] = value
			}
			exe := got["executable"]
			assert.True(t, filepath.IsAbs(exe), "sys.executable %q", exe)
			assert.Equal(t, "python"+pythonUnderTest(), strings.TrimSuffix(filepath.Base(exe), "d"), "sys.executable %q", exe)
			if prefix := os.Getenv("SUBINTERP_PYTHON_PREFIX"); prefix != "" {
				assert.Equal(t, filepath.Join(prefix, "bin"), filepath.Dir(exe), "sys.executable %q", exe)
			}
			assert.Equal(t, exe, got["base_executable"])
			assert.Equal(t, "1", got["one"], "subprocess.run([sys.executable, \"-c\", \"print(1)\"])")
			assert.NotEmpty(t, got["build"], r.stdout)
			assert.Equal(t, got["build"], got["child"], "the subprocess runs the same CPython build")
		})
	}
}

// TestPythonBinary: the python3.X of a prefix, a debug build's own first.
func TestPythonBinary(t *testing.T) {
	tests := []struct {
		name  string
		files []string // under bin/; a name ending in / is a directory
		debug bool
		want  string
	}{
		{"release", []string{"python3.13", "python3.13d"}, false, "python3.13"},
		{"debug source build", []string{"python3.13"}, true, "python3.13"},
		{"debug next to release", []string{"python3.13", "python3.13d"}, true, "python3.13d"},
		{"release without its binary", []string{"python3.13d"}, false, ""},
		{"none", nil, false, ""},
		{"a directory is no binary", []string{"python3.13/"}, false, ""},
		{"not executable", []string{"python3.13-"}, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := t.TempDir()
			bin := filepath.Join(prefix, "bin")
			require.NoError(t, os.Mkdir(bin, 0o755))
			for _, f := range tc.files {
				switch {
				case strings.HasSuffix(f, "/"):
					require.NoError(t, os.Mkdir(filepath.Join(bin, f), 0o755))
				case strings.HasSuffix(f, "-"):
					require.NoError(t, os.WriteFile(filepath.Join(bin, strings.TrimSuffix(f, "-")), nil, 0o644))
				default:
					require.NoError(t, os.WriteFile(filepath.Join(bin, f), nil, 0o755))
				}
			}
			want := tc.want
			if want != "" {
				want = filepath.Join(bin, want)
			}
			assert.Equal(t, want, pythonBinary(prefix, "3.13.15", tc.debug))
		})
	}
}

func TestStripFileBootstrap(t *testing.T) {
	tb := "Traceback (most recent call last):\n" + bootstrapFrame + "\n  File \"/x.py\", line 1, in <module>\nValueError: v\n"
	assert.Equal(t, "Traceback (most recent call last):\n  File \"/x.py\", line 1, in <module>\nValueError: v\n", stripFileBootstrap(tb))
	// A <string> frame elsewhere (code the script exec'd) stays.
	inner := "Traceback (most recent call last):\n  File \"/x.py\", line 1, in <module>\n" + bootstrapFrame + "\nValueError: v"
	assert.Equal(t, inner, stripFileBootstrap(inner))
}

func TestSystemExitStatus(t *testing.T) {
	var out bytes.Buffer
	assert.Equal(t, 0, systemExitStatus(&out, ""))
	assert.Equal(t, 0, systemExitStatus(&out, "None"))
	assert.Equal(t, 4, systemExitStatus(&out, "4"))
	assert.Empty(t, out.String())
	assert.Equal(t, 1, systemExitStatus(&out, "goodbye"))
	assert.Equal(t, "goodbye\n", out.String())
}
