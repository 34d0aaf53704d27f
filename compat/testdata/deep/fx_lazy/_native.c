/* fx_lazy._native: single-phase init, so only legacy subinterpreters take it. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, .m_name = "fx_lazy._native", .m_size = -1};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&def); }
