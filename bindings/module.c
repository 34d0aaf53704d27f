/* The builtin `subinterp` module: multi-phase init, every type a heap type
 * created per module, all state in module state, so it imports in own-GIL
 * interpreters with check_multi_interp_extensions on. */
#include "bindings.h"
#include "_cgo_export.h"
#include <stdio.h>
#include <string.h>


static module_state *state_of(PyObject *module) {
    return (module_state *)PyModule_GetState(module);
}

/* si_state returns this interpreter's module state (importing the module
 * if needed), or NULL with an exception set. The module stays referenced by
 * sys.modules, so the state outlives the call. */
module_state *si_state(void) {
    PyObject *m = si_module();
    if (m == NULL) {
        return NULL;
    }
    module_state *st = state_of(m);
    Py_DECREF(m);
    return st;
}

static const char *exc_names[SI_EXC_COUNT] = {
    "ChannelError", "ChannelNotFoundError", "ChannelEmptyError", "ChannelNotEmptyError",
    "NotReceivedError", "ChannelClosedError", "ChannelFullError", "NotShareableError",
};

/* si_raise sets the exception kind (enum si_exc) with message msg. */
void si_raise(int kind, const char *msg) {
    PyObject *type = NULL;
    switch (kind) {
    case SI_EXC_TIMEOUT:
        type = PyExc_TimeoutError;
        break;
    case SI_EXC_INTERRUPTED:
        type = PyExc_KeyboardInterrupt;
        break;
    case SI_EXC_RUNTIME:
        type = PyExc_RuntimeError;
        break;
    case SI_EXC_VALUE:
        type = PyExc_ValueError;
        break;
    case SI_EXC_TYPE:
        type = PyExc_TypeError;
        break;
    default: {
        module_state *st = si_state();
        if (st == NULL) {
            return;
        }
        type = (kind >= 0 && kind < SI_EXC_COUNT && st->exc[kind]) ? st->exc[kind] : PyExc_RuntimeError;
    }
    }
    PyErr_SetString(type, msg);
}

/* utf8 decodes text from Go, replacing bytes that are not UTF-8 (a Go
 * error message need not be). */
