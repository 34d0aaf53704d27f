// Package cpythonsuite runs CPython's own test_interpreters suites (3.13's
// and 3.14's test_api, test_channels and test_queues) against subinterp's
// PEP 734 drop-in layer, inside an embedded interpreter: `make
// test-cpython-suite`. The test only runs when SUBINTERP_CPYTHON_SUITE names
// a suite version.
package cpythonsuite

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
)

//go:embed runner.py
var runnerPy string

// renames is the thin renaming layer: the suites' imports of CPython's
// interpreters modules (in the test files and in the scripts they run in
// other interpreters) name subinterp's drop-in instead. Applied in order.
var renames = []struct{ from, to string }{
	{"from concurrent.interpreters import _queues as queues, _crossinterp", "from subinterp.interpreters import _queues as queues, _crossinterp"},
	{"from test.support.interpreters import queues, _crossinterp", "from subinterp.interpreters import _queues as queues, _crossinterp"},
	{"from test.support.interpreters import channels", "from subinterp.interpreters import channels"},
	{"from test.support import channels, force_not_colorized", "from subinterp.interpreters import channels\nfrom test.support import force_not_colorized"},
	{"from test.support import channels", "from subinterp.interpreters import channels"},
	{"from test.support import interpreters", "from subinterp import interpreters"},
	{"from concurrent import interpreters", "from subinterp import interpreters"},
	{"concurrent.interpreters", "subinterp.interpreters"},
	{"test.support.interpreters", "subinterp.interpreters"},
	{"import test._crossinterp_definitions as defs", "import cpython_crossinterp_definitions as defs"},
	// test_queues' tearDown destroys every queue of CPython's private
	// _interpqueues; subinterp's queues get the same.
	{queuesTearDown, queuesTearDown + "        import suite_runner\n        suite_runner.destroy_subinterp_queues()\n"},
	{"from test._code_definitions import *", "from cpython_code_definitions import *"},
}

// queuesTearDown is the body of test_queues' TestBase.tearDown, in 3.13's
// and 3.14's suites alike.
const queuesTearDown = "        for qid, _, _ in _queues.list_all():\n" +
	"            try:\n" +
	"                _queues.destroy(qid)\n" +
	"            except Exception:\n" +
	"                pass\n"

func rename(src string) string {
	for _, r := range renames {
		src = strings.ReplaceAll(src, r.from, r.to)
	}
	return src
}

// minPassing is the number of in-scope tests each suite must pass, by the
// suite's version and the major.minor of the CPython it runs on: what
// passes today (docs/python-api.md lists the tests that fail and why), a
// floor against regressions. 3.14's suite passes three more tests on a
// real 3.14 than on 3.13. SUBINTERP_CPYTHON_SUITE_MIN overrides it.
var minPassing = map[string]int{"3.13 on 3.13": 107, "3.14 on 3.13": 123, "3.14 on 3.14": 126}

type report struct {
	Version    string               `json:"version"`
	Outcomes   map[string][2]string `json:"outcomes"`
	OutOfScope map[string]string    `json:"out_of_scope"`
}

