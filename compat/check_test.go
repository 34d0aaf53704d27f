package compat

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/internal/testutil"
)

// expect is what a check must find for one module.
type expect struct {
	statuses [4]Status // main, legacy, isolated_shared_gil, isolated_own_gil
	verdict  Verdict
	kind     string // or several, "a|b", where it depends on how CPython was built
	init     string
	multi    string
	gil      string // on 3.13+; "" expected on 3.12
	signal   string // of every crashed mode
	message  string // a substring of the message of every failed mode
	reason   string // a substring of the reason
}

func checkModules(t *testing.T, rep *Report, want map[string]expect) {
	t.Helper()
	byName := map[string]Module{}
	for _, m := range rep.Modules {
		byName[m.Name] = m
	}
	gilSlot := !strings.HasPrefix(rep.Python, "3.12.")
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			m, found := byName[name]
			require.True(t, found, "module %s not in the report", name)
			for i, mode := range Modes {
				r := m.Results[mode]
				assert.Equal(t, w.statuses[i], r.Status, "%s: %s", mode, r.Message)
				if r.Status == StatusCrash {
					assert.Equal(t, w.signal, r.Signal, "%s signal", mode)
				}
				if r.Status != StatusOK && r.Status != StatusSkipped {
					assert.Contains(t, r.Message, w.message, mode)
				}
				if r.Status != StatusSkipped && r.InferredFrom == "" {
					assert.Positive(t, r.Seconds, mode)
				}
			}
			assert.Equal(t, w.verdict, m.Verdict)
			assert.Contains(t, m.Reason, w.reason)
			assert.Contains(t, strings.Split(w.kind, "|"), m.Kind, "kind")
			assert.Equal(t, w.init, m.Init, "init")
			assert.Equal(t, w.multi, m.MultipleInterpreters, "multiple_interpreters")
			gil := w.gil
			if !gilSlot {
				gil = ""
			}
			assert.Equal(t, gil, m.GIL, "gil")
		})
	}
}

const notSupportedMsg = "does not support loading in subinterpreters"

// TestFixtures checks the C fixtures (and small Python modules) found in
// a --path directory: each must get the statuses CPython gives it and the
// right verdict.
func TestFixtures(t *testing.T) {
	dir, _, _ := fixtureDirs(t)
	opts := testOptions(t)
	opts.Paths = []string{dir}
	opts.Modules = []string{"fx_missing", "json.fx_missing"}
	rep, err := Check(context.Background(), opts)
	require.NoError(t, err)

	ok, ie, er, cr, nf := StatusOK, StatusImportError, StatusError, StatusCrash, StatusNotFound
	var names []string
	for _, m := range rep.Modules {
		names = append(names, m.Name)
	}
	assert.Equal(t, []string{"fx_fatal", "fx_missing", "fx_multi_noslot", "fx_needs_missing", "fx_not_supported",
		"fx_pergil", "fx_pkg", "fx_raises", "fx_segv", "fx_single", "fx_supported", "json.fx_missing"}, names,
		"--path lists every top-level module of the directory; named modules are added; sorted")
	checkModules(t, rep, map[string]expect{
		"fx_single": {statuses: [4]Status{ok, ok, ie, ie}, verdict: VerdictLegacyOnly, kind: KindExtension,
			init: InitSinglePhase, multi: SlotNA, gil: SlotNA, message: notSupportedMsg, reason: "single-phase init"},
		"fx_multi_noslot": {statuses: [4]Status{ok, ok, ok, ie}, verdict: VerdictSharedGILOnly, kind: KindExtension,
			init: InitMultiPhase, multi: SlotAbsent, gil: SlotAbsent, message: notSupportedMsg, reason: "no Py_mod_multiple_interpreters slot"},
		"fx_not_supported": {statuses: [4]Status{ok, ok, ie, ie}, verdict: VerdictLegacyOnly, kind: KindExtension,
			init: InitMultiPhase, multi: "not_supported", gil: "used", message: notSupportedMsg, reason: "NOT_SUPPORTED"},
		"fx_supported": {statuses: [4]Status{ok, ok, ok, ie}, verdict: VerdictSharedGILOnly, kind: KindExtension,
			init: InitMultiPhase, multi: "supported", gil: "used", message: notSupportedMsg, reason: "SUPPORTED only"},
		"fx_pergil": {statuses: [4]Status{ok, ok, ok, ok}, verdict: VerdictOwnGIL, kind: KindExtension,
			init: InitMultiPhase, multi: "per_interpreter_gil_supported", gil: "used", reason: "per-interpreter GIL"},
		"fx_segv": {statuses: [4]Status{cr, cr, cr, cr}, verdict: VerdictBroken, signal: "SIGSEGV",
			message: "SIGSEGV", reason: "crashes on import in the main interpreter: SIGSEGV"},
		"fx_fatal": {statuses: [4]Status{ok, cr, cr, cr}, verdict: VerdictMainOnly, kind: KindExtension,
			init: InitMultiPhase, multi: "per_interpreter_gil_supported", gil: SlotAbsent, signal: "SIGABRT",
			message: "Fatal Python error: exec_module: fx_fatal refuses subinterpreters", reason: "crashes on import in legacy subinterpreters: Fatal Python error"},
		"fx_pkg": {statuses: [4]Status{ok, ok, ie, ie}, verdict: VerdictLegacyOnly, kind: KindPython,
			init: InitNA, multi: SlotNA, gil: SlotNA, message: "module fx_single " + notSupportedMsg, reason: "imports extension fx_single"},
		"fx_raises": {statuses: [4]Status{er, er, er, er}, verdict: VerdictBroken,
			message: "ValueError: fx_raises refuses to be imported", reason: "does not import even in the main interpreter"},
		"fx_needs_missing": {statuses: [4]Status{ie, ie, ie, ie}, verdict: VerdictBroken,
			message: "ModuleNotFoundError: No module named 'fx_no_such_dependency'", reason: "fx_no_such_dependency"},
		"fx_missing": {statuses: [4]Status{nf, nf, nf, nf}, verdict: VerdictNotFound,
			message: "ModuleNotFoundError: No module named 'fx_missing'", reason: "no module named fx_missing"},
		"json.fx_missing": {statuses: [4]Status{nf, nf, nf, nf}, verdict: VerdictNotFound,
			message: "No module named 'json.fx_missing'", reason: "no module named json.fx_missing"},
	})
	for _, m := range rep.Modules {
		if m.Name == "fx_segv" {
			assert.Contains(t, m.Results[ModeMain].Output, "SIGSEGV", "the child's stderr is kept for crashes")
		}
		if m.Kind == KindExtension {
			assert.Equal(t, dir, filepath.Dir(m.File), m.Name)
		}
	}
}