static PyObject *utf8(const char *s) { return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace"); }

/* si_raise_run_failed raises RunFailedError for code that failed in another
 * interpreter; its __cause__ is a RemoteError carrying the original
 * exception's type name, message and traceback text (objects cannot cross
 * interpreters, their description can). If either exception cannot be made
 * (Python code may have replaced their __init__) a plain RuntimeError with
 * the same text is raised, the failure as its __context__; a MemoryError
 * propagates as it is. */
PyObject *si_raise_run_failed(const char *type, const char *msg, const char *tb) {
    module_state *st = si_state();
    if (st == NULL) {
        return NULL;
    }
    PyObject *t = utf8(type);
    PyObject *m = t ? utf8(msg) : NULL;
    PyObject *b = m ? utf8(tb) : NULL;
    PyObject *text = b ? PyUnicode_FromFormat("%U: %U", t, m) : NULL;
    PyObject *cause = text ? PyObject_CallFunctionObjArgs((PyObject *)st->remote_error_type, t, m, b, NULL) : NULL;
    PyObject *exc = cause ? PyObject_CallOneArg(st->run_failed_error, text) : NULL;
    Py_XDECREF(t);
    Py_XDECREF(m);
    Py_XDECREF(b);
    if (exc == NULL && text != NULL && !PyErr_ExceptionMatches(PyExc_MemoryError)) {
        PyObject *why = PyErr_GetRaisedException();
        exc = PyObject_CallOneArg(PyExc_RuntimeError, text);
        if (exc != NULL) {
            PyException_SetContext(exc, why); /* steals why */
        } else {
            Py_XDECREF(why);
        }
    }
    Py_XDECREF(text);
    if (exc == NULL) {
        Py_XDECREF(cause);
        return NULL;
    }
    if (cause != NULL) {
        PyException_SetCause(exc, cause); /* steals cause */
    }
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

extern struct PyModuleDef si_module_def;

/* si_module returns a new reference to this interpreter's subinterp module,
 * importing it if needed (sys.modules first: the import machinery costs
 * microseconds, and the codec asks on every pickled object). */
PyObject *si_module(void) {
    /* sys.modules itself, not PyImport_GetModule, which also asks the
     * module's __spec__ whether it is still initializing: this runs for
     * every value the codec pickles and every error it raises, and a C
     * module is never half-initialized there. */
    PyObject *m = Py_XNewRef(PyDict_GetItemString(PyImport_GetModuleDict(), "subinterp"));
    if (m != NULL && PyModule_Check(m) && PyModule_GetDef(m) == &si_module_def) {
        return m;
    }
    /* Not imported yet, or sys.modules holds something else (None blocks
     * the import): the import machinery says what is wrong. */
    Py_XDECREF(m);
    if (PyErr_Occurred()) {
        return NULL;
    }
    return PyImport_ImportModule("subinterp");
}

/* si_pickle_func returns (borrowed, kept in module state) pickle.dumps, or
 * pickle.loads with loads set. */
PyObject *si_pickle_func(int loads) {
    module_state *st = si_state();
    if (st == NULL) {
        return NULL;
    }
    PyObject **slot = loads ? &st->pickle_loads : &st->pickle_dumps;
    if (*slot == NULL) {
        PyObject *pickle = PyImport_ImportModule("pickle");
        if (pickle == NULL) {
            return NULL;
        }
        *slot = PyObject_GetAttrString(pickle, loads ? "loads" : "dumps");
        Py_DECREF(pickle);
    }
    return *slot;
}

/* ---- Interpreter ---------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    int64_t id;
    int isolated;
} interpreter_object;

/* si_new_interpreter_object returns the Interpreter object for id: made by
 * the PEP 734 layer's class when it is loaded (which keeps one object per
 * id), else a new object of the base type. */
PyObject *si_new_interpreter_object(PyObject *module, int64_t id, int isolated) {
    module_state *st = state_of(module);
    if (st->interp_class != NULL) {
        PyObject *pyid = PyLong_FromLongLong(id);
        if (pyid == NULL) {
            return NULL;
        }
        PyObject *obj = PyObject_CallOneArg(st->interp_class, pyid);
        Py_DECREF(pyid);
        return obj;
    }
    interpreter_object *self = (interpreter_object *)st->interpreter_type->tp_alloc(st->interpreter_type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->id = id;
    self->isolated = isolated;
    subinterpGoInterpRef(id, 1);
    return (PyObject *)self;
}

/* Interpreter(id): the object for an existing interpreter.
 * InterpreterNotFoundError when there is none, ValueError for a negative
 * id. Subclasses (the PEP 734 layer's) call it through super().__new__. */
static PyObject *interpreter_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"", NULL};
    PyObject *pyid;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:Interpreter", kwlist, &pyid)) {
        return NULL;
    }
    if (!PyLong_Check(pyid)) {
        return PyErr_Format(PyExc_TypeError, "id must be an int, got %.100s", Py_TYPE(pyid)->tp_name);
    }
    long long id = PyLong_AsLongLong(pyid);
    if (id == -1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            return PyErr_Format(PyExc_ValueError, "interpreter id %R out of range", pyid);
        }
        return NULL;
    }
    if (id < 0) {
        return PyErr_Format(PyExc_ValueError, "interpreter id must be a non-negative int, got %lld", id);
    }
    int isolated = subinterpGoIsolated(id);
    if (isolated < 0) {
        char msg[80];
        snprintf(msg, sizeof msg, "interpreter %lld not found", id);
        si_raise(SI_EXC_INTERP_NOT_FOUND, msg);
        return NULL;
    }
    interpreter_object *self = (interpreter_object *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->id = id;
    self->isolated = isolated;
    subinterpGoInterpRef(id, 1);
    return (PyObject *)self;
}

static void interpreter_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    /* The last object of an interpreter Python created closes it. */
    subinterpGoInterpRef(((interpreter_object *)self)->id, -1);
    tp->tp_free(self);
    Py_DECREF(tp);
}

extern struct PyModuleDef si_module_def;

/* is_interpreter reports whether obj is an Interpreter of this module (or of
 * a subclass). */
static int is_interpreter(PyObject *obj) {
    PyObject *mod = PyType_GetModuleByDef(Py_TYPE(obj), &si_module_def);
    if (mod == NULL) {
        PyErr_Clear();
        return 0;
    }
    return PyObject_TypeCheck(obj, state_of(mod)->interpreter_type);
}

static PyObject *interpreter_repr(PyObject *self) {
    interpreter_object *o = (interpreter_object *)self;
    return PyUnicode_FromFormat("subinterp.Interpreter(id=%lld, isolated=%s)", (long long)o->id,
                                o->isolated ? "True" : "False");
}

static Py_hash_t interpreter_hash(PyObject *self) {
    Py_hash_t h = (Py_hash_t)((interpreter_object *)self)->id;
    return h == -1 ? -2 : h;
}

