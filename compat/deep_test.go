package compat

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// packageOf finds a package of the report by name.
func packageOf(t *testing.T, rep *Report, name string) Package {
	t.Helper()
	for _, p := range rep.Packages {
		if p.Name == name {
			return p
		}
	}
	require.Failf(t, "package not in the report", "%s", name)
	return Package{}
}

// moduleOf finds a module of the report by name.
func moduleOf(t *testing.T, rep *Report, name string) Module {
	t.Helper()
	for _, m := range rep.Modules {
		if m.Name == name {
			return m
		}
	}
	require.Failf(t, "module not in the report", "%s", name)
	return Module{}
}

// distOf finds a distribution of the report by name.
func distOf(t *testing.T, rep *Report, name string) Distribution {
	t.Helper()
	for _, d := range rep.Distributions {
		if d.Name == name {
			return d
		}
	}
	require.Failf(t, "distribution not in the report", "%s", name)
	return Distribution{}
}

// TestDeepVerdicts checks the packages of testdata/deep found with --path:
// each package is judged with every extension module it ships, not by its
// top-level import alone.
func TestDeepVerdicts(t *testing.T) {
	dir, _ := deepFixtures(t)
	opts := testOptions(t)
	opts.Paths = []string{dir}
	rep, err := Check(context.Background(), opts)
	require.NoError(t, err)

	var names []string
	for _, m := range rep.Modules {
		names = append(names, m.Name)
	}
	assert.Equal(t, []string{"fx_fallback", "fx_fallback._speedups", "fx_good", "fx_good._core", "fx_good._optional",
		"fx_lazy", "fx_lazy._native", "fx_pkgfail", "fx_pkgfail._core", "fx_pkgfail._other", "fx_prints", "fx_shim"}, names,
		"the extension modules inside packages are checked too")
	assert.Equal(t, "fx_lazy", moduleOf(t, rep, "fx_lazy._native").Package)
	assert.Empty(t, moduleOf(t, rep, "fx_lazy").Package)

	ok, ie, sk, er := StatusOK, StatusImportError, StatusSkipped, StatusImportError
	checkModules(t, rep, map[string]expect{
		// Extension modules inside packages are imported from the most
		// isolated mode on, until one imports.
		"fx_fallback._speedups": {statuses: [4]Status{sk, sk, ok, ie}, verdict: VerdictSharedGILOnly, kind: KindExtension,
			init: InitMultiPhase, multi: SlotAbsent, gil: SlotAbsent, message: notSupportedMsg, reason: "no Py_mod_multiple_interpreters slot"},
		"fx_good._core": {statuses: [4]Status{sk, sk, sk, ok}, verdict: VerdictOwnGIL, kind: KindExtension,
			init: InitMultiPhase, multi: "per_interpreter_gil_supported", gil: SlotAbsent, reason: "per-interpreter GIL"},
		"fx_good._optional": {statuses: [4]Status{er, er, er, er}, verdict: VerdictBroken,
			message: "fx_good._optional needs libfxoptional", reason: "does not import even in the main interpreter"},
		// The shim's own ImportError hides the cause; the reason names it.
		"fx_shim": {statuses: [4]Status{ok, ok, ok, ie}, verdict: VerdictSharedGILOnly, kind: KindPython,
			init: InitNA, multi: SlotNA, gil: SlotNA, message: "No module named 'fx_shim'",
			reason: "after extension fx_fallback._speedups failed to load there (ImportError: module fx_fallback._speedups does not support"},
		// Writing to stdout on import does not disturb the result.
		"fx_prints": {statuses: [4]Status{ok, ok, ok, ok}, verdict: VerdictOwnGIL, kind: KindPython, init: InitNA, multi: SlotNA, gil: SlotNA},
	})

	t.Run("single-phase inside a package", func(t *testing.T) {
		m := moduleOf(t, rep, "fx_lazy._native")
		for mode, want := range map[Mode]Status{ModeLegacy: ok, ModeIsolatedSharedGIL: ie, ModeIsolatedOwnGIL: ie} {
			assert.Equal(t, want, m.Results[mode].Status, mode)
		}
		// 3.13's legacy mode cannot read a single-phase module's
		// definition back, so main runs too there.
		assert.Contains(t, []Status{ok, sk}, m.Results[ModeMain].Status)
		assert.Equal(t, VerdictLegacyOnly, m.Verdict)
		assert.Equal(t, InitSinglePhase, m.Init)
		// CPython names a single-phase module in a package by its last
		// component; the reason must still see it is the module itself.
		assert.Contains(t, m.Results[ModeIsolatedOwnGIL].Message, "module _native "+notSupportedMsg)
		assert.True(t, strings.HasPrefix(m.Reason, "single-phase init: port"), m.Reason)
	})
	t.Run("inferred from the package", func(t *testing.T) {
		m := moduleOf(t, rep, "fx_pkgfail._other")
		own := m.Results[ModeIsolatedOwnGIL]
		assert.Equal(t, StatusImportError, own.Status)
		assert.Equal(t, "fx_pkgfail", own.InferredFrom, "the package fails there: no child needed")
		assert.Zero(t, own.Seconds)
		assert.Equal(t, moduleOf(t, rep, "fx_pkgfail").Results[ModeIsolatedOwnGIL].Message, own.Message)
		assert.Equal(t, StatusOK, m.Results[ModeIsolatedSharedGIL].Status)
		assert.Empty(t, m.Results[ModeIsolatedSharedGIL].InferredFrom)
		assert.Equal(t, StatusSkipped, m.Results[ModeLegacy].Status)
		assert.Equal(t, VerdictSharedGILOnly, m.Verdict)
		assert.Contains(t, m.Reason, "imports extension fx_pkgfail._core, which does not declare per-interpreter GIL support")
		p := packageOf(t, rep, "fx_pkgfail")
		assert.Equal(t, VerdictSharedGILOnly, p.Verdict)
		assert.Equal(t, "fx_pkgfail._core", p.Decider, "the first extension at the worst verdict")
		assert.Equal(t, 2, p.Refusing)
	})
	t.Run("lazy import", func(t *testing.T) {
		p := packageOf(t, rep, "fx_lazy")
		assert.Equal(t, VerdictOwnGIL, p.Imports, "importing the package alone loads no extension")
		assert.Equal(t, VerdictLegacyOnly, p.Verdict)
		assert.Equal(t, "fx_lazy._native", p.Decider)
		assert.Equal(t, []string{"fx_lazy._native"}, p.Extensions)
		assert.Equal(t, 1, p.Refusing)
		assert.Equal(t, "imports own-gil; 1 of 1 extension modules refuse own GIL", p.Summary)
		assert.True(t, strings.HasPrefix(p.Reason, "fx_lazy._native: single-phase init"), p.Reason)
		assert.Equal(t, []Technology{TechCSingle}, p.Technologies)
	})
	t.Run("swallowed ImportError", func(t *testing.T) {
		m := moduleOf(t, rep, "fx_fallback")
		assert.Equal(t, VerdictOwnGIL, m.Verdict)
		assert.True(t, m.Degraded, "the C accelerator was refused and the package fell back")
		assert.Equal(t, "own-gil (degraded)", m.VerdictText())
		require.Len(t, m.Fallbacks, 1)
		assert.Equal(t, "fx_fallback._speedups", m.Fallbacks[0].Module)
		assert.Contains(t, m.Fallbacks[0].Message, notSupportedMsg)
		assert.Contains(t, m.Reason, "degraded: imports in own-GIL subinterpreters only because it catches the failure of extension fx_fallback._speedups")
		own := m.Results[ModeIsolatedOwnGIL]
		require.NotEmpty(t, own.ExtensionErrors, "the refusal is recorded though the import succeeded")
		assert.Empty(t, m.Results[ModeMain].ExtensionErrors)
		assert.Empty(t, m.Results[ModeIsolatedSharedGIL].ExtensionErrors, "the shared-GIL mode takes the accelerator")

		p := packageOf(t, rep, "fx_fallback")
		assert.Equal(t, VerdictOwnGIL, p.Imports)
		assert.True(t, p.Degraded)
		assert.Equal(t, VerdictSharedGILOnly, p.Verdict)
		assert.Equal(t, "fx_fallback._speedups", p.Decider)
		assert.Equal(t, "imports own-gil (degraded: goes on without fx_fallback._speedups); 1 of 1 extension modules refuse own GIL", p.Summary)
	})
	t.Run("shim package", func(t *testing.T) {
		p := packageOf(t, rep, "fx_shim")
		assert.Equal(t, VerdictSharedGILOnly, p.Verdict)
		assert.Empty(t, p.Extensions)
		assert.Equal(t, "imports shared-gil-only; ships no extension module", p.Summary)
	})
	t.Run("unimportable extension", func(t *testing.T) {
		assert.Equal(t, VerdictBroken, moduleOf(t, rep, "fx_good._optional").Verdict)
		p := packageOf(t, rep, "fx_good")
		assert.Equal(t, VerdictOwnGIL, p.Verdict, "an extension that imports nowhere is not about subinterpreters")
		assert.Equal(t, "fx_good", p.Decider)
		assert.Equal(t, []string{"fx_good._optional"}, p.Unimportable)
		assert.Equal(t, "imports own-gil; 0 of 1 extension modules refuse own GIL (not counted: 1 more do not import even in the main interpreter)", p.Summary)
	})

	t.Run("by distribution", func(t *testing.T) {
		var dnames []string
		for _, d := range rep.Distributions {
			dnames = append(dnames, d.Name)
		}
		assert.Equal(t, []string{"fx_broken", "fx-fallback", "FX.Good", "fx_lazy", "fx-noversion", "fx-prints"}, dnames,
			"sorted by normalized name; broken metadata included")

		fb := distOf(t, rep, "fx-fallback")
		assert.Equal(t, "1.2.3", fb.Version)
		assert.Equal(t, []string{"fx_fallback", "fx_shim"}, fb.Packages, "from RECORD: both top-level modules it installs")
		assert.Equal(t, VerdictSharedGILOnly, fb.Verdict)
		assert.Equal(t, "fx_fallback._speedups", fb.Decider)
		assert.True(t, fb.Degraded)
		assert.Equal(t, TechCMulti, fb.DeciderTechnology)
		assert.Equal(t, filepath.Join(dir, "fx_fallback-1.2.3.dist-info"), fb.Metadata)

		lazy := distOf(t, rep, "fx_lazy")
		assert.Equal(t, "0.1", lazy.Version, "from an .egg-info's PKG-INFO")
		assert.Equal(t, []string{"fx_lazy"}, lazy.Packages, "from top_level.txt")
		assert.Equal(t, VerdictLegacyOnly, lazy.Verdict)

		good := distOf(t, rep, "FX.Good")
		assert.Equal(t, VerdictOwnGIL, good.Verdict)
		assert.Empty(t, good.Error)

		broken := distOf(t, rep, "fx_broken")
		assert.Empty(t, broken.Verdict)
		assert.Equal(t, "broken metadata in "+filepath.Join(dir, "fx_broken-1.0.dist-info")+": no METADATA file", broken.Error)
		assert.Contains(t, distOf(t, rep, "fx-noversion").Error, "METADATA has no Version field")

		assert.Contains(t, rep.Summary(), "6 distributions: own-gil 2, shared-gil-only 1, legacy-only 1, error 2")
	})
}