// TestHang: a module whose init never returns is a timeout in every mode,
// and the check goes on.
func TestHang(t *testing.T) {
	_, dir, _ := fixtureDirs(t)
	opts := testOptions(t)
	opts.Paths = []string{dir}
	opts.Modules = []string{"_json"}
	opts.Jobs = 5
	// Long enough for _json to import in every mode on a debug CPython on
	// a machine running other suites too (2 s was not): only the hanging
	// module may time out.
	opts.Timeout = 15 * time.Second
	rep, err := Check(context.Background(), opts)
	require.NoError(t, err)
	to := StatusTimeout
	checkModules(t, rep, map[string]expect{
		"fx_hang": {statuses: [4]Status{to, to, to, to}, verdict: VerdictBroken, message: "no result after 15s",
			reason: "import hangs in the main interpreter"},
	})
	for _, m := range rep.Modules {
		if m.Name == "_json" {
			assert.Equal(t, VerdictOwnGIL, m.Verdict, "the check goes on past a hanging module")
		}
	}
	assert.Empty(t, childrenOf(t, os.Getpid()))
}

// TestStdlibSpotChecks pins what CPython 3.12 to 3.15 do with a few
// stdlib modules.
func TestStdlibSpotChecks(t *testing.T) {
	opts := testOptions(t)
	opts.Modules = []string{"readline", "faulthandler", "json", "_json", "no_such_module_for_compat", "sys"}
	rep, err := Check(context.Background(), opts)
	require.NoError(t, err)
	ok, ie, nf := StatusOK, StatusImportError, StatusNotFound
	checkModules(t, rep, map[string]expect{
		// Single-phase: refused by both isolated modes.
		"readline": {statuses: [4]Status{ok, ok, ie, ie}, verdict: VerdictLegacyOnly, kind: KindExtension,
			init: InitSinglePhase, multi: SlotNA, gil: SlotNA, message: "module readline " + notSupportedMsg, reason: "single-phase"},
		// No Py_mod_multiple_interpreters slot (commented out in CPython,
		// gh-103092), which CPython defaults to "supported": shared GIL only.
		"faulthandler": {statuses: [4]Status{ok, ok, ok, ie}, verdict: VerdictSharedGILOnly, kind: KindBuiltin,
			init: InitMultiPhase, multi: SlotAbsent, gil: "not_used", message: notSupportedMsg, reason: "no Py_mod_multiple_interpreters slot"},
		// Built into libpython by Debian's builds, in lib-dynload by a
		// source build's.
		"_json": {statuses: [4]Status{ok, ok, ok, ok}, verdict: VerdictOwnGIL, kind: KindExtension + "|" + KindBuiltin,
			init: InitMultiPhase, multi: "per_interpreter_gil_supported", gil: "not_used"},
		"json": {statuses: [4]Status{ok, ok, ok, ok}, verdict: VerdictOwnGIL, kind: KindPython,
			init: InitNA, multi: SlotNA, gil: SlotNA},
		"sys": {statuses: [4]Status{ok, ok, ok, ok}, verdict: VerdictOwnGIL, kind: KindBuiltin,
			init: InitSinglePhase, multi: SlotNA, gil: SlotNA, reason: "created by the runtime"},
		"no_such_module_for_compat": {statuses: [4]Status{nf, nf, nf, nf}, verdict: VerdictNotFound,
			message: "No module named 'no_such_module_for_compat'"},
	})
	assert.Regexp(t, `^3\.1[2-9]\.`, rep.Python)
	assert.Contains(t, []string{"release", "debug"}, rep.PythonBuild)
	assert.Equal(t, 2, rep.Jobs)
}