static PyObject *interpreter_richcompare(PyObject *a, PyObject *b, int op) {
    /* Objects of the base type and of the PEP 734 subclass compare by id. */
    if ((op != Py_EQ && op != Py_NE) || !is_interpreter(a) || !is_interpreter(b)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    int eq = ((interpreter_object *)a)->id == ((interpreter_object *)b)->id;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyObject *interpreter_get_id(PyObject *self, void *closure) {
    return PyLong_FromLongLong(((interpreter_object *)self)->id);
}

static PyObject *interpreter_get_isolated(PyObject *self, void *closure) {
    return PyBool_FromLong(((interpreter_object *)self)->isolated);
}

static PyObject *interpreter_is_running(PyObject *self, PyObject *unused) {
    int r = subinterpGoIsRunning(((interpreter_object *)self)->id);
    if (r < 0) {
        return NULL;
    }
    return PyBool_FromLong(r);
}

static PyObject *interpreter_close(PyObject *self, PyObject *unused) {
    if (subinterpGoClose(((interpreter_object *)self)->id) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *interpreter_run(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"", "channels", NULL};
    PyObject *src, *channels = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$O:run", kwlist, &src, &channels)) {
        return NULL;
    }
    if (!PyUnicode_Check(src)) {
        return PyErr_Format(PyExc_TypeError, "run() source must be a str, not %.100s", Py_TYPE(src)->tp_name);
    }
    Py_ssize_t srclen;
    const char *text = PyUnicode_AsUTF8AndSize(src, &srclen);
    if (text == NULL) {
        return NULL;
    }
    PyObject *bind = NULL;
    if (channels != Py_None) {
        if (!PyDict_Check(channels)) {
            return PyErr_Format(PyExc_ValueError, "channels must be a dict of names to channel ends, not %.100s",
                                Py_TYPE(channels)->tp_name);
        }
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        unsigned char kind;
        int64_t id;
        while (PyDict_Next(channels, &pos, &k, &v)) {
            if (!PyUnicode_Check(k)) {
                return PyErr_Format(PyExc_ValueError, "channel names must be str, not %.100s", Py_TYPE(k)->tp_name);
            }
            if (!si_channel_end(v, &kind, &id)) {
                return PyErr_Format(PyExc_ValueError, "channels[%R] is a %.100s, not a channel end", k,
                                    Py_TYPE(v)->tp_name);
            }
        }
        bind = channels;
    }
    if (subinterpGoRun(((interpreter_object *)self)->id, (char *)text, srclen, bind) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef interpreter_methods[] = {
    {"is_running", interpreter_is_running, METH_NOARGS, "Return whether the interpreter is running code."},
    {"close", interpreter_close, METH_NOARGS,
     "End the interpreter. Fails with RuntimeError if it is running, is the current one or the main one."},
    {"run", (PyCFunction)(void (*)(void))interpreter_run, METH_VARARGS | METH_KEYWORDS,
     "run(src, /, *, channels=None)\n--\n\nRun src in the interpreter's __main__, on its own thread, "
     "and wait (this interpreter's GIL released). channels maps names to channel ends bound in "
     "__main__ first. An uncaught exception raises RunFailedError."},
    {NULL},
};

static PyGetSetDef interpreter_getset[] = {
    {"id", interpreter_get_id, NULL, "The interpreter's id, the same in every interpreter.", NULL},
    {"isolated", interpreter_get_isolated, NULL, "Whether the interpreter has its own GIL.", NULL},
    {NULL},
};

static PyType_Slot interpreter_slots[] = {
    {Py_tp_doc, "Interpreter(id)\n--\n\nAn interpreter of this process (see subinterp.list_all())."},
    {Py_tp_new, interpreter_new},
    {Py_tp_dealloc, interpreter_dealloc},
    {Py_tp_repr, interpreter_repr},
    {Py_tp_hash, interpreter_hash},
    {Py_tp_richcompare, interpreter_richcompare},
    {Py_tp_getset, interpreter_getset},
    {Py_tp_methods, interpreter_methods},
    {0, NULL},
};

/* A base type: subinterp.interpreters.Interpreter (PEP 734) extends it, so
 * that one object serves both APIs. */
static PyType_Spec interpreter_spec = {
    .name = "subinterp.Interpreter",
    .basicsize = sizeof(interpreter_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = interpreter_slots,
};

/* ---- _Writer: sys.stdout/sys.stderr that write to a Go io.Writer ----- */

typedef struct {
    PyObject_HEAD
    uintptr_t handle; /* a cgo.Handle of the io.Writer */
} writer_object;

/* The writer owns its handle: Python code may keep sys.stdout (a logging
 * handler, say) long after the call that set it returned. */
static void writer_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    subinterpGoWriterFree(((writer_object *)self)->handle);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyObject *writer_write(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        return PyErr_Format(PyExc_TypeError, "write() argument must be str, not %.100s", Py_TYPE(arg)->tp_name);
    }
    PyObject *bytes = PyUnicode_AsEncodedString(arg, "utf-8", "backslashreplace");
    if (bytes == NULL) {
        return NULL;
    }
    char *err = NULL;
    int rc;
    PyThreadState *ts = si_tstate_detach(); /* the io.Writer may block */
    rc = subinterpGoWrite(((writer_object *)self)->handle, PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes), &err);
    si_tstate_attach(ts);
    Py_DECREF(bytes);
    if (rc == 1) {
        PyErr_SetString(PyExc_ValueError,
                        "I/O operation on closed file (the Go call that provided this stream has returned)");
        return NULL;
    }
    if (rc != 0) {
        PyErr_Format(PyExc_OSError, "write to Go writer failed: %s", err ? err : "?");
        free(err);
        return NULL;
    }
    return PyLong_FromSsize_t(PyUnicode_GET_LENGTH(arg));
}

static PyObject *writer_flush(PyObject *self, PyObject *unused) { Py_RETURN_NONE; }
static PyObject *writer_true(PyObject *self, PyObject *unused) { Py_RETURN_TRUE; }
static PyObject *writer_false(PyObject *self, PyObject *unused) { Py_RETURN_FALSE; }
static PyObject *writer_encoding(PyObject *self, void *closure) { return PyUnicode_FromString("utf-8"); }

static PyMethodDef writer_methods[] = {
    {"write", writer_write, METH_O, "Write a str to the Go io.Writer."},
    {"flush", writer_flush, METH_NOARGS, "Nothing to flush: writes are not buffered."},
    {"writable", writer_true, METH_NOARGS, NULL},
    {"isatty", writer_false, METH_NOARGS, NULL},
    {NULL},
};

static PyGetSetDef writer_getset[] = {
    {"encoding", writer_encoding, NULL, NULL, NULL},
    {NULL},
};

static PyType_Slot writer_slots[] = {
    {Py_tp_dealloc, writer_dealloc},
    {Py_tp_methods, writer_methods},
    {Py_tp_getset, writer_getset},
    {0, NULL},
};

static PyType_Spec writer_spec = {
    .name = "subinterp._Writer",
    .basicsize = sizeof(writer_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = writer_slots,
};

static PyObject *new_writer(module_state *st, uintptr_t handle) {
    writer_object *w = PyObject_New(writer_object, st->writer_type);
    if (w != NULL) {
        w->handle = handle;
    }
    return (PyObject *)w;
}

/* si_redirect points sys.stdout / sys.stderr at Go writers (handle 0 keeps
 * a stream as it is) and returns, in *saved, what to put back. A writer
 * object owns the handle it was made with from then on (its deallocator
 * frees it, whatever fails afterwards), and *adopted says which ones were
 * taken (SI_ADOPTED_OUT, SI_ADOPTED_ERR): the caller frees the others, so
 * that every path frees each handle exactly once. */
int si_redirect(uintptr_t out, uintptr_t err, PyObject **saved, int *adopted) {
    si_assert_attached(NULL);
    *saved = NULL;
    *adopted = 0;
    PyObject *m = si_module();
    if (m == NULL) {
        return -1;
    }
    module_state *st = state_of(m);
    PyObject *old_out = PySys_GetObject("stdout"), *old_err = PySys_GetObject("stderr");
    PyObject *prev = Py_BuildValue("(OO)", old_out ? old_out : Py_None, old_err ? old_err : Py_None);
    PyObject *wout = NULL, *werr = NULL;
    int rc = prev ? 0 : -1;
    if (rc == 0 && out) {
        wout = new_writer(st, out);
        if (wout != NULL) {
            *adopted |= SI_ADOPTED_OUT;
        } else {
            rc = -1;
        }
    }
    if (rc == 0 && err) {
        werr = new_writer(st, err);
        if (werr != NULL) {
            *adopted |= SI_ADOPTED_ERR;
        } else {
            rc = -1;
        }
    }
    if (rc == 0 && wout != NULL) {
        rc = PySys_SetObject("stdout", wout);
    }
    if (rc == 0 && werr != NULL) {
        rc = PySys_SetObject("stderr", werr);
    }
    Py_XDECREF(wout);
    Py_XDECREF(werr);
    Py_DECREF(m);
    if (rc < 0) {
        si_restore_output(prev);
        return -1;
    }
    *saved = prev;
    return 0;
}

/* si_restore_output undoes si_redirect and releases saved, keeping any
 * pending exception. */
void si_restore_output(PyObject *saved) {
    if (saved == NULL) {
        return;
    }
    PyObject *exc = PyErr_GetRaisedException();
    if (PySys_SetObject("stdout", PyTuple_GET_ITEM(saved, 0)) < 0 ||
        PySys_SetObject("stderr", PyTuple_GET_ITEM(saved, 1)) < 0) {
        PyErr_Clear();
    }
    Py_DECREF(saved);
    PyErr_SetRaisedException(exc);
}

/* ---- module functions ---------------------------------------------- */

static PyObject *current_interpreter(PyObject *module) {
    int64_t id = PyInterpreterState_GetID(PyInterpreterState_Get());
    int isolated = subinterpGoIsolated(id);
    return si_new_interpreter_object(module, id, isolated > 0);
}

static PyObject *mod_get_current(PyObject *module, PyObject *unused) {
    return current_interpreter(module);
}

static PyObject *mod_get_main(PyObject *module, PyObject *unused) {
    int64_t id = PyInterpreterState_GetID(PyInterpreterState_Main());
    return si_new_interpreter_object(module, id, subinterpGoIsolated(id) > 0);
}

static PyObject *mod_list_all(PyObject *module, PyObject *unused) {
    return subinterpGoListAll(module);
}

static PyObject *mod_is_shareable(PyObject *module, PyObject *obj) {
    PyObject *side = NULL;
    Py_ssize_t n = si_encoded_size(obj, 0, &side);
    if (n == SI_ERR_NOT_SHAREABLE) {
        PyErr_Clear();
        Py_RETURN_FALSE;
    }
    if (n < 0) {
        return NULL;
    }
    Py_XDECREF(side);
    Py_RETURN_TRUE;
}

static PyObject *mod_create(PyObject *module, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"isolated", NULL};
    int isolated = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$p:create", kwlist, &isolated)) {
        return NULL;
    }
    int64_t id = subinterpGoCreate(isolated);
    if (id < 0) {
        return NULL;
    }
    PyObject *obj = si_new_interpreter_object(module, id, isolated);
    if (obj == NULL) {
        subinterpGoInterpRef(id, 0); /* no object owns it: close it */
    }
    return obj;
}

/* mod_module_def is the private _module_def(module) that `subinterp compat`
 * uses to read how an imported module initialises from its PyModuleDef, as
 * the import machinery saw it, instead of guessing from its behaviour.
 * None for objects without a def: Python modules, and whatever non-module
 * object a Py_mod_create slot returned. Otherwise a dict: multi_phase (the
 * def has slots), multiple_interpreters and gil (the declared slot values,
 * None when the slot is absent), m_size. */
static PyObject *mod_module_def(PyObject *module, PyObject *obj) {
    if (!PyModule_Check(obj)) {
        Py_RETURN_NONE;
    }
    PyModuleDef *def = PyModule_GetDef(obj);
    if (def == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    const char *multi = NULL, *gil = NULL;
    for (PyModuleDef_Slot *s = def->m_slots; s != NULL && s->slot != 0; s++) {
        if (s->slot == Py_mod_multiple_interpreters) {
            multi = s->value == Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED ? "not_supported"
                    : s->value == Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED   ? "supported"
                    : s->value == Py_MOD_PER_INTERPRETER_GIL_SUPPORTED     ? "per_interpreter_gil_supported"
                                                                           : "unknown";
        }
#ifdef Py_mod_gil /* 3.13+ */
        else if (s->slot == Py_mod_gil) {
            gil = s->value == Py_MOD_GIL_NOT_USED ? "not_used" : s->value == Py_MOD_GIL_USED ? "used" : "unknown";
        }
#endif
    }
    return Py_BuildValue("{s:O,s:z,s:z,s:n}", "multi_phase", def->m_slots != NULL ? Py_True : Py_False,
                         "multiple_interpreters", multi, "gil", gil, "m_size", def->m_size);
}

/* ---- private functions of the PEP 734 layer (subinterp.interpreters) -- */

static int64_t parse_id(PyObject *arg) {
    if (!PyLong_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "id must be an int, not %.100s", Py_TYPE(arg)->tp_name);
        return -1;
    }
    long long id = PyLong_AsLongLong(arg);
    if (id < 0 && !PyErr_Occurred()) {
        PyErr_Format(PyExc_ValueError, "id must be >= 0, not %lld", id);
    }
    return PyErr_Occurred() ? -1 : id;
}

static PyObject *mod_set_interpreter_class(PyObject *module, PyObject *cls) {
    module_state *st = state_of(module);
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, st->interpreter_type)) {
        return PyErr_Format(PyExc_TypeError, "%R is not a subclass of subinterp.Interpreter", cls);
    }
    Py_XSETREF(st->interp_class, Py_NewRef(cls));
    Py_RETURN_NONE;
}

