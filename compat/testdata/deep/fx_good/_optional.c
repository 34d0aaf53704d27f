/* fx_good._optional: refuses to load everywhere, as an extension does whose
   optional library is missing. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static int exec_module(PyObject *m) {
    PyErr_SetString(PyExc_ImportError, "fx_good._optional needs libfxoptional, which is not installed");
    return -1;
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
    {0, NULL},
};

static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, .m_name = "fx_good._optional", .m_slots = slots};

PyMODINIT_FUNC PyInit__optional(void) { return PyModuleDef_Init(&def); }