func TestCPythonSuite(t *testing.T) {
	version := os.Getenv("SUBINTERP_CPYTHON_SUITE")
	if version == "" {
		t.Skip("SUBINTERP_CPYTHON_SUITE is not set (make test-cpython-suite sets it to 3.13 or 3.14)")
	}
	// SUBINTERP_CPYTHON_SUITE_DIR names the suite's directory where the
	// script cannot fetch it (a chroot without the cache).
	suiteDir := os.Getenv("SUBINTERP_CPYTHON_SUITE_DIR")
	if suiteDir == "" {
		out, err := exec.Command("../../scripts/cpython-testsuite.sh", version).Output()
		require.NoError(t, err, "scripts/cpython-testsuite.sh %s", version)
		suiteDir = strings.TrimSpace(string(out))
	}

	tmp := t.TempDir()
	pkg := "cpy" + strings.ReplaceAll(version, ".", "") + "_interpreters"
	require.NoError(t, copyDir(suiteDir, filepath.Join(tmp, pkg)))
	queuesSrc, err := os.ReadFile(filepath.Join(tmp, pkg, "test_queues.py"))
	require.NoError(t, err)
	require.Contains(t, string(queuesSrc), "suite_runner.destroy_subinterp_queues()",
		"test_queues' tearDown changed: renames no longer reach it")
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "suite_runner.py"), []byte(runnerPy), 0o644))

	// 3.14's suite imports test._crossinterp_definitions, which 3.13 lacks:
	// it comes from the suite's own tree, as a top-level module that every
	// interpreter can import (functions pickled by reference need that).
	for _, name := range []string{"_crossinterp_definitions", "_code_definitions"} {
		if data, err := os.ReadFile(filepath.Join(filepath.Dir(suiteDir), name+".py")); err == nil {
			require.NoError(t, os.WriteFile(filepath.Join(tmp, "cpython"+name+".py"), []byte(rename(string(data))), 0o644))
		}
	}

	// The tests that start sys.executable (test.support.script_helper and
	// the suite's own run_python) get `subinterp python`, through a python3
	// symlink to the subinterp binary: the child is CPython's main
	// interpreter with subinterp importable, and the scripts it runs were
	// renamed with the rest of the test source.
	executable := buildPython(t, tmp)

	rt, err := cpython.Initialize(cpython.RuntimeOptions{
		ModulePaths: []string{tmp},
		Argv:        []string{"suite_runner"},
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
	})
	require.NoError(t, err)
	defer func() { assert.NoError(t, rt.Finalize()) }()

	skips, err := filepath.Abs("skips.txt")
	require.NoError(t, err)
	reportFile := filepath.Join(tmp, "report.json")
	src := fmt.Sprintf("import suite_runner\nsuite_runner.run(%q, %q, %q, %q, %q, %q)\n",
		pkg, version, skips, reportFile, os.Getenv("SUBINTERP_CPYTHON_SUITE_ONLY"), executable)
	require.NoError(t, rt.Main().Exec(context.Background(), src))

	data, err := os.ReadFile(reportFile)
	require.NoError(t, err)
	var r report
	require.NoError(t, json.Unmarshal(data, &r))
	if dst := os.Getenv("SUBINTERP_CPYTHON_SUITE_REPORT"); dst != "" {
		require.NoError(t, os.WriteFile(dst, data, 0o644))
	}

	var passed, inScope, skippedBySuite int
	var failed []string
	for name, o := range r.Outcomes {
		switch o[0] {
		case "skip":
			skippedBySuite++
			continue
		case "pass":
			passed++
		default:
			failed = append(failed, name+": "+firstLines(o[1]))
		}
		inScope++
	}
	sort.Strings(failed)
	t.Logf("CPython %s test_interpreters: %d of %d in-scope tests pass; %d skipped by the suite itself; %d out of scope (skips.txt)",
		version, passed, inScope, skippedBySuite, len(r.OutOfScope))
	for _, f := range failed {
		t.Logf("FAILED %s", f)
	}
	floor, known := minPassing[version+" on "+cpython.MajorMinor(rt.Version())]
	if !known {
		// No floor recorded for this pairing: the one of the suite on its own CPython.
		floor = minPassing[version+" on "+version]
	}
	if s := os.Getenv("SUBINTERP_CPYTHON_SUITE_MIN"); s != "" {
		floor, err = strconv.Atoi(s)
		require.NoError(t, err, "SUBINTERP_CPYTHON_SUITE_MIN")
	}
	assert.GreaterOrEqual(t, passed, floor, "passing in-scope tests")
}

// buildPython builds the subinterp command into dir/bin (with the cgo
// environment of this test run, so it links the same CPython) and returns
// dir/bin/python3, a symlink to it: called by that name it is `subinterp
// python`.
func buildPython(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "subinterp"), "github.com/subinterp/subinterp/cmd/subinterp")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building cmd/subinterp:\n%s", out)
	python := filepath.Join(bin, "python3")
	require.NoError(t, os.Symlink("subinterp", python))
	return python
}

// firstLines keeps the last line of a traceback (the error) for the log.
func firstLines(detail string) string {
	lines := strings.Split(strings.TrimSpace(detail), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func copyDir(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "__pycache__" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, ".py") {
			data = []byte(rename(string(data)))
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
}