// TestAllModes: with AllModes, the extension modules inside packages are
// imported in every mode too.
func TestAllModes(t *testing.T) {
	dir, _ := deepFixtures(t)
	opts := testOptions(t)
	opts.Paths = []string{dir}
	opts.AllModes = true
	rep, err := Check(context.Background(), opts)
	require.NoError(t, err)
	ok := StatusOK
	checkModules(t, rep, map[string]expect{
		"fx_good._core": {statuses: [4]Status{ok, ok, ok, ok}, verdict: VerdictOwnGIL, kind: KindExtension,
			init: InitMultiPhase, multi: "per_interpreter_gil_supported", gil: SlotAbsent},
	})
}

// TestShallow: --shallow checks the listed modules only.
func TestShallow(t *testing.T) {
	dir, _ := deepFixtures(t)
	opts := testOptions(t)
	opts.Paths = []string{dir}
	opts.Shallow = true
	rep, err := Check(context.Background(), opts)
	require.NoError(t, err)
	for _, m := range rep.Modules {
		assert.Empty(t, m.Package, "%s: no extension module inside a package is checked", m.Name)
	}
	p := packageOf(t, rep, "fx_lazy")
	assert.Equal(t, VerdictOwnGIL, p.Verdict, "only its own import")
	assert.Empty(t, p.Extensions)
}

