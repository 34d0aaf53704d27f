package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/internal/testutil"
)

// TestCompatBadUsage: every bad input is a usage error (exit 2) with a
// clear message, before any child runs.
func TestCompatBadUsage(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	marker := filepath.Join(dir, "executed")
	reqDir := t.TempDir() // apart from dir, where nothing may appear
	writeReq := func(name, text string) string {
		p := filepath.Join(reqDir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	editable := writeReq("editable.txt", "numpy\n-e git+https://example.invalid/x.git#egg=x\n")
	urlReq := writeReq("url.txt", "./local/checkout\n")
	emptyReq := writeReq("empty.txt", "# nothing\n\n")
	loopReq := writeReq("loop.txt", "-r loop.txt\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing to check", nil, "nothing to check"},
		{"code as a module name", []string{"os; import shutil"}, `"os; import shutil" is not a module name`},
		{"code that would leave a trace", []string{"json", "os;open('" + marker + "','w')"}, "is not a module name"},
		{"name with a newline", []string{"os\nimport shutil"}, "is not a module name"},
		{"path-like name", []string{"../json"}, "is not a module name"},
		{"missing --path", []string{"--path", filepath.Join(dir, "nope")}, "no such file or directory"},
		{"--path is a file", []string{"--path", file}, "is not a directory"},
		{"--jobs 0", []string{"--jobs", "0", "json"}, "--jobs must be at least 1"},
		{"--jobs negative", []string{"--jobs=-3", "json"}, "--jobs must be at least 1"},
		{"--jobs not a number", []string{"--jobs", "many", "json"}, "invalid value"},
		{"--timeout 0", []string{"--timeout", "0", "json"}, "--timeout must be positive"},
		{"--timeout negative", []string{"--timeout=-1s", "json"}, "--timeout must be positive"},
		{"--timeout without unit", []string{"--timeout", "10", "json"}, `--timeout wants a duration with a unit, like 5s, 1m30s or 250ms (got "10")`},
		{"--timeout garbage", []string{"--timeout", "soon", "json"}, `(got "soon")`},
		{"unknown flag", []string{"--frobnicate", "json"}, "unknown flag: --frobnicate"},
		{"two outputs on stdout", []string{"--json", "-", "--html", "-", "json"}, "only one of"},
		{"unwritable --json", []string{"--json", filepath.Join(dir, "no", "such", "dir.json"), "json"}, "--json"},
		{"--markdown is a directory", []string{"--markdown", dir, "json"}, "--markdown"},
		{"unwritable --html", []string{"--html", "/proc/compat.html", "json"}, "--html"},
		{"missing --requirements", []string{"--requirements", filepath.Join(dir, "nope.txt")}, "no such file or directory"},
		{"editable requirement", []string{"--requirements", editable}, "editable.txt:2: an editable requirement"},
		{"path requirement", []string{"--requirements", urlReq}, "url.txt:1: \"./local/checkout\" does not start with a distribution name"},
		{"empty requirements", []string{"--requirements", emptyReq}, "names no distribution"},
		{"requirements loop", []string{"--requirements", loopReq}, "includes itself"},
		{"not a venv", []string{"--venv", dir}, "not a virtual environment"},
		{"missing --about", []string{"--about", filepath.Join(dir, "nope.md"), "json"}, "--about"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, dir, append([]string{"compat"}, tc.args...)...)
			assert.Equal(t, exitUsage, r.code, r.stderr)
			assert.Contains(t, r.stderr, tc.want)
			assert.Empty(t, r.stdout)
		})
	}
	assert.NoFileExists(t, marker, "a rejected module name must never run")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no output file is left behind: %v", entries)
}

func TestCompatHelp(t *testing.T) {
	r := runBinary(t, "", "compat", "--help")
	assert.Equal(t, exitOK, r.code)
	for _, flag := range []string{"--stdlib", "--site-packages", "--path DIR", "--jobs N", "--timeout DURATION", "--json FILE", "--markdown FILE", "--html FILE", "--quiet"} {
		assert.Contains(t, r.stderr, flag)
	}
	assert.NotContains(t, r.stderr, "internal-", "hidden flags stay hidden")
}

// compatReport is the fixed JSON shape of the issue, read without the
// compat package's types so that a renamed field shows up here.
type compatReport struct {
	Python  string `json:"python"`
	Modules []struct {
		Name                 string                                      `json:"name"`
		Kind                 string                                      `json:"kind"`
		Init                 string                                      `json:"init"`
		MultipleInterpreters string                                      `json:"multiple_interpreters"`
		Results              map[string]struct{ Status, Message string } `json:"results"`
		Verdict              string                                      `json:"verdict"`
	} `json:"modules"`
}

