package compat

import (
	"fmt"
	"regexp"
	"strings"
)

// unsupported matches the ImportError CPython raises when an interpreter
// with check_multi_interp_extensions refuses an extension module, in 3.12
// and 3.13 alike, for single-phase modules, modules declaring
// not_supported, and (in own-GIL interpreters) modules without
// per-interpreter-GIL support: "module X does not support loading in
// subinterpreters". It names the extension, which for a Python package is
// the one to fix.
var unsupported = regexp.MustCompile(`module (\S+) does not support loading in subinterpreters`)

// maxReasonMessage bounds how much of an exception message a reason quotes.
const maxReasonMessage = 160

// Judge returns a module's verdict and a one-line reason a maintainer can
// act on. The verdict depends on the observed statuses only: the most
// isolated mode the module imported in. The reason explains the first mode
// it failed in, from what the module declares and what CPython said.
func Judge(m Module) (Verdict, string) {
	st := func(mode Mode) Status { return m.Results[mode].Status }
	if st(ModeMain) == StatusNotFound && st(ModeLegacy) != StatusOK &&
		st(ModeIsolatedSharedGIL) != StatusOK && st(ModeIsolatedOwnGIL) != StatusOK {
		return VerdictNotFound, fmt.Sprintf("no module named %s on sys.path: check the name, or add its directory with --path", m.Name)
	}
	switch {
	case st(ModeIsolatedOwnGIL) == StatusOK:
		return VerdictOwnGIL, ownGILReason(m)
	case st(ModeIsolatedSharedGIL) == StatusOK:
		return VerdictSharedGILOnly, failReason(m, ModeIsolatedOwnGIL)
	case st(ModeLegacy) == StatusOK:
		return VerdictLegacyOnly, failReason(m, ModeIsolatedSharedGIL)
	case st(ModeMain) == StatusOK:
		return VerdictMainOnly, failReason(m, ModeLegacy)
	}
	return VerdictBroken, failReason(m, ModeMain)
}

// ownGILReason says why a module that imports everywhere does.
func ownGILReason(m Module) string {
	switch {
	case m.Init == InitMultiPhase && m.MultipleInterpreters == "per_interpreter_gil_supported":
		return "multi-phase init declaring per-interpreter GIL support"
	case m.Preloaded:
		// sys and builtins are single-phase, yet every interpreter has
		// them: the runtime makes them itself, no import involved.
		return "created by the runtime for every interpreter (loaded before any import): nothing to do"
	case m.Kind == KindPython:
		return "Python code whose extension imports all support a per-interpreter GIL"
	}
	return "imports in own-GIL subinterpreters"
}

// failReason says why m failed in mode, the most permissive mode it
// failed in besides those before it.
func failReason(m Module, mode Mode) string {
	r := m.Results[mode]
	where := modePhrase[mode]
	switch r.Status {
	case StatusCrash:
		// The message names the signal ("SIGSEGV: segmentation violation
		// in C code", "Fatal Python error: ... (SIGABRT: abort in C code)").
		return fmt.Sprintf("crashes on import %s: %s", where, short(r.Message))
	case StatusTimeout:
		return fmt.Sprintf("import hangs %s (no result within the timeout)", where)
	case StatusNotFound:
		return fmt.Sprintf("not found %s: %s", where, short(r.Message))
	}
	if mode == ModeMain {
		return "does not import even in the main interpreter: " + short(r.Message)
	}
	if mode == ModeLegacy {
		return "imports in the main interpreter only, fails in any subinterpreter: " + short(r.Message)
	}
	// An isolated mode refused it: say what to change.
	refused := unsupported.FindStringSubmatch(r.Message)
	if refused != nil && refused[1] != m.Name && r.Status == StatusImportError {
		what := "is refused"
		if mode == ModeIsolatedOwnGIL {
			what = "does not declare per-interpreter GIL support"
		}
		return fmt.Sprintf("imports extension %s, which %s %s: fix %s (check it with `subinterp compat %s`)",
			refused[1], what, where, refused[1], refused[1])
	}
	if refused == nil {
		return fmt.Sprintf("fails %s: %s", where, short(r.Message))
	}
	switch {
	case m.Init == InitSinglePhase:
		return "single-phase init: port to multi-phase init (PEP 489) with per-module state, and declare per-interpreter GIL support"
	case m.MultipleInterpreters == "not_supported":
		return "declares Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED: make its state per-module, then declare Py_MOD_PER_INTERPRETER_GIL_SUPPORTED"
	case m.MultipleInterpreters == "supported" && mode == ModeIsolatedOwnGIL:
		return "declares Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED only (shared GIL): once no state is shared between interpreters, declare Py_MOD_PER_INTERPRETER_GIL_SUPPORTED"
	case m.MultipleInterpreters == SlotAbsent && mode == ModeIsolatedOwnGIL:
		return "no Py_mod_multiple_interpreters slot, which CPython takes as 'supported' (shared GIL only): once no state is shared between interpreters, declare Py_MOD_PER_INTERPRETER_GIL_SUPPORTED"
	}
	return fmt.Sprintf("refused %s: %s", where, short(r.Message))
}

// modePhrase describes each mode in a reason.
var modePhrase = map[Mode]string{
	ModeMain:              "in the main interpreter",
	ModeLegacy:            "in legacy subinterpreters",
	ModeIsolatedSharedGIL: "in isolated subinterpreters",
	ModeIsolatedOwnGIL:    "in own-GIL subinterpreters",
}

// short makes a message fit on one line of a reason.
func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxReasonMessage {
		cut := maxReasonMessage
		for cut > 0 && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
