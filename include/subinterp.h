/* Shared by cpython/ and bindings/: the CPython include, a version guard,
 * and shims for C-API macros that cgo cannot call directly. */
#ifndef SUBINTERP_H
#define SUBINTERP_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Too old a CPython: the error names the version found (an #error's text
 * is not macro-expanded, an array's name is) and the compiler prints this
 * line with it, fix included. */
#if PY_VERSION_HEX < 0x030C0000
#define SI_OLD_NAME(major, minor) subinterp_needs_CPython_3_12_or_newer_but_pkg_config_python3_embed_gave_CPython_##major##_##minor
#define SI_OLD(major, minor) SI_OLD_NAME(major, minor)
typedef char SI_OLD(PY_MAJOR_VERSION, PY_MINOR_VERSION)[-1]; /* Fix: eval "$(bash "$(go list -m -f '{{.Dir}}' github.com/subinterp/subinterp)/scripts/python.sh")" before go build: it builds CPython 3.13 into ~/.cache/subinterp once (or set SUBINTERP_PYTHON_PREFIX=/usr for it with Debian's python3.12-dev or newer) */
#endif

/* A free-threaded CPython (PEP 703: configured with --disable-gil, ABI "t",
 * python3.13t) is refused here, at build time, rather than failing at run
 * time. In that build each interpreter still has its own GIL structure, but
 * it is switched off: attaching a thread state excludes no other thread.
 * subinterp's own protocols rely on that exclusion (the pinned thread and
 * interrupters share running[] "only under the interpreter's GIL", see
 * docs/internals.md; bindings release and re-take the GIL around every wait
 * in Go), and its Python module, which declares no Py_mod_gil slot, would
 * switch the GIL back on, with a warning, at its first import. The fix is a
 * default (GIL) build; to compare the two, `subinterp bench` runs the same
 * workloads in python3.13t (its threads-free-threaded mode). */
#ifdef Py_GIL_DISABLED
#error "subinterp cannot be built against a free-threaded CPython (--disable-gil, Py_GIL_DISABLED, python3.Xt): subinterp needs the per-interpreter GIL (PEP 684) that build switches off. Fix: eval \"$(scripts/python.sh)\" for a default (GIL) build; to compare with free-threading, run subinterp bench, whose threads-free-threaded mode runs in python3.13t (scripts/python.sh --free-threaded builds it)"
#endif

static inline void si_decref(PyObject *o) { Py_DECREF(o); }
static inline void si_xdecref(PyObject *o) { Py_XDECREF(o); }
static inline PyObject *si_pair(PyObject *a, PyObject *b) { return PyTuple_Pack(2, a, b); }
static inline PyObject *si_none(void) { return Py_NewRef(Py_None); }
static inline PyObject *si_info_triple(long long a, long long b, int flag) {
    return Py_BuildValue("(LLO)", a, b, flag ? Py_True : Py_False);
}

static inline int si_is_debug_build(void) {
#ifdef Py_DEBUG
    return 1;
#else
    return 0;
#endif
}

/* ---- Thread states and the GIL -------------------------------------------
 * Every attach, detach and GIL release in subinterp goes through these five
 * names (cpython/lifecycle.c builds the create, run and end sequences from
 * them; bindings releases the GIL around waits in Go). In a --with-pydebug
 * build each checks its precondition and stops the process with a message
 * naming the broken rule, as CPython's own asserts do; in a release build
 * they cost nothing beyond the CPython call. */

/* The calling OS thread's current thread state, or NULL when none is
 * attached (no GIL held). */
static inline PyThreadState *si_current_tstate(void) {
#if PY_VERSION_HEX >= 0x030D0000
    return PyThreadState_GetUnchecked();
#else
    return _PyThreadState_UncheckedGet();
#endif
}

/* si_assert_attached: the caller holds the GIL of interp (of any
 * interpreter when interp is NULL). */
static inline void si_assert_attached(PyInterpreterState *interp) {
#ifdef Py_DEBUG
    PyThreadState *t = si_current_tstate();
    if (t == NULL) {
        Py_FatalError("subinterp: called without a thread state attached (the GIL is not held)");
    }
    if (interp != NULL && PyThreadState_GetInterpreter(t) != interp) {
        Py_FatalError("subinterp: called with another interpreter's thread state attached");
    }
#else
    (void)interp;
#endif
}

/* si_assert_detached: the calling thread holds no GIL. */
static inline void si_assert_detached(void) {
#ifdef Py_DEBUG
    if (si_current_tstate() != NULL) {
        Py_FatalError("subinterp: called with a thread state attached (the GIL is held)");
    }
#endif
}

/* si_tstate_attach makes ts current on the calling thread, taking its
 * interpreter's GIL. */
static inline void si_tstate_attach(PyThreadState *ts) {
    si_assert_detached();
    PyEval_RestoreThread(ts);
}

/* si_tstate_detach releases the GIL and detaches the current thread state,
 * which it returns (for si_tstate_attach, or to let Python threads run
 * while the caller waits in Go). */
static inline PyThreadState *si_tstate_detach(void) {
    si_assert_attached(NULL);
    return PyEval_SaveThread();
}

/* The PyInterpreterConfig "gil" values are macros. */
static inline int si_gil_own(void) { return PyInterpreterConfig_OWN_GIL; }
static inline int si_gil_shared(void) { return PyInterpreterConfig_SHARED_GIL; }

#endif /* SUBINTERP_H */