static PyObject *mod_whence(PyObject *module, PyObject *arg) {
    int64_t id = parse_id(arg);
    if (id < 0) {
        return NULL;
    }
    static const char *names[] = {"runtime", "stdlib", "capi"};
    int w = subinterpGoWhence(id);
    if (w < 0 || w > 2) {
        char msg[80];
        snprintf(msg, sizeof msg, "interpreter %lld not found", (long long)id);
        si_raise(SI_EXC_INTERP_NOT_FOUND, msg);
        return NULL;
    }
    return PyUnicode_FromString(names[w]);
}

static PyObject *mod_interp_exists(PyObject *module, PyObject *arg) {
    int64_t id = parse_id(arg);
    if (id < 0) {
        return NULL;
    }
    return PyBool_FromLong(subinterpGoIsolated(id) >= 0);
}

static PyObject *mod_current_id(PyObject *module, PyObject *unused) {
    return PyLong_FromLongLong(PyInterpreterState_GetID(PyInterpreterState_Get()));
}

/* _call(id, "mod.func", args) calls mod.func(*args) in interpreter id, on
 * its own thread, and returns the result: args and the result are shared,
 * or pickled when they are not shareable (NotShareableError when that fails
 * too). An exception in the target raises RunFailedError, as run() does. */
static PyObject *mod_call(PyObject *module, PyObject *args) {
    PyObject *pyid, *fn, *argv;
    if (!PyArg_ParseTuple(args, "OUO!:_call", &pyid, &fn, &PyTuple_Type, &argv)) {
        return NULL;
    }
    int64_t id = parse_id(pyid);
    if (id < 0) {
        return NULL;
    }
    return subinterpGoCall(id, fn, argv);
}

