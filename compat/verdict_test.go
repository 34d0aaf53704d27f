package compat

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// results builds Results from four statuses (main, legacy, isolated
// shared GIL, isolated own GIL) and one message for every failed mode.
func results(msg string, st ...Status) map[Mode]ModeResult {
	r := map[Mode]ModeResult{}
	for i, mode := range Modes {
		res := ModeResult{Status: st[i]}
		if st[i] != StatusOK {
			res.Message = msg
		}
		if st[i] == StatusCrash {
			res.Signal = "SIGSEGV"
		}
		r[mode] = res
	}
	return r
}

const refusedMsg = "ImportError: module %s does not support loading in subinterpreters"

func refused(name string) string { return strings.Replace(refusedMsg, "%s", name, 1) }

func TestJudge(t *testing.T) {
	ok, ie, er, cr, to, nf := StatusOK, StatusImportError, StatusError, StatusCrash, StatusTimeout, StatusNotFound
	ext := func(init, multi string) Module {
		return Module{Name: "m", Kind: KindExtension, Init: init, MultipleInterpreters: multi}
	}
	for _, tc := range []struct {
		name    string
		m       Module
		res     map[Mode]ModeResult
		verdict Verdict
		reason  string // a substring of the reason
	}{
		{"per-interpreter GIL", ext(InitMultiPhase, "per_interpreter_gil_supported"), results("", ok, ok, ok, ok),
			VerdictOwnGIL, "declaring per-interpreter GIL support"},
		{"core module made by the runtime", Module{Name: "sys", Kind: KindBuiltin, Init: InitSinglePhase, Preloaded: true},
			results("", ok, ok, ok, ok), VerdictOwnGIL, "created by the runtime"},
		{"pure Python", Module{Name: "m", Kind: KindPython, Init: InitNA}, results("", ok, ok, ok, ok),
			VerdictOwnGIL, "Python code"},
		{"declares supported only", ext(InitMultiPhase, "supported"), results(refused("m"), ok, ok, ok, ie),
			VerdictSharedGILOnly, "declares Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED only"},
		{"no slot", ext(InitMultiPhase, SlotAbsent), results(refused("m"), ok, ok, ok, ie),
			VerdictSharedGILOnly, "no Py_mod_multiple_interpreters slot"},
		{"single-phase", ext(InitSinglePhase, SlotNA), results(refused("m"), ok, ok, ie, ie),
			VerdictLegacyOnly, "single-phase init: port to multi-phase init (PEP 489)"},
		{"declares not supported", ext(InitMultiPhase, "not_supported"), results(refused("m"), ok, ok, ie, ie),
			VerdictLegacyOnly, "declares Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED"},
		{"package importing a single-phase extension", Module{Name: "pkg", Kind: KindPython, Init: InitNA},
			results(refused("pkg._speedups"), ok, ok, ie, ie), VerdictLegacyOnly, "imports extension pkg._speedups, which is refused in isolated subinterpreters"},
		{"package importing a shared-GIL-only extension", Module{Name: "pkg", Kind: KindPython, Init: InitNA},
			results(refused("_ext"), ok, ok, ok, ie), VerdictSharedGILOnly, "imports extension _ext, which does not declare per-interpreter GIL support"},
		{"other exception in own-GIL only", ext(InitMultiPhase, "per_interpreter_gil_supported"),
			results("RuntimeError: no threads here", ok, ok, ok, er), VerdictSharedGILOnly, "fails in own-GIL subinterpreters: RuntimeError: no threads here"},
		{"crash in own-GIL only", ext(InitMultiPhase, "per_interpreter_gil_supported"),
			results("SIGSEGV: segmentation violation in C code", ok, ok, ok, cr), VerdictSharedGILOnly, "crashes on import in own-GIL subinterpreters: SIGSEGV"},
		{"crash in subinterpreters", ext(InitMultiPhase, "per_interpreter_gil_supported"),
			results("Fatal Python error: x", ok, cr, cr, cr), VerdictMainOnly, "crashes on import in legacy subinterpreters: Fatal Python error: x"},
		{"error in subinterpreters", ext(InitSinglePhase, SlotNA),
			results("ImportError: nope", ok, ie, ie, ie), VerdictMainOnly, "fails in any subinterpreter: ImportError: nope"},
		{"hangs in legacy", ext(InitSinglePhase, SlotNA), results("", ok, to, ie, ie),
			VerdictMainOnly, "import hangs in legacy subinterpreters"},
		{"crash everywhere", Module{Name: "m"}, results("SIGSEGV: segmentation violation", cr, cr, cr, cr),
			VerdictBroken, "crashes on import in the main interpreter: SIGSEGV"},
		{"hang everywhere", Module{Name: "m"}, results("", to, to, to, to), VerdictBroken, "import hangs in the main interpreter"},
		{"exception everywhere", Module{Name: "m"}, results("ValueError: no", er, er, er, er),
			VerdictBroken, "does not import even in the main interpreter: ValueError: no"},
		{"missing dependency is not not-found", Module{Name: "m"},
			results("ModuleNotFoundError: No module named 'dep'", ie, ie, ie, ie), VerdictBroken, "No module named 'dep'"},
		{"not found", Module{Name: "nosuch"}, results("ModuleNotFoundError: No module named 'nosuch'", nf, nf, nf, nf),
			VerdictNotFound, "no module named nosuch on sys.path"},
		{"not found in subinterpreters only", Module{Name: "m", Kind: KindPython}, results("ModuleNotFoundError: No module named 'm'", ok, nf, nf, nf),
			VerdictMainOnly, "not found in legacy subinterpreters"},
		{"own GIL ok whatever else", ext(InitMultiPhase, "per_interpreter_gil_supported"), results("", cr, ok, ok, ok),
			VerdictOwnGIL, "per-interpreter GIL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.Results = tc.res
			v, reason := Judge(tc.m)
			assert.Equal(t, tc.verdict, v)
			assert.Contains(t, reason, tc.reason)
			assert.NotContains(t, reason, "\n")
		})
	}
}

