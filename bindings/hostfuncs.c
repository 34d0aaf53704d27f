/* subinterp.host: Go functions registered with Runtime.RegisterFunc, looked
 * up by attribute (subinterp.host.name(*args)) and called through Go. */
#include "bindings.h"
#include "_cgo_export.h"

typedef struct {
    PyObject_HEAD
    PyObject *name; /* str */
} host_func_object;

static void host_func_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(((host_func_object *)self)->name);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyObject *host_func_call(PyObject *self, PyObject *args, PyObject *kwargs) {
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) > 0) {
        return PyErr_Format(PyExc_TypeError, "host function %U takes positional arguments only",
                            ((host_func_object *)self)->name);
    }
    return subinterpGoCallHost(((host_func_object *)self)->name, args);
}

static PyObject *host_func_repr(PyObject *self) {
    return PyUnicode_FromFormat("<Go host function %U>", ((host_func_object *)self)->name);
}

static PyType_Slot host_func_slots[] = {
    {Py_tp_doc, "A Go function registered with Runtime.RegisterFunc."},
    {Py_tp_dealloc, host_func_dealloc},
    {Py_tp_call, host_func_call},
    {Py_tp_repr, host_func_repr},
    {0, NULL},
};

static PyType_Spec host_func_spec = {
    .name = "subinterp._HostFunction",
    .basicsize = sizeof(host_func_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = host_func_slots,
};

/* is_dunder reports whether name is a __special__ name. Those are Python's
 * (__class__, __dir__, __reduce_ex__ ... are looked up on this object), so
 * Go refuses to register them and they are never asked for. */
static int is_dunder(PyObject *name) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    return n > 4 && PyUnicode_READ_CHAR(name, 0) == '_' && PyUnicode_READ_CHAR(name, 1) == '_' &&
           PyUnicode_READ_CHAR(name, n - 2) == '_' && PyUnicode_READ_CHAR(name, n - 1) == '_';
}

/* The namespace object: attribute lookup asks Go whether the name is
 * registered, so functions registered later are found too. Registered
 * names come first: the object has no attributes of its own but dunders. */
static PyObject *host_funcs_getattro(PyObject *self, PyObject *name) {
    if (PyUnicode_Check(name) && PyUnicode_GET_LENGTH(name) > 0 && !is_dunder(name)) {
        int known = subinterpGoHasHost(name);
        if (known < 0) {
            return NULL;
        }
        if (known) {
            module_state *st = (module_state *)PyType_GetModuleState(Py_TYPE(self));
            host_func_object *f = PyObject_New(host_func_object, st->host_func_type);
            if (f == NULL) {
                return NULL;
            }
            f->name = Py_NewRef(name);
            return (PyObject *)f;
        }
    }
    PyObject *v = PyObject_GenericGetAttr(self, name);
    if (v == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
        PyErr_Format(PyExc_AttributeError, "no Go host function %R is registered (Runtime.RegisterFunc)", name);
    }
    return v;
}

static PyObject *host_funcs_dir(PyObject *self, PyObject *unused) { return subinterpGoHostNames(); }

static void host_funcs_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyMethodDef host_funcs_methods[] = {
    {"__dir__", host_funcs_dir, METH_NOARGS, "The names of the registered host functions."},
    {NULL},
};

static PyType_Slot host_funcs_slots[] = {
    {Py_tp_doc, "Go functions registered with Runtime.RegisterFunc: subinterp.host.name(*args)."},
    {Py_tp_dealloc, host_funcs_dealloc},
    {Py_tp_getattro, host_funcs_getattro},
    {Py_tp_methods, host_funcs_methods},
    {0, NULL},
};

static PyType_Spec host_funcs_spec = {
    .name = "subinterp._HostFunctions",
    .basicsize = sizeof(PyObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = host_funcs_slots,
};

int si_hostfuncs_exec(PyObject *module, module_state *st) {
    st->host_func_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &host_func_spec, NULL);
    if (st->host_func_type == NULL) {
        return -1;
    }
    st->host_funcs_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &host_funcs_spec, NULL);
    if (st->host_funcs_type == NULL) {
        return -1;
    }
    PyObject *host = PyObject_New(PyObject, st->host_funcs_type);
    if (host == NULL) {
        return -1;
    }
    int rc = PyModule_AddObjectRef(module, "host", host); /* PyModule_Add is 3.13+ */
    Py_DECREF(host);
    return rc;
}