static PyObject *mod_by_reference(PyObject *module, PyObject *obj) {
    return PyBool_FromLong(si_by_reference(obj));
}

static PyObject *mod_source(PyObject *module, PyObject *name) {
    if (!PyUnicode_Check(name)) {
        return PyErr_Format(PyExc_TypeError, "name must be a str, not %.100s", Py_TYPE(name)->tp_name);
    }
    return subinterpGoSource(name, 0);
}

static PyObject *mod_is_package(PyObject *module, PyObject *name) {
    if (!PyUnicode_Check(name)) {
        return PyErr_Format(PyExc_TypeError, "name must be a str, not %.100s", Py_TYPE(name)->tp_name);
    }
    return subinterpGoSource(name, 1);
}

/* _channel_ends(id): new bound ends of an existing channel. */
static PyObject *mod_channel_ends(PyObject *module, PyObject *arg) {
    int64_t id = parse_id(arg);
    if (id < 0) {
        return NULL;
    }
    module_state *st = state_of(module);
    PyObject *r = si_new_end(st, 'r', id, 1);
    PyObject *s = r ? si_new_end(st, 'w', id, 1) : NULL;
    PyObject *pair = s ? PyTuple_Pack(2, r, s) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(s);
    return pair;
}

static PyObject *mod_channel_info(PyObject *module, PyObject *arg) {
    int64_t id = parse_id(arg);
    if (id < 0) {
        return NULL;
    }
    return subinterpGoChannelInfo(id);
}