// TestListStdlib: --stdlib lists the builtin modules and lib-dynload's
// extensions, test modules included, and not the checker's own module.
func TestListStdlib(t *testing.T) {
	dir, _, _ := fixtureDirs(t)
	opts := testOptions(t)
	opts.Stdlib, opts.Paths = true, []string{dir}
	require.NoError(t, opts.validate())
	l, err := list(context.Background(), opts)
	require.NoError(t, err)
	for _, n := range []string{"sys", "builtins", "_json", "readline", "_testsinglephase", "_testmultiphase", "math"} {
		assert.Contains(t, l.Stdlib, n)
	}
	assert.NotContains(t, l.Stdlib, "subinterp")
	assert.NotContains(t, l.Stdlib, "json", "pure-Python modules are not extension modules")
	assert.ElementsMatch(t, []string{"fx_fatal", "fx_multi_noslot", "fx_needs_missing", "fx_not_supported", "fx_pergil",
		"fx_pkg", "fx_raises", "fx_segv", "fx_single", "fx_supported"}, l.Paths[dir])
}

func TestCheckRefusesBadOptions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for name, edit := range map[string]func(*Options){
		"no command":     func(o *Options) { o.Command = nil },
		"not a name":     func(o *Options) { o.Modules = []string{"os; import shutil"} },
		"negative jobs":  func(o *Options) { o.Jobs = -1 },
		"negative time":  func(o *Options) { o.Timeout = -time.Second },
		"missing path":   func(o *Options) { o.Paths = []string{filepath.Join(t.TempDir(), "nope")} },
		"path is a file": func(o *Options) { o.Paths = []string{file} },
		"nothing to do":  func(o *Options) { o.Modules = nil },
	} {
		t.Run(name, func(t *testing.T) {
			opts := testOptions(t)
			opts.Modules = []string{"json"}
			edit(&opts)
			_, err := Check(context.Background(), opts)
			assert.ErrorIs(t, err, ErrInvalidOptions)
		})
	}
}

// TestCancelKillsChildren: ending the context stops the check at once and
// leaves no child behind, hanging ones included.
func TestCancelKillsChildren(t *testing.T) {
	_, dir, _ := fixtureDirs(t)
	opts := testOptions(t)
	opts.Paths = []string{dir}
	opts.Jobs = 4
	ctx, cancel := context.WithCancel(context.Background())
	running := make(chan struct{}, 1)
	opts.Progress = func(p Progress) {
		if len(p.Running) > 0 {
			select {
			case running <- struct{}{}:
			default:
			}
		}
	}
	go func() {
		<-running
		time.Sleep(500 * time.Millisecond) // the children are in the hanging init
		cancel()
	}()
	start := time.Now()
	_, err := Check(ctx, opts)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Empty(t, childrenOf(t, os.Getpid()))
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(t *testing.T, pid int) []testutil.Process {
	t.Helper()
	return testutil.Processes(t, func(p testutil.Process) bool { return p.PPID == pid })
}

func TestStartFailure(t *testing.T) {
	opts := testOptions(t)
	opts.Command = []string{filepath.Join(t.TempDir(), "no-such-program")}
	opts.Modules = []string{"json"}
	_, err := Check(context.Background(), opts)
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrInvalidOptions))
	assert.Contains(t, err.Error(), "no-such-program")
}