// makeVenv makes a virtual environment with the Python in use (the one
// the children link) and copies the deep fixtures into its site-packages.
func makeVenv(t *testing.T, py PythonInfo, deep string) string {
	t.Helper()
	require.NotEmpty(t, py.Executable)
	venv := filepath.Join(t.TempDir(), "venv")
	out, err := exec.Command(py.Executable, "-m", "venv", "--without-pip", venv).CombinedOutput()
	require.NoError(t, err, "%s -m venv: %s", py.Executable, out)
	sp, err := filepath.Glob(filepath.Join(venv, "lib", "python3.*", "site-packages"))
	require.NoError(t, err)
	require.Len(t, sp, 1)
	require.NoError(t, os.CopyFS(sp[0], os.DirFS(deep)))
	return venv
}

// TestVenvAndRequirements: --venv runs every check in a virtual
// environment and checks its distributions that ship an extension module
// (and the other modules they install); requested distributions are
// checked whole, and one that is not installed gets a line saying so.
func TestVenvAndRequirements(t *testing.T) {
	dir, py := deepFixtures(t)
	venv := makeVenv(t, py, dir)
	opts := testOptions(t)
	opts.Venv = venv
	opts.Distributions = []string{"FX_PRINTS", "no-such-distribution"}
	rep, err := Check(context.Background(), opts)
	require.NoError(t, err)
	var pnames []string
	for _, p := range rep.Packages {
		pnames = append(pnames, p.Name)
	}
	assert.Equal(t, []string{"fx_fallback", "fx_good", "fx_lazy", "fx_pkgfail", "fx_prints", "fx_shim"}, pnames,
		"the packages with extensions, fx_shim with its distribution, and fx_prints as asked for")
	assert.Equal(t, VerdictLegacyOnly, distOf(t, rep, "fx_lazy").Verdict)
	assert.Equal(t, VerdictSharedGILOnly, distOf(t, rep, "fx-fallback").Verdict)
	assert.Equal(t, VerdictOwnGIL, distOf(t, rep, "fx-prints").Verdict)
	assert.True(t, strings.HasPrefix(moduleOf(t, rep, "fx_lazy._native").File, venv), "imported from the venv")
	missing := distOf(t, rep, "no-such-distribution")
	assert.Contains(t, missing.Error, "not installed")
	assert.Empty(t, missing.Verdict)
	assert.Contains(t, distOf(t, rep, "fx_broken").Error, "no METADATA file")
}