PyObject *si_mod_create_channel(PyObject *module, PyObject *args, PyObject *kwargs);
PyObject *si_mod_list_all_channels(PyObject *module, PyObject *unused);
PyObject *si_mod_select(PyObject *module, PyObject *args, PyObject *kwargs);

static PyMethodDef module_methods[] = {
    {"create", (PyCFunction)(void (*)(void))mod_create, METH_VARARGS | METH_KEYWORDS,
     "create(*, isolated=True)\n--\n\nCreate an interpreter on a new OS thread. isolated: its own GIL "
     "(runs in parallel); False: the main interpreter's GIL and legacy settings."},
    {"create_channel", (PyCFunction)(void (*)(void))si_mod_create_channel, METH_VARARGS | METH_KEYWORDS,
     "create_channel(*, capacity=0, max_bytes=0, fallback=None)\n--\n\nCreate a channel and return "
     "(RecvChannel, SendChannel). capacity bounds queued objects (0: unbounded); max_bytes bounds one "
     "object's encoded size (0: 64 MiB); fallback='pickle' pickles unshareable objects."},
    {"list_all_channels", si_mod_list_all_channels, METH_NOARGS,
     "Return (RecvChannel, SendChannel) for every open channel."},
    {"select", (PyCFunction)(void (*)(void))si_mod_select, METH_VARARGS | METH_KEYWORDS,
     "select(channels, timeout=None)\n--\n\nWait until one of the RecvChannels has an object and "
     "return (channel, obj). Raises TimeoutError after timeout seconds."},
    {"get_current", mod_get_current, METH_NOARGS, "Return the Interpreter this code runs in."},
    {"get_main", mod_get_main, METH_NOARGS, "Return the main Interpreter."},
    {"list_all", mod_list_all, METH_NOARGS, "Return every live Interpreter, the main one first."},
    {"is_shareable", mod_is_shareable, METH_O,
     "Return whether obj can be sent to another interpreter as is."},
    {"_set_interpreter_class", mod_set_interpreter_class, METH_O,
     "Private (PEP 734 layer): the Interpreter subclass objects are made of from now on."},
    {"_whence", mod_whence, METH_O, "Private: 'runtime', 'stdlib' (made by Python) or 'capi' (made by Go)."},
    {"_interp_exists", mod_interp_exists, METH_O, "Private: whether interpreter id exists."},
    {"_current_id", mod_current_id, METH_NOARGS, "Private: the current interpreter's id."},
    {"_call", mod_call, METH_VARARGS,
     "_call(id, name, args)\n--\n\nPrivate (PEP 734 layer): call the function name (\"mod.func\") with args "
     "in interpreter id and return its result."},
    {"_by_reference", mod_by_reference, METH_O,
     "Private (PEP 734 layer): whether obj is a function, builtin or class that pickles as a reference "
     "to itself (False also when only pickle can tell)."},
    {"_source", mod_source, METH_O, "Private: the embedded source of a subinterp Python submodule, or None."},
    {"_is_package", mod_is_package, METH_O, "Private: whether an embedded submodule is a package."},
    {"_channel_ends", mod_channel_ends, METH_O, "Private: (RecvChannel, SendChannel) of existing channel id."},
    {"_channel_info", mod_channel_info, METH_O, "Private: (capacity, tag, closed) of channel id."},
    {"_module_def", mod_module_def, METH_O,
     "_module_def(module)\n--\n\nPrivate (for `subinterp compat`): what the module's PyModuleDef "
     "declares, or None for a module without one."},
    {NULL},
};