func TestShort(t *testing.T) {
	assert.Equal(t, "a b c", short("a\n  b\tc\n"))
	long := strings.Repeat("é", 200)
	s := short(long)
	assert.True(t, strings.HasSuffix(s, "…"))
	assert.LessOrEqual(t, len(s), maxReasonMessage+len("…"))
	assert.True(t, strings.ToValidUTF8(s, "?") == s, "cut inside a UTF-8 sequence")
}

// TestFillPrefersADescribedMode: the module's description comes from the
// most permissive mode that imported it and could read its definition.
func TestFillPrefersADescribedMode(t *testing.T) {
	ok, cr := StatusOK, StatusCrash
	m := Module{Name: "m", Results: results("SIGSEGV: x", cr, ok, ok, ok)}
	fill(&m, map[Mode]info{
		// A single-phase module reloaded from the cache in a legacy
		// subinterpreter has no readable definition (3.13).
		ModeLegacy:            {Kind: KindExtension, File: "/x/m.so"},
		ModeIsolatedSharedGIL: {Kind: KindExtension, Init: InitMultiPhase, Multi: "per_interpreter_gil_supported", GIL: SlotAbsent, File: "/x/m.so"},
		ModeIsolatedOwnGIL:    {Kind: KindExtension, Init: InitMultiPhase, Multi: "per_interpreter_gil_supported", GIL: SlotAbsent, File: "/x/m.so"},
	})
	assert.Equal(t, InitMultiPhase, m.Init)
	assert.Equal(t, "per_interpreter_gil_supported", m.MultipleInterpreters)
	assert.Equal(t, KindExtension, m.Kind)
	assert.False(t, m.Preloaded)
	assert.Equal(t, VerdictOwnGIL, m.Verdict)

	p := Module{Name: "sys", Results: results("", ok, ok, ok, ok)}
	in := info{Kind: KindBuiltin, Init: InitSinglePhase, Multi: SlotNA, GIL: SlotNA, Preloaded: true}
	fill(&p, map[Mode]info{ModeMain: in, ModeLegacy: in, ModeIsolatedSharedGIL: in, ModeIsolatedOwnGIL: in})
	assert.True(t, p.Preloaded)
	assert.Contains(t, p.Reason, "created by the runtime")
}

// TestRefusedBy: whose refusal a message is, from the extension errors
// recorded during the import.
func TestRefusedBy(t *testing.T) {
	ie := StatusImportError
	rust := Module{Name: "cryptography.hazmat.bindings._rust", Kind: KindExtension, Init: InitMultiPhase, MultipleInterpreters: SlotAbsent,
		Results: results(refused("_cffi_backend"), StatusOK, StatusOK, ie, ie)}
	for _, mode := range []Mode{ModeIsolatedSharedGIL, ModeIsolatedOwnGIL} {
		r := rust.Results[mode]
		r.ExtensionErrors = []ExtensionError{{Module: "_cffi_backend", Message: r.Message}, {Module: rust.Name, Message: r.Message}}
		rust.Results[mode] = r
	}
	_, reason := Judge(rust)
	assert.Contains(t, reason, "imports extension _cffi_backend, which is refused in isolated subinterpreters: fix _cffi_backend")

	native := Module{Name: "pkg._native", Kind: KindExtension, Init: InitSinglePhase, MultipleInterpreters: SlotNA,
		Results: results(refused("_native"), StatusOK, StatusOK, ie, ie)}
	r := native.Results[ModeIsolatedSharedGIL]
	r.ExtensionErrors = []ExtensionError{{Module: "pkg._native", Message: r.Message}}
	native.Results[ModeIsolatedSharedGIL] = r
	_, reason = Judge(native)
	assert.Contains(t, reason, "single-phase init: port", "its own refusal, by its short name")
}