// TestCompatJSONToStdout: with --json -, stdout is the JSON document and
// nothing else; module names and flags may be mixed; an unknown module is
// not_found (not an import error) and still exits 0.
func TestCompatJSONToStdout(t *testing.T) {
	r := runBinary(t, "", "compat", "readline", "--json", "-", "faulthandler", "--quiet", "no_such_module_xyz", "json")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr, "--quiet")
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &raw), r.stdout)
	for _, key := range []string{"python", "modules"} {
		assert.Contains(t, raw, key)
	}
	var rep compatReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	assert.True(t, strings.HasPrefix(rep.Python, pythonUnderTest()+"."), rep.Python)
	got := map[string]string{}
	for i, m := range rep.Modules {
		got[m.Name] = m.Verdict
		assert.ElementsMatch(t, []string{"main", "legacy", "isolated_shared_gil", "isolated_own_gil"}, keys(m.Results), m.Name)
		mod := raw["modules"].([]any)[i].(map[string]any)
		for _, key := range []string{"name", "kind", "init", "multiple_interpreters", "results", "verdict"} {
			assert.Contains(t, mod, key, m.Name)
		}
		for mode, res := range mod["results"].(map[string]any) {
			assert.Contains(t, res, "status", mode)
			assert.Contains(t, res, "message", mode)
		}
	}
	assert.Equal(t, map[string]string{"faulthandler": "shared-gil-only", "json": "own-gil", "no_such_module_xyz": "not_found", "readline": "legacy-only"}, got)
	for _, m := range rep.Modules {
		if m.Name == "no_such_module_xyz" {
			assert.Equal(t, "not_found", m.Results["main"].Status)
			assert.Equal(t, "ModuleNotFoundError: No module named 'no_such_module_xyz'", m.Results["main"].Message)
		}
		if m.Name == "readline" {
			assert.Equal(t, "import_error", m.Results["isolated_own_gil"].Status)
			assert.Equal(t, "extension", m.Kind)
			assert.Equal(t, "single-phase", m.Init)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestCompatReports: the table goes to stdout, the reports to their files;
// an existing file is replaced.
func TestCompatReports(t *testing.T) {
	dir := t.TempDir()
	md, html, js := filepath.Join(dir, "r.md"), filepath.Join(dir, "r.html"), filepath.Join(dir, "r.json")
	require.NoError(t, os.WriteFile(md, bytes.Repeat([]byte("old report\n"), 10000), 0o644))
	r := runBinary(t, dir, "compat", "--markdown", md, "--html", html, "--json", js, "_json", "readline")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "MODULE")
	assert.Regexp(t, `(?m)^readline +extension +single-phase .* legacy-only `, r.stdout)
	assert.Contains(t, r.stdout, "2 modules: own-gil 1, legacy-only 1")
	assert.Contains(t, r.stderr, "subinterp compat: CPython "+pythonUnderTest())

	b, err := os.ReadFile(md)
	require.NoError(t, err)
	assert.Contains(t, string(b), "| `readline` |")
	assert.NotContains(t, string(b), "old report")
	b, err = os.ReadFile(html)
	require.NoError(t, err)
	assert.Contains(t, string(b), `<table id="report">`)
	b, err = os.ReadFile(js)
	require.NoError(t, err)
	var rep compatReport
	require.NoError(t, json.Unmarshal(b, &rep))
	assert.Len(t, rep.Modules, 2)
}

// TestCompatClosedStdout: when the reader of stdout goes away, the check
// stops at once with one line on stderr and a failure status, and leaves
// no child process behind.
func TestCompatClosedStdout(t *testing.T) {
	for _, args := range [][]string{
		{"compat", "--stdlib"},
		{"compat", "--stdlib", "--json", "-"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			rd, wr, err := os.Pipe()
			require.NoError(t, err)
			var stderr bytes.Buffer
			cmd := exec.Command(binary, args...)
			cmd.Stdout, cmd.Stderr = wr, &stderr
			require.NoError(t, cmd.Start())
			wr.Close()
			waitCompatChild(t, cmd)
			rd.Close()
			code, took := waitFor(t, cmd, 30*time.Second)
			assert.Equal(t, exitFailed, code, stderr.String())
			assert.Less(t, took, 15*time.Second, "it stops at once, not after the whole check")
			assert.Equal(t, "subinterp compat: stopped: stdout was closed before the whole report was written\n", stderr.String())
			assert.Empty(t, compatChildren(t), "no child process is left")
		})
	}
}

// TestCompatInterrupt: Ctrl-C kills the children and exits 130.
func TestCompatInterrupt(t *testing.T) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary, "compat", "--stdlib")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	waitCompatChild(t, cmd) // its Ctrl-C handling is in place before the first child starts
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	code, _ := waitFor(t, cmd, 30*time.Second)
	assert.Equal(t, exitInterrupted, code, stderr.String())
	assert.Contains(t, stderr.String(), "interrupted")
	assert.Empty(t, stdout.String())
	assert.Empty(t, compatChildren(t))
}

// waitFor waits for cmd and returns its exit code and how long it took
// from now, killing it after limit.
func waitFor(t *testing.T, cmd *exec.Cmd, limit time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return exitErr.ExitCode(), time.Since(start)
		}
		require.NoError(t, err)
		return 0, time.Since(start)
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not end within %v", cmd.Args, limit)
		return 0, 0
	}
}

// waitCompatChild waits until the compat run cmd has started a check child
// (bounded: the test fails, cmd killed, if none appears within
// testutil.FailAfter). Children come and go, so this polls /proc.
func waitCompatChild(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	started := func() bool { return len(compatChildren(t)) > 0 }
	if !testutil.Eventually(t, fmt.Sprintf("%v to start a check child", cmd.Args), started) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.FailNow()
	}
}

// compatChildren lists live check children of the test binary (their
// command line holds --internal-child), wherever they were reparented.
func compatChildren(t *testing.T) []testutil.Process {
	t.Helper()
	return testutil.Processes(t, func(p testutil.Process) bool {
		// A zombie is dead already (and has no command line).
		return len(p.Args) > 2 && p.Args[0] == binary && p.Args[2] == "--internal-child" && p.State != "Z"
	})
}