/* install_finder makes the module a package whose Python submodules
 * (subinterp.interpreters, ...) come from the sources compiled into the Go
 * binary: the embedded _bootstrap puts their finder in sys.meta_path. */
static int install_finder(PyObject *module) {
    PyObject *path = PyList_New(0);
    if (path == NULL || PyModule_AddObjectRef(module, "__path__", path) < 0) {
        Py_XDECREF(path);
        return -1;
    }
    Py_DECREF(path);
    PyObject *name = PyUnicode_FromString("_bootstrap");
    PyObject *src = name ? subinterpGoSource(name, 0) : NULL;
    Py_XDECREF(name);
    if (src == NULL || src == Py_None) {
        if (src == Py_None) {
            Py_DECREF(src);
            PyErr_SetString(PyExc_ImportError, "subinterp: the embedded _bootstrap source is missing");
        }
        return -1;
    }
    const char *text = PyUnicode_AsUTF8(src);
    PyObject *code = text ? Py_CompileString(text, "<subinterp>/_bootstrap.py", Py_file_input) : NULL;
    Py_DECREF(src);
    if (code == NULL) {
        return -1;
    }
    PyObject *ns = PyDict_New();
    PyObject *fsrc = PyObject_GetAttrString(module, "_source");
    PyObject *fpkg = PyObject_GetAttrString(module, "_is_package");
    PyObject *modname = PyUnicode_FromString("subinterp._bootstrap");
    int rc = -1;
    if (ns != NULL && fsrc != NULL && fpkg != NULL && modname != NULL &&
        PyDict_SetItemString(ns, "_source", fsrc) == 0 && PyDict_SetItemString(ns, "_is_package", fpkg) == 0 &&
        PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) == 0 &&
        PyDict_SetItemString(ns, "__name__", modname) == 0) {
        PyObject *res = PyEval_EvalCode(code, ns, ns);
        if (res != NULL) {
            Py_DECREF(res);
            rc = 0;
        }
    }
    Py_XDECREF(fsrc);
    Py_XDECREF(fpkg);
    Py_XDECREF(modname);
    Py_XDECREF(ns);
    Py_DECREF(code);
    return rc;
}

