// Package compat finds out, module by module, whether a Python extension
// module can be imported in subinterpreters, in which of four modes, and
// why not.
//
// It only observes CPython's own import machinery: each module is imported
// once per mode, each time in a fresh child process (the caller's program
// re-executed, see Options.Command and ChildMain), so that a module that
// crashes or hangs is reported instead of taking the check down, and no
// mode sees what another one left in CPython's per-process extension
// caches. How the module initialises is read from the PyModuleDef of the
// module that was loaded, not guessed from its behaviour.
package compat

import "time"

// Mode is one way of importing a module.
type Mode string

// The four modes, in the order they are reported.
const (
	// ModeMain imports in the main interpreter, where every extension
	// module loads.
	ModeMain Mode = "main"
	// ModeLegacy imports in a subinterpreter sharing the main GIL and
	// allocator with the extension check off (cpython.LegacyConfig).
	ModeLegacy Mode = "legacy"
	// ModeIsolatedSharedGIL imports in a subinterpreter with its own
	// allocator and the extension check on, sharing the main GIL.
	ModeIsolatedSharedGIL Mode = "isolated_shared_gil"
	// ModeIsolatedOwnGIL imports in a subinterpreter with its own GIL and
	// the extension check on (cpython.IsolatedConfig).
	ModeIsolatedOwnGIL Mode = "isolated_own_gil"
)

// Modes lists every mode, from the most to the least permissive.
var Modes = []Mode{ModeMain, ModeLegacy, ModeIsolatedSharedGIL, ModeIsolatedOwnGIL}

// Status is the outcome of importing a module in one mode.
type Status string

// The statuses of a ModeResult.
const (
	StatusOK          Status = "ok"           // imported
	StatusImportError Status = "import_error" // ImportError other than "not found"
	StatusError       Status = "error"        // another exception, or the child failed otherwise
	StatusCrash       Status = "crash"        // the process died by a signal (Signal says which)
	StatusTimeout     Status = "timeout"      // no result within Options.Timeout
	StatusNotFound    Status = "not_found"    // ModuleNotFoundError for the module or a parent package
	// StatusSkipped: not run, because the module imported in a more
	// isolated mode, which decides its verdict (extension modules found
	// inside packages only; see Options.AllModes).
	StatusSkipped Status = "skipped"
)

// Verdict sums up the modes a module imports in.
type Verdict string

// The verdicts, from best to worst.
const (
	// VerdictOwnGIL: imports in own-GIL subinterpreters.
	VerdictOwnGIL Verdict = "own-gil"
	// VerdictSharedGILOnly: imports in isolated subinterpreters only when
	// they share the main GIL.
	VerdictSharedGILOnly Verdict = "shared-gil-only"
	// VerdictLegacyOnly: imports in subinterpreters only with the
	// extension check off (legacy config).
	VerdictLegacyOnly Verdict = "legacy-only"
	// VerdictMainOnly: imports in the main interpreter only.
	VerdictMainOnly Verdict = "main-only"
	// VerdictBroken: does not import even in the main interpreter.
	VerdictBroken Verdict = "broken"
	// VerdictNotFound: no such module in any mode. Kept apart from
	// broken: a misspelt name or a missing --path is not a property of a
	// module.
	VerdictNotFound Verdict = "not_found"
)

// Verdicts lists every verdict, from best to worst.
var Verdicts = []Verdict{VerdictOwnGIL, VerdictSharedGILOnly, VerdictLegacyOnly, VerdictMainOnly, VerdictBroken, VerdictNotFound}

// Kinds of module.
const (
	KindBuiltin   = "builtin"   // compiled into the Python binary (sys.builtin_module_names)
	KindExtension = "extension" // a shared library with an extension-module suffix
	KindPython    = "python"    // Python source or bytecode, a package, or frozen
)

// Init values: how an extension module initialises.
const (
	InitSinglePhase = "single-phase" // PyModule_Create in PyInit_*: no slots
	InitMultiPhase  = "multi-phase"  // PyModuleDef_Init with slots (PEP 489)
	InitNA          = "n/a"          // a Python module: no PyModuleDef
)

