/* Shared by cpython/ and bindings/: the CPython include, a version guard,
 * and shims for C-API macros that cgo cannot call directly. */
#ifndef SUBINTERP_H
#define SUBINTERP_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX < 0x030C0000
#error "subinterp needs CPython >= 3.12 (per-interpreter GIL, PEP 684); run scripts/python.sh"
#endif

static inline PyObject *si_none(void) { return Py_None; }
static inline PyObject *si_true(void) { return Py_True; }
static inline PyObject *si_false(void) { return Py_False; }
static inline void si_incref(PyObject *o) { Py_INCREF(o); }
static inline void si_decref(PyObject *o) { Py_DECREF(o); }
static inline void si_xdecref(PyObject *o) { Py_XDECREF(o); }
static inline PyObject *si_pair(PyObject *a, PyObject *b) { return PyTuple_Pack(2, a, b); }

static inline int si_is_debug_build(void) {
#ifdef Py_DEBUG
    return 1;
#else
    return 0;
#endif
}

/* The PyInterpreterConfig "gil" values are macros. */
static inline int si_gil_own(void) { return PyInterpreterConfig_OWN_GIL; }
static inline int si_gil_shared(void) { return PyInterpreterConfig_SHARED_GIL; }

#endif /* SUBINTERP_H */