static int module_exec(PyObject *module) {
    module_state *st = state_of(module);
    st->interpreter_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &interpreter_spec, NULL);
    if (st->interpreter_type == NULL || PyModule_AddType(module, st->interpreter_type) < 0) {
        return -1;
    }
    st->writer_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &writer_spec, NULL);
    if (st->writer_type == NULL) {
        return -1;
    }
    /* ChannelError and its subclasses, then NotShareableError (a ValueError). */
    for (int i = 0; i <= SI_EXC_NOT_SHAREABLE; i++) {
        char qual[64];
        snprintf(qual, sizeof qual, "subinterp.%s", exc_names[i]);
        PyObject *base = i == SI_EXC_CHANNEL ? PyExc_Exception
                         : i == SI_EXC_NOT_SHAREABLE ? PyExc_ValueError
                                                      : st->exc[SI_EXC_CHANNEL];
        st->exc[i] = PyErr_NewException(qual, base, NULL);
        if (st->exc[i] == NULL || PyModule_AddObjectRef(module, exc_names[i], st->exc[i]) < 0) {
            return -1;
        }
    }
    st->exc[SI_EXC_HOST] = PyErr_NewExceptionWithDoc(
        "subinterp.HostError", "A Go host function returned an error or panicked.", PyExc_RuntimeError, NULL);
    if (st->exc[SI_EXC_HOST] == NULL || PyModule_AddObjectRef(module, "HostError", st->exc[SI_EXC_HOST]) < 0) {
        return -1;
    }
    if (si_channels_exec(module, st) < 0 || si_hostfuncs_exec(module, st) < 0) {
        return -1;
    }
    st->run_failed_error = PyErr_NewExceptionWithDoc(
        "subinterp.RunFailedError", "Code run in another interpreter raised an exception.",
        PyExc_RuntimeError, NULL);
    if (st->run_failed_error == NULL ||
        PyModule_AddObjectRef(module, "RunFailedError", st->run_failed_error) < 0) {
        return -1;
    }
    /* PEP 734's errors. InterpreterError is a RuntimeError: PEP 554's API
     * documents RuntimeError for the same failures. */
    st->exc[SI_EXC_INTERP] = PyErr_NewExceptionWithDoc(
        "subinterp.InterpreterError", "A cross-interpreter operation failed.", PyExc_RuntimeError, NULL);
    if (st->exc[SI_EXC_INTERP] == NULL ||
        PyModule_AddObjectRef(module, "InterpreterError", st->exc[SI_EXC_INTERP]) < 0) {
        return -1;
    }
    st->exc[SI_EXC_INTERP_NOT_FOUND] = PyErr_NewExceptionWithDoc(
        "subinterp.InterpreterNotFoundError", "An interpreter was not found (closed, or never existed).",
        st->exc[SI_EXC_INTERP], NULL);
    if (st->exc[SI_EXC_INTERP_NOT_FOUND] == NULL ||
        PyModule_AddObjectRef(module, "InterpreterNotFoundError", st->exc[SI_EXC_INTERP_NOT_FOUND]) < 0) {
        return -1;
    }
    return install_finder(module);
}

static int module_traverse(PyObject *module, visitproc visit, void *arg) {
    module_state *st = state_of(module);
    Py_VISIT(st->interpreter_type);
    Py_VISIT(st->writer_type);
    Py_VISIT(st->recv_type);
    Py_VISIT(st->send_type);
    Py_VISIT(st->buffer_type);
    Py_VISIT(st->remote_error_type);
    Py_VISIT(st->host_funcs_type);
    Py_VISIT(st->host_func_type);
    for (int i = 0; i < SI_EXC_COUNT; i++) {
        Py_VISIT(st->exc[i]);
    }
    Py_VISIT(st->run_failed_error);
    Py_VISIT(st->interp_class);
    Py_VISIT(st->pickle_dumps);
    Py_VISIT(st->pickle_loads);
    Py_VISIT(st->code_cache[0]);
    Py_VISIT(st->code_cache[1]);
    Py_VISIT(st->copyreg_dispatch);
    Py_VISIT(st->trampolines);
    return 0;
}

static int module_clear(PyObject *module) {
    module_state *st = state_of(module);
    Py_CLEAR(st->interpreter_type);
    Py_CLEAR(st->writer_type);
    Py_CLEAR(st->recv_type);
    Py_CLEAR(st->send_type);
    Py_CLEAR(st->buffer_type);
    Py_CLEAR(st->remote_error_type);
    Py_CLEAR(st->host_funcs_type);
    Py_CLEAR(st->host_func_type);
    for (int i = 0; i < SI_EXC_COUNT; i++) {
        Py_CLEAR(st->exc[i]);
    }
    Py_CLEAR(st->run_failed_error);
    Py_CLEAR(st->interp_class);
    Py_CLEAR(st->pickle_dumps);
    Py_CLEAR(st->pickle_loads);
    Py_CLEAR(st->code_cache[0]);
    Py_CLEAR(st->code_cache[1]);
    Py_CLEAR(st->copyreg_dispatch);
    Py_CLEAR(st->trampolines);
    return 0;
}

static void module_free(void *module) { module_clear((PyObject *)module); }

/* Py_mod_gil (3.13+) is deliberately absent: it only declares free-threading
 * support, and this module relies on the GIL it releases and re-takes
 * around every wait. Per-interpreter-GIL support is what it declares. */
static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
    {0, NULL},
};

struct PyModuleDef si_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "subinterp",
    .m_doc = "Interpreters of this process and the channels between them (PEP 554).",
    .m_size = sizeof(module_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyObject *PyInit_subinterp(void) { return PyModuleDef_Init(&si_module_def); }