// Values of Module.MultipleInterpreters and Module.GIL besides the slot
// values themselves ("not_supported", "supported",
// "per_interpreter_gil_supported"; "used", "not_used").
const (
	SlotAbsent = "absent" // a multi-phase module without the slot
	SlotNA     = "n/a"    // single-phase or Python modules, which have no slots
)

// Report is the result of a check, as `subinterp compat --json` prints it.
type Report struct {
	// Python is the version of the CPython checked against ("3.13.15").
	Python string `json:"python"`
	// PythonBuild is "release" or "debug" (a --with-pydebug build).
	PythonBuild string `json:"python_build"`
	// Platform is sys.platform and the machine ("linux x86_64").
	Platform string `json:"platform,omitempty"`
	// Modules are sorted by name: every module checked, the extension
	// modules found inside packages included.
	Modules []Module `json:"modules"`
	// Packages are the top-level and named modules judged together with
	// the extension modules they ship (see Package), sorted by name; none
	// for --stdlib modules. With Options.Shallow they ship none.
	Packages []Package `json:"packages"`
	// Distributions group the packages by the installed distribution they
	// belong to (from .dist-info/.egg-info metadata), sorted by name;
	// broken metadata and requested distributions that are not installed
	// are here too, with Error set.
	Distributions []Distribution `json:"distributions"`
	// About is free text the caller added to the report (how and where it
	// was measured); "" for none.
	About string `json:"about,omitempty"`
	// Jobs is how many child processes ran at once; Seconds the wall time
	// of the whole check.
	Jobs    int     `json:"jobs"`
	Seconds float64 `json:"seconds"`
	// Generated is when the check finished (UTC).
	Generated time.Time `json:"generated"`
}

// Module is what was found out about one module.
type Module struct {
	Name string `json:"name"`
	// Kind is KindBuiltin, KindExtension or KindPython; "" if the module
	// imported in no mode.
	Kind string `json:"kind"`
	// Init is InitSinglePhase, InitMultiPhase or InitNA; "" if unknown.
	Init string `json:"init"`
	// MultipleInterpreters is the declared Py_mod_multiple_interpreters
	// value, SlotAbsent, SlotNA, or "" if unknown.
	MultipleInterpreters string `json:"multiple_interpreters"`
	// GIL is the declared Py_mod_gil value, SlotAbsent, SlotNA, or "" when
	// unknown or when the Python has no such slot (3.12).
	GIL string `json:"gil"`
	// File is the module's __file__, if it has one.
	File string `json:"file,omitempty"`
	// Preloaded: the module was in sys.modules before it was imported in
	// every mode that succeeded: the runtime creates it for each
	// interpreter (sys, builtins, ...).
	Preloaded bool `json:"preloaded,omitempty"`
	// Results has one entry per mode, keyed by Mode.
	Results map[Mode]ModeResult `json:"results"`
	// Package is the top-level or named module this one was checked for,
	// when it is an extension module found inside that package; "" for
	// the modules named or listed themselves.
	Package string `json:"package,omitempty"`
	// Technology is how an extension module was built, read from its file
	// (see Classify); "" for other modules.
	Technology Technology `json:"technology,omitempty"`
	// Verdict and Reason are derived from Results (see Judge).
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
	// Degraded: the module imports in its verdict's mode only because it
	// caught the failure of one of its extension modules there and went
	// on without it (a pure-Python fallback), which the main interpreter
	// did not need; Fallbacks says which.
	Degraded  bool             `json:"degraded,omitempty"`
	Fallbacks []ExtensionError `json:"fallbacks,omitempty"`
	// Seconds is the sum of the wall times of the module's four children.
	Seconds float64 `json:"seconds"`
}

// ModeResult is the outcome of importing a module in one mode.
type ModeResult struct {
	Status Status `json:"status"`
	// Message is the exception as CPython prints its last line
	// ("ImportError: module x does not support loading in
	// subinterpreters"), or what happened to the child process.
	Message string `json:"message"`
	// Signal names the signal a crashed child died of ("SIGSEGV").
	Signal string `json:"signal,omitempty"`
	// Seconds is the wall time of the child process.
	Seconds float64 `json:"seconds"`
	// Output is the end of what the child printed (stdout and stderr),
	// kept for crashes, timeouts and failed children.
	Output string `json:"output,omitempty"`
	// InferredFrom names the package whose own import failed in this
	// mode with this result: importing a module inside it imports it
	// first, so no child ran for this module (Seconds is 0).
	InferredFrom string `json:"inferred_from,omitempty"`
	// ExtensionErrors are the exceptions raised while loading extension
	// module files during the import, in order, whether the code that
	// imported them caught them or not.
	ExtensionErrors []ExtensionError `json:"extension_errors,omitempty"`
}

