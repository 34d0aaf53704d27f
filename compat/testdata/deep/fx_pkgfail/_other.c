/* fx_pkgfail._other: multi-phase init declaring per-interpreter GIL support. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static int exec_module(PyObject *m) { return PyModule_AddIntConstant(m, "answer", 42); }

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
    {0, NULL},
};

static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, .m_name = "fx_pkgfail._other", .m_slots = slots};

PyMODINIT_FUNC PyInit__other(void) { return PyModuleDef_Init(&def); }
