/* Channel ends, received buffers and the channel functions of the subinterp
 * module. The channels themselves live in Go (package channel); an end
 * object holds the channel id and one binding of its side, released when
 * the object goes away or on release(). Every blocking call goes to Go,
 * which releases this interpreter's GIL while it waits. */
#include "bindings.h"
#include "_cgo_export.h"
#include <math.h>
#include <stdlib.h>

typedef struct {
    PyObject_HEAD
    int64_t id;
    int bound; /* holds a binding of its side */
    /* Which side, kept in the object: the deallocator must not work it
     * out from the module state, which the module's m_clear may have
     * emptied before the last end goes. */
    int send;
} end_object;

extern struct PyModuleDef si_module_def;

static module_state *type_state(PyTypeObject *tp) { return (module_state *)PyType_GetModuleState(tp); }

/* si_channel_end reports whether obj is a channel end of this module, and
 * which ('r' or 'w', with its id; id 0 once released). */
int si_channel_end(PyObject *obj, unsigned char *kind, int64_t *id) {
    PyTypeObject *tp = Py_TYPE(obj);
    if (!(tp->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        return 0;
    }
    PyObject *mod = PyType_GetModuleByDef(tp, &si_module_def);
    if (mod == NULL) {
        PyErr_Clear();
        return 0;
    }
    module_state *st = (module_state *)PyModule_GetState(mod);
    if (tp != st->recv_type && tp != st->send_type) {
        return 0;
    }
    *kind = tp == st->send_type ? 'w' : 'r';
    *id = ((end_object *)obj)->bound ? ((end_object *)obj)->id : 0;
    return 1;
}

/* si_new_end makes an end object; with bind it takes a new binding. */
PyObject *si_new_end(module_state *st, unsigned char kind, int64_t id, int bind) {
    int send = kind == 'w';
    if (bind && subinterpGoBind(id, send) < 0) {
        return NULL;
    }
    end_object *e = PyObject_New(end_object, send ? st->send_type : st->recv_type);
    if (e == NULL) {
        if (bind) {
            subinterpGoRelease(id, send);
        }
        return NULL;
    }
    e->id = id;
    e->bound = 1;
    e->send = send;
    return (PyObject *)e;
}

static void end_dealloc(PyObject *self) {
    end_object *e = (end_object *)self;
    PyTypeObject *tp = Py_TYPE(self);
    if (e->bound) {
        e->bound = 0;
        subinterpGoRelease(e->id, e->send);
    }
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyObject *end_repr(PyObject *self) {
    end_object *e = (end_object *)self;
    return PyUnicode_FromFormat("%s(id=%lld%s)", Py_TYPE(self)->tp_name, (long long)e->id,
                                e->bound ? "" : ", released");
}

static Py_hash_t end_hash(PyObject *self) {
    Py_hash_t h = (Py_hash_t)((end_object *)self)->id;
    return h == -1 ? -2 : h;
}

static PyObject *end_richcompare(PyObject *a, PyObject *b, int op) {
    if (Py_TYPE(a) != Py_TYPE(b) || (op != Py_EQ && op != Py_NE)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    int eq = ((end_object *)a)->id == ((end_object *)b)->id;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyObject *end_get_id(PyObject *self, void *closure) {
    return PyLong_FromLongLong(((end_object *)self)->id);
}

/* usable returns the id, or raises ChannelClosedError after release(). */
static int64_t usable(PyObject *self) {
    end_object *e = (end_object *)self;
    if (!e->bound) {
        si_raise(SI_EXC_CLOSED, "channel end was released");
        return -1;
    }
    return e->id;
}

static PyObject *end_release(PyObject *self, PyObject *unused) {
    end_object *e = (end_object *)self;
    if (e->bound) {
        e->bound = 0;
        subinterpGoRelease(e->id, e->send);
    }
    Py_RETURN_NONE;
}

static PyObject *end_close(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"force", NULL};
    int force = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$p:close", kwlist, &force)) {
        return NULL;
    }
    int64_t id = usable(self);
    if (id < 0) {
        return NULL;
    }
    if (subinterpGoCloseChannel(id, ((end_object *)self)->send, force) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *end_enter(PyObject *self, PyObject *unused) { return Py_NewRef(self); }

static PyObject *end_exit(PyObject *self, PyObject *args) { return end_release(self, NULL); }

/* parse_timeout: None -> -1 (wait forever), else seconds >= 0. */
static int parse_timeout(PyObject *o, double *out) {
    if (o == NULL || o == Py_None) {
        *out = -1;
        return 0;
    }
    if (!PyFloat_Check(o) && !PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "timeout must be a number or None, not %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    double t = PyFloat_AsDouble(o);
    if (t == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (isnan(t) || t < 0) {
        PyErr_SetString(PyExc_ValueError, "timeout must be a non-negative number");
        return -1;
    }
    *out = t;
    return 0;
}

/* ---- RecvChannel ----------------------------------------------------- */

static PyObject *recv_recv(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"timeout", NULL};
    PyObject *tobj = Py_None;
    double timeout;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:recv", kwlist, &tobj) || parse_timeout(tobj, &timeout) < 0) {
        return NULL;
    }
    int64_t id = usable(self);
    if (id < 0) {
        return NULL;
    }
    int empty = 0;
    return subinterpGoRecv(id, timeout, 0, &empty);
}

static PyObject *recv_recv_nowait(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"default", NULL};
    PyObject *dflt = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:recv_nowait", kwlist, &dflt)) {
        return NULL;
    }
    int64_t id = usable(self);
    if (id < 0) {
        return NULL;
    }
    int empty = 0;
    PyObject *v = subinterpGoRecv(id, 0, 1, &empty);
    if (v == NULL && empty) {
        if (dflt != NULL) {
            return Py_NewRef(dflt);
        }
        si_raise(SI_EXC_EMPTY, "channel is empty");
    }
    return v;
}

static PyObject *recv_next(PyObject *self) {
    int64_t id = usable(self);
    if (id < 0) {
        return NULL;
    }
    int empty = 0;
    PyObject *v = subinterpGoRecv(id, -1, 0, &empty);
    if (v == NULL) {
        module_state *st = type_state(Py_TYPE(self));
        if (PyErr_ExceptionMatches(st->exc[SI_EXC_CLOSED])) {
            PyErr_Clear(); /* a closed channel ends the iteration */
        }
    }
    return v;
}

/* _qsize: how many objects are queued (PEP 734 Queue.qsize). */
static PyObject *end_qsize(PyObject *self, PyObject *unused) {
    int64_t id = usable(self);
    if (id < 0) {
        return NULL;
    }
    Py_ssize_t n = subinterpGoLen(id);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

static PyMethodDef recv_methods[] = {
    {"_qsize", end_qsize, METH_NOARGS, "Private (PEP 734 queues): the number of objects queued."},
    {"recv", (PyCFunction)(void (*)(void))recv_recv, METH_VARARGS | METH_KEYWORDS,
     "recv(timeout=None)\n--\n\nReceive the next object, waiting for one (this interpreter's GIL released). "
     "Raises TimeoutError after timeout seconds, ChannelClosedError once closed and drained."},
    {"recv_nowait", (PyCFunction)(void (*)(void))recv_recv_nowait, METH_VARARGS | METH_KEYWORDS,
     "recv_nowait(default=<unset>)\n--\n\nReceive an object if one is queued; else return default, or raise "
     "ChannelEmptyError if no default was given."},
    {"release", end_release, METH_NOARGS,
     "Detach this end from this interpreter; the channel closes when no end of it is bound anywhere."},
    {"close", (PyCFunction)(void (*)(void))end_close, METH_VARARGS | METH_KEYWORDS,
     "close(*, force=False)\n--\n\nClose the channel for everyone. Raises ChannelNotEmptyError if objects "
     "are still queued, unless force (which drops them)."},
    {"__enter__", end_enter, METH_NOARGS, NULL},
    {"__exit__", end_exit, METH_VARARGS, "Release the end."},
    {NULL},
};

static PyGetSetDef end_getset[] = {
    {"id", end_get_id, NULL, "The channel's id, the same in every interpreter and in Go.", NULL},
    {NULL},
};

static PyType_Slot recv_slots[] = {
    {Py_tp_doc, "The receiving end of a channel (see subinterp.create_channel)."},
    {Py_tp_dealloc, end_dealloc},
    {Py_tp_repr, end_repr},
    {Py_tp_hash, end_hash},
    {Py_tp_richcompare, end_richcompare},
    {Py_tp_methods, recv_methods},
    {Py_tp_getset, end_getset},
    {Py_tp_iter, end_enter},
    {Py_tp_iternext, recv_next},
    {0, NULL},
};

static PyType_Spec recv_spec = {
    .name = "subinterp.RecvChannel",
    .basicsize = sizeof(end_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = recv_slots,
};

/* ---- SendChannel ----------------------------------------------------- */

static PyObject *send_send(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"obj", "timeout", NULL};
    PyObject *obj, *tobj = Py_None;
    double timeout;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:send", kwlist, &obj, &tobj) ||
        parse_timeout(tobj, &timeout) < 0) {
        return NULL;
    }
    int64_t id = usable(self);
    if (id < 0 || subinterpGoSend(id, obj, timeout, 0) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* _put: queue obj, waiting for room in a full bounded channel but never
 * for a receiver (PEP 734 Queue.put). TimeoutError after timeout seconds,
 * the object withdrawn. */
static PyObject *send_put(PyObject *self, PyObject *args) {
    PyObject *obj, *tobj = Py_None;
    double timeout;
    if (!PyArg_ParseTuple(args, "O|O:_put", &obj, &tobj) || parse_timeout(tobj, &timeout) < 0) {
        return NULL;
    }
    int64_t id = usable(self);
    if (id < 0 || subinterpGoSend(id, obj, timeout, 2) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *send_send_nowait(PyObject *self, PyObject *obj) {
    int64_t id = usable(self);
    if (id < 0) {
        return NULL;
    }
    int waiting = subinterpGoSend(id, obj, 0, 1);
    if (waiting < 0) {
        return NULL;
    }
    return PyBool_FromLong(waiting);
}

/* send_buffer copies the buffer once, into memory the channel owns; the
 * receiver gets a read-only memoryview of that same memory. */
static PyObject *send_buffer_impl(PyObject *self, PyObject *args, PyObject *kwargs, int nowait) {
    static char *kwlist[] = {"obj", "timeout", NULL};
    static char *kwlist_nowait[] = {"obj", NULL};
    PyObject *obj, *tobj = Py_None;
    double timeout = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, nowait ? "O:send_buffer_nowait" : "O|O:send_buffer",
                                     nowait ? kwlist_nowait : kwlist, &obj, &tobj) ||
        (!nowait && parse_timeout(tobj, &timeout) < 0)) {
        return NULL;
    }
    int64_t id = usable(self);
    if (id < 0) {
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_ANY_CONTIGUOUS) < 0) {
        return NULL;
    }
    char *copy = malloc(view.len > 0 ? (size_t)view.len : 1);
    if (copy == NULL) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    memcpy(copy, view.buf, (size_t)view.len);
    Py_ssize_t len = view.len;
    PyBuffer_Release(&view);
    /* Go owns copy from here on, whatever happens. */
    int rc = subinterpGoSendBuffer(id, copy, len, timeout, nowait);
    if (rc < 0) {
        return NULL;
    }
    if (nowait) {
        return PyBool_FromLong(rc);
    }
    Py_RETURN_NONE;
}

static PyObject *send_send_buffer(PyObject *self, PyObject *args, PyObject *kwargs) {
    return send_buffer_impl(self, args, kwargs, 0);
}

static PyObject *send_send_buffer_nowait(PyObject *self, PyObject *args, PyObject *kwargs) {
    return send_buffer_impl(self, args, kwargs, 1);
}

static PyMethodDef send_methods[] = {
    {"_put", send_put, METH_VARARGS,
     "Private (PEP 734 queues): _put(obj, timeout=None) queues obj, waiting for room, not for a receiver."},
    {"_qsize", end_qsize, METH_NOARGS, "Private (PEP 734 queues): the number of objects queued."},
    {"send", (PyCFunction)(void (*)(void))send_send, METH_VARARGS | METH_KEYWORDS,
     "send(obj, timeout=None)\n--\n\nSend obj and wait until it is received (this interpreter's GIL released). "
     "On TimeoutError the object was withdrawn, not received."},
    {"send_nowait", send_send_nowait, METH_O,
     "send_nowait(obj)\n--\n\nQueue obj and return whether a receiver was already waiting for it."},
    {"send_buffer", (PyCFunction)(void (*)(void))send_send_buffer, METH_VARARGS | METH_KEYWORDS,
     "send_buffer(obj, timeout=None)\n--\n\nSend the bytes of any buffer (bytes, bytearray, memoryview, "
     "array, ...), copied once; the receiver gets a read-only memoryview of them. Waits until received."},
    {"send_buffer_nowait", (PyCFunction)(void (*)(void))send_send_buffer_nowait, METH_VARARGS | METH_KEYWORDS,
     "send_buffer_nowait(obj)\n--\n\nQueue a buffer like send_buffer without waiting; return whether a "
     "receiver was waiting."},
    {"release", end_release, METH_NOARGS,
     "Detach this end from this interpreter; the channel closes when no end of it is bound anywhere."},
    {"close", (PyCFunction)(void (*)(void))end_close, METH_VARARGS | METH_KEYWORDS,
     "close(*, force=False)\n--\n\nClose the channel: further sends fail; receivers still get what is "
     "queued, then ChannelClosedError. force drops what is queued."},
    {"__enter__", end_enter, METH_NOARGS, NULL},
    {"__exit__", end_exit, METH_VARARGS, "Release the end."},
    {NULL},
};

static PyType_Slot send_slots[] = {
    {Py_tp_doc, "The sending end of a channel (see subinterp.create_channel)."},
    {Py_tp_dealloc, end_dealloc},
    {Py_tp_repr, end_repr},
    {Py_tp_hash, end_hash},
    {Py_tp_richcompare, end_richcompare},
    {Py_tp_methods, send_methods},
    {Py_tp_getset, end_getset},
    {0, NULL},
};

static PyType_Spec send_spec = {
    .name = "subinterp.SendChannel",
    .basicsize = sizeof(end_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = send_slots,
};

/* ---- _Buffer: owner of received buffer memory ---------------------- */

typedef struct {
    PyObject_HEAD
    char *ptr;
    Py_ssize_t len;
    uintptr_t handle;
} buffer_object;

static int buffer_getbuffer(PyObject *self, Py_buffer *view, int flags) {
    buffer_object *b = (buffer_object *)self;
    return PyBuffer_FillInfo(view, self, b->ptr, b->len, 1 /* read-only */, flags);
}

static void buffer_dealloc(PyObject *self) {
    buffer_object *b = (buffer_object *)self;
    PyTypeObject *tp = Py_TYPE(self);
    if (b->handle != 0) {
        subinterpGoBufferRelease(b->handle);
    }
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyType_Slot buffer_slots[] = {
    {Py_tp_doc, "Memory of a buffer received from a channel (read-only)."},
    {Py_tp_dealloc, buffer_dealloc},
    {Py_bf_getbuffer, buffer_getbuffer},
    {0, NULL},
};

static PyType_Spec buffer_spec = {
    .name = "subinterp._Buffer",
    .basicsize = sizeof(buffer_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = buffer_slots,
};

/* si_new_buffer_view returns a read-only memoryview over b's memory; the
 * memory is released when the last view of it goes away. */
PyObject *si_new_buffer_view(module_state *st, si_buf *b) {
    buffer_object *owner = PyObject_New(buffer_object, st->buffer_type);
    if (owner == NULL) {
        return NULL;
    }
    owner->ptr = b->ptr;
    owner->len = b->len;
    owner->handle = b->handle;
    b->used = 1;
    PyObject *view = PyMemoryView_FromObject((PyObject *)owner);
    Py_DECREF(owner); /* the view keeps it */
    return view;
}

/* ---- module functions -------------------------------------------- */

PyObject *si_mod_create_channel(PyObject *module, PyObject *args, PyObject *kwargs) {
    /* _tag is private: the PEP 734 layer's queues record their default
     * unbounditems policy there (channel.Options.Tag). */
    static char *kwlist[] = {"capacity", "max_bytes", "fallback", "_tag", NULL};
    Py_ssize_t capacity = 0, max_bytes = 0;
    int tag = 0;
    PyObject *fallback = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$nnOi:create_channel", kwlist, &capacity, &max_bytes,
                                     &fallback, &tag)) {
        return NULL;
    }
    if (capacity < 0 || max_bytes < 0) {
        PyErr_SetString(PyExc_ValueError, "capacity and max_bytes must be >= 0");
        return NULL;
    }
    if (tag < 0 || tag > 255) {
        PyErr_SetString(PyExc_ValueError, "_tag must be in 0..255");
        return NULL;
    }
    int pickle = 0;
    if (fallback != Py_None) {
        if (!PyUnicode_Check(fallback) || PyUnicode_CompareWithASCIIString(fallback, "pickle") != 0) {
            PyErr_Format(PyExc_ValueError, "fallback must be None or 'pickle', not %R", fallback);
            return NULL;
        }
        pickle = 1;
    }
    int64_t id = subinterpGoCreateChannel(capacity, max_bytes, pickle, tag);
    if (id < 0) {
        return NULL;
    }
    module_state *st = (module_state *)PyModule_GetState(module);
    /* The channel starts with one binding per end: these objects take them. */
    PyObject *r = si_new_end(st, 'r', id, 0);
    PyObject *s = r ? si_new_end(st, 'w', id, 0) : NULL;
    if (s == NULL) {
        if (r == NULL) {
            subinterpGoRelease(id, 0);
        }
        Py_XDECREF(r);
        subinterpGoRelease(id, 1);
        return NULL;
    }
    PyObject *pair = PyTuple_Pack(2, r, s);
    Py_DECREF(r);
    Py_DECREF(s);
    return pair;
}

PyObject *si_mod_list_all_channels(PyObject *module, PyObject *unused) {
    return subinterpGoListChannels((module_state *)PyModule_GetState(module));
}

PyObject *si_mod_select(PyObject *module, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"channels", "timeout", NULL};
    PyObject *chans, *tobj = Py_None;
    double timeout;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:select", kwlist, &chans, &tobj) ||
        parse_timeout(tobj, &timeout) < 0) {
        return NULL;
    }
    PyObject *seq = PySequence_Fast(chans, "select() needs a sequence of RecvChannels");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    module_state *st = (module_state *)PyModule_GetState(module);
    if (n == 0) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "select() needs at least one channel");
        return NULL;
    }
    int64_t *ids = PyMem_Malloc(sizeof(int64_t) * (size_t)n);
    if (ids == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *c = PySequence_Fast_GET_ITEM(seq, i);
        if (Py_TYPE(c) != st->recv_type) {
            PyErr_Format(PyExc_TypeError, "select() takes RecvChannels, not %.100s", Py_TYPE(c)->tp_name);
            goto fail;
        }
        if ((ids[i] = usable(c)) < 0) {
            goto fail;
        }
    }
    int index = -1;
    PyObject *v = subinterpGoSelect(ids, (int)n, timeout, &index);
    PyMem_Free(ids);
    if (v == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    PyObject *res = PyTuple_Pack(2, PySequence_Fast_GET_ITEM(seq, index), v);
    Py_DECREF(v);
    Py_DECREF(seq);
    return res;
fail:
    PyMem_Free(ids);
    Py_DECREF(seq);
    return NULL;
}

static const char remote_error_src[] =
    "class RemoteError(Exception):\n"
    "    \"\"\"An exception raised in another interpreter, described (objects cannot cross):\n"
    "    type_name, message and traceback_text. It is the __cause__ of RunFailedError.\"\"\"\n"
    "    def __init__(self, type_name, message, traceback_text):\n"
    "        super().__init__(type_name, message, traceback_text)\n"
    "        self.type_name = type_name\n"
    "        self.message = message\n"
    "        self.traceback_text = traceback_text\n"
    "    def __str__(self):\n"
    "        text = f'{self.type_name}: {self.message}' if self.message else self.type_name\n"
    "        return text + '\\n\\n' + self.traceback_text if self.traceback_text else text\n";

int si_channels_exec(PyObject *module, module_state *st) {
    st->recv_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &recv_spec, NULL);
    if (st->recv_type == NULL || PyModule_AddType(module, st->recv_type) < 0) {
        return -1;
    }
    st->send_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &send_spec, NULL);
    if (st->send_type == NULL || PyModule_AddType(module, st->send_type) < 0) {
        return -1;
    }
    st->buffer_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &buffer_spec, NULL);
    if (st->buffer_type == NULL) {
        return -1;
    }
    PyObject *dict = PyModule_GetDict(module); /* borrowed */
    PyObject *r = PyRun_String(remote_error_src, Py_file_input, dict, dict);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    st->remote_error_type = (PyTypeObject *)PyDict_GetItemString(dict, "RemoteError");
    if (st->remote_error_type == NULL) {
        return -1;
    }
    Py_INCREF(st->remote_error_type);
    return 0;
}