// TestRequestedDistribution: a distribution asked for by name, found on
// sys.path, is checked with the extension modules of its packages.
func TestRequestedDistribution(t *testing.T) {
	dir, _ := deepFixtures(t)
	opts := testOptions(t)
	opts.Paths = []string{dir}
	opts.Distributions = []string{"fx-lazy"}
	rep, err := Check(context.Background(), opts)
	require.NoError(t, err)
	p := packageOf(t, rep, "fx_lazy")
	assert.Equal(t, []string{"fx_lazy._native"}, p.Extensions)
	assert.Equal(t, "fx_lazy", p.Distribution)
}

// TestVenvRefused: what CPython refuses as a venv is a clear
// ErrInvalidOptions, before anything is checked.
func TestVenvRefused(t *testing.T) {
	_, py := deepFixtures(t)
	notVenv := t.TempDir()
	other := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(other, "pyvenv.cfg"),
		[]byte("home = "+filepath.Dir(py.Executable)+"\nversion = 3.99.0\n"), 0o644))
	for name, tc := range map[string]struct{ venv, msg string }{
		"no pyvenv.cfg": {notVenv, "no pyvenv.cfg: not a virtual environment"},
		"other Python":  {other, "made by CPython 3.99.0"},
	} {
		t.Run(name, func(t *testing.T) {
			opts := testOptions(t)
			opts.Venv = tc.venv
			_, err := Check(context.Background(), opts)
			require.ErrorIs(t, err, ErrInvalidOptions)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
	opts := testOptions(t)
	opts.Distributions = []string{"not a name!"}
	_, err := Check(context.Background(), opts)
	assert.ErrorIs(t, err, ErrInvalidOptions)
}

func TestClassify(t *testing.T) {
	dir, _ := deepFixtures(t)
	_, _, py := fixtureDirs(t)
	for file, want := range map[string]Technology{
		"fx_lazy/_native":       TechCSingle,
		"fx_good/_core":         TechCMulti,
		"fx_fallback/_speedups": TechCMulti,
	} {
		got, err := Classify(filepath.Join(dir, file+py.ExtSuffix))
		require.NoError(t, err)
		assert.Equal(t, want, got, file)
	}
	// The generators' markers, in a copy of a C module: the first
	// generator in techMarkers' order wins.
	src, err := os.ReadFile(filepath.Join(dir, "fx_good", "_core"+py.ExtSuffix))
	require.NoError(t, err)
	for marker, want := range map[string]Technology{
		"pyo3-0.25.1/src/impl_/pymodule.rs": TechPyO3,
		"__pybind11_internals_v11":          TechPybind11,
		"__nb_internals":                    TechNanobind,
		"3f2a__mypyc":                       TechMypyc,
		"cython_runtime":                    TechCython,
		"_cffi_backend":                     TechCFFI,
		"_cffi_backend pyo3":                TechPyO3,
	} {
		f := filepath.Join(t.TempDir(), "m"+py.ExtSuffix)
		require.NoError(t, os.WriteFile(f, append(append([]byte{}, src...), []byte(marker)...), 0o644))
		got, err := Classify(f)
		require.NoError(t, err)
		assert.Equal(t, want, got, marker)
	}
	bad := filepath.Join(t.TempDir(), "not-elf.so")
	require.NoError(t, os.WriteFile(bad, []byte("#!/bin/sh\n"), 0o644))
	_, err = Classify(bad)
	assert.Error(t, err)
}