// ExtensionError is an exception raised by loading one extension module
// (CPython's create or exec step) during an import.
type ExtensionError struct {
	// Module is the extension module's dotted name.
	Module string `json:"module"`
	// Message is the exception as CPython prints its last line.
	Message string `json:"message"`
}

// Package is a module judged with every extension module it ships: the
// import of its own name alone says little when the package imports its
// extensions lazily or falls back to pure Python without them.
type Package struct {
	// Name is the module named or listed (a top-level name for --path and
	// --site-packages).
	Name string `json:"name"`
	// Distribution is the name of the installed distribution it belongs
	// to, if known.
	Distribution string `json:"distribution,omitempty"`
	// Imports is the verdict of importing Name itself, Degraded whether
	// that import fell back (see Module.Degraded).
	Imports  Verdict `json:"imports"`
	Degraded bool    `json:"degraded,omitempty"`
	// Extensions are the extension modules found in its files, checked
	// each on its own, sorted.
	Extensions []string `json:"extensions"`
	// Refusing counts the extensions whose verdict is worse than own-gil,
	// not counting those in Unimportable and Tests.
	Refusing int `json:"refusing"`
	// Unimportable are extensions that do not import even in the main
	// interpreter (an optional dependency missing, a test module): not
	// about subinterpreters, so they do not decide the verdict.
	Unimportable []string `json:"unimportable,omitempty"`
	// Tests are extensions that exist for the package's own test suite
	// (numpy._core._umath_tests): checked, but not what its users run, so
	// they do not decide the verdict either.
	Tests []string `json:"tests,omitempty"`
	// Verdict is the worst of Imports and the extensions' verdicts;
	// Decider the module it comes from (an extension wins a tie: it is the
	// one to fix), Reason that module's reason.
	Verdict Verdict `json:"verdict"`
	Decider string  `json:"decider"`
	Reason  string  `json:"reason"`
	// Summary is one line: "imports own-gil; 2 of 5 extension modules
	// refuse own GIL".
	Summary string `json:"summary"`
	// Technologies are the build technologies of its extensions.
	Technologies []Technology `json:"technologies,omitempty"`
}

// Distribution is an installed distribution and the verdict of the
// packages it installs.
type Distribution struct {
	// Name and Version are from its metadata ("numpy", "2.4.6").
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// Metadata is the .dist-info or .egg-info path it was read from.
	Metadata string `json:"metadata,omitempty"`
	// Packages are the names of its top-level modules that were checked.
	Packages []string `json:"packages"`
	// Verdict is the worst of its packages' verdicts, Degraded whether the
	// package deciding it falls back, Decider the module that decides it,
	// Reason that module's reason.
	Verdict  Verdict `json:"verdict,omitempty"`
	Degraded bool    `json:"degraded,omitempty"`
	Decider  string  `json:"decider,omitempty"`
	Reason   string  `json:"reason,omitempty"`
	// Summary is the deciding package's summary.
	Summary string `json:"summary,omitempty"`
	// Technologies are the build technologies of its extension modules,
	// DeciderTechnology that of the deciding module ("" if it is not an
	// extension module).
	Technologies      []Technology `json:"technologies,omitempty"`
	DeciderTechnology Technology   `json:"decider_technology,omitempty"`
	// Error says why the distribution could not be checked: its metadata
	// is broken, it installs no module found on disk, or (when asked for
	// by name) it is not installed. Verdict is empty then.
	Error string `json:"error,omitempty"`
}

// info is what a child learned about a module it imported (from the
// module's PyModuleDef), before Module's fields are filled from it.
type info struct {
	Kind      string
	Init      string
	Multi     string
	GIL       string
	File      string
	Preloaded bool
}
