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
		if e, ok := rootCause(m, r); ok {
			return fmt.Sprintf("not found %s: %s, after extension %s failed to load there (%s): fix %s (check it with `subinterp compat %s`)",
				where, short(r.Message), e.Module, short(e.Message), e.Module, e.Module)
		}
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
	if refused != nil && !refusedItself(m, r, refused[1]) && r.Status == StatusImportError {
		refused[1] = fullName(r, refused[1])
		what := "is refused"
		if mode == ModeIsolatedOwnGIL {
			what = "does not declare per-interpreter GIL support"
		}
		return fmt.Sprintf("imports extension %s, which %s %s: fix %s (check it with `subinterp compat %s`)",
			refused[1], what, where, refused[1], refused[1])
	}
	if refused == nil {
		if e, ok := rootCause(m, r); ok {
			return fmt.Sprintf("fails %s: %s, after extension %s failed to load there (%s): fix %s (check it with `subinterp compat %s`)",
				where, short(r.Message), e.Module, short(e.Message), e.Module, e.Module)
		}
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

// refusedItself reports whether the refusal of name in r is that of m
// itself. CPython names a single-phase module inside a package by its last
// component only ("module _native does not support loading in
// subinterpreters" for pkg._native), and an extension whose init imports a
// refused one fails with that one's message (cryptography's _rust with
// _cffi_backend's), so the first recorded refusal naming name says whose
// it is.
func refusedItself(m Module, r ModeResult, name string) bool {
	for _, e := range r.ExtensionErrors {
		if (e.Module == name || strings.HasSuffix(e.Module, "."+name)) && unsupported.MatchString(e.Message) {
			return e.Module == m.Name
		}
	}
	return name == m.Name || strings.HasSuffix(m.Name, "."+name)
}

// fullName is the dotted name of the extension module CPython named
// (maybe by its last component only) in a refusal during r's import.
func fullName(r ModeResult, name string) string {
	for _, e := range r.ExtensionErrors {
		if (e.Module == name || strings.HasSuffix(e.Module, "."+name)) && unsupported.MatchString(e.Message) {
			return e.Module
		}
	}
	return name
}

// rootCause is the first extension module other than m itself whose
// loading failed during an import that failed: a shim package that turns
// the failure into an ImportError of its own ("No module named '_yaml'")
// hides it otherwise.
func rootCause(m Module, r ModeResult) (ExtensionError, bool) {
	for _, e := range r.ExtensionErrors {
		if e.Module != m.Name {
			return e, true
		}
	}
	return ExtensionError{}, false
}

// verdictMode is the most isolated mode a verdict says the module imports
// in.
var verdictMode = map[Verdict]Mode{
	VerdictOwnGIL:        ModeIsolatedOwnGIL,
	VerdictSharedGILOnly: ModeIsolatedSharedGIL,
	VerdictLegacyOnly:    ModeLegacy,
	VerdictMainOnly:      ModeMain,
}

// fallbacks are the extension modules whose loading failed, and was
// caught, in the mode m's verdict names, when the same modules loaded in
// the main interpreter: there the package goes on without its C code
// (a "speedups" module, a C accelerator), which no import error reveals.
// Failures that happen in the main interpreter too (an optional library
// missing) are not about subinterpreters and are left out.
func fallbacks(m Module) []ExtensionError {
	mode, ok := verdictMode[m.Verdict]
	if !ok || mode == ModeMain {
		return nil
	}
	inMain := map[string]bool{}
	for _, e := range m.Results[ModeMain].ExtensionErrors {
		inMain[e.Module] = true
	}
	var out []ExtensionError
	seen := map[string]bool{}
	for _, e := range m.Results[mode].ExtensionErrors {
		if e.Module == m.Name || inMain[e.Module] || seen[e.Module] {
			continue
		}
		seen[e.Module] = true
		out = append(out, e)
	}
	return out
}

// degradedReason is the reason of a module that imports only by going on
// without the extension modules in m.Fallbacks.
func degradedReason(m Module) string {
	f := m.Fallbacks[0]
	more := ""
	if len(m.Fallbacks) > 1 {
		more = fmt.Sprintf(" (and %d more)", len(m.Fallbacks)-1)
	}
	return fmt.Sprintf("degraded: imports %s only because it catches the failure of extension %s%s (%s) and goes on without it, "+
		"losing its C code: fix %s (check it with `subinterp compat %s`)",
		modePhrase[verdictMode[m.Verdict]], f.Module, more, short(f.Message), f.Module, f.Module)
}

// VerdictText is the verdict as the reports show it: "own-gil
// (degraded)" for a module that imports only by falling back.
func (m Module) VerdictText() string {
	if m.Degraded {
		return string(m.Verdict) + " (degraded)"
	}
	return string(m.Verdict)
}
