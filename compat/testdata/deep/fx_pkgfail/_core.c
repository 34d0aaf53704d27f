/* fx_pkgfail._core: multi-phase init without a
   Py_mod_multiple_interpreters slot: shared GIL only. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *answer(PyObject *self, PyObject *unused) { return PyLong_FromLong(42); }

static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};

static int exec_module(PyObject *m) { return 0; }

static PyModuleDef_Slot slots[] = {{Py_mod_exec, exec_module}, {0, NULL}};

static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, .m_name = "fx_pkgfail._core", .m_methods = methods, .m_slots = slots};

PyMODINIT_FUNC PyInit__core(void) { return PyModuleDef_Init(&def); }
