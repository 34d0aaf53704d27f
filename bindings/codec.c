/* The C half of the value wire format documented in channel/codec.go:
 * PyObject -> bytes (two passes: size, then write into memory the Go side
 * allocated, so a large bytes object is copied once) and bytes -> PyObject.
 * Only exact built-in types are shareable: a subclass could run user code
 * while we walk it, and the receiver could not rebuild it anyway. */
#include "bindings.h"
#include <string.h>

typedef struct {
    char *out;          /* NULL while sizing */
    Py_ssize_t pos;
    Py_ssize_t cap;     /* bytes available in out */
    int flags;
    PyObject *side;     /* temporaries made while sizing, reused in order */
    Py_ssize_t side_next;
} encoder;

static void put(encoder *e, const void *p, Py_ssize_t n) {
    if (e->out != NULL && e->pos + n <= e->cap) {
        memcpy(e->out + e->pos, p, (size_t)n);
    }
    e->pos += n;
}

static void put_byte(encoder *e, unsigned char c) { put(e, &c, 1); }

static void put_uvarint(encoder *e, uint64_t v) {
    unsigned char b[10];
    int n = 0;
    while (v >= 0x80) {
        b[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (unsigned char)v;
    put(e, b, n);
}

static void put_u64le(encoder *e, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(v >> (8 * i));
    }
    put(e, b, 8);
}

static void put_blob(encoder *e, unsigned char tag, const char *p, Py_ssize_t n) {
    put_byte(e, tag);
    put_uvarint(e, (uint64_t)n);
    put(e, p, n);
}

/* side_value returns (borrowed) the temporary made by make() while sizing,
 * and the same object, in the same order, while writing. */
static PyObject *side_value(encoder *e, PyObject *obj, PyObject *(*make)(PyObject *)) {
    if (e->out == NULL) {
        PyObject *t = make(obj);
        if (t == NULL) {
            return NULL;
        }
        if (e->side == NULL && (e->side = PyList_New(0)) == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        int rc = PyList_Append(e->side, t);
        Py_DECREF(t);
        return rc < 0 ? NULL : t;
    }
    if (e->side == NULL || e->side_next >= PyList_GET_SIZE(e->side)) {
        PyErr_SetString(PyExc_RuntimeError, "value changed while it was being shared");
        return NULL;
    }
    return PyList_GET_ITEM(e->side, e->side_next++);
}

static PyObject *make_hex(PyObject *obj) { return PyNumber_ToBase(obj, 16); }

static PyObject *make_utf8_surrogatepass(PyObject *obj) {
    return PyUnicode_AsEncodedString(obj, "utf-8", "surrogatepass");
}

/* names_main reports whether the pickle data names the module __main__. */
static int names_main(PyObject *data) {
    const char *p = PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data);
    static const char needle[] = "__main__";
    const Py_ssize_t m = (Py_ssize_t)sizeof(needle) - 1;
    for (Py_ssize_t i = 0; i + m <= n; i++) {
        if (p[i] == '_' && memcmp(p + i, needle, (size_t)m) == 0) {
            return 1;
        }
    }
    return 0;
}

/* with_main_file wraps pickle data that names __main__ in a
 * subinterp._mainfile.MainPickle carrying this interpreter's
 * __main__.__file__, so that another interpreter can unpickle a function
 * of the script (CPython 3.14's "fake __main__"). It steals data; data
 * itself comes back when there is nothing to add. */
static PyObject *with_main_file(PyObject *data) {
    if (!names_main(data)) {
        return data;
    }
    PyObject *main = PyImport_AddModule("__main__"); /* borrowed */
    PyObject *file = main ? PyObject_GetAttrString(main, "__file__") : NULL;
    if (file == NULL || !PyUnicode_Check(file)) {
        PyErr_Clear(); /* no file to run over there: plain pickle */
        Py_XDECREF(file);
        return data;
    }
    PyObject *out = NULL;
    PyObject *mod = PyImport_ImportModule("subinterp._mainfile");
    PyObject *cls = mod ? PyObject_GetAttrString(mod, "MainPickle") : NULL;
    PyObject *wrapped = cls ? PyObject_CallFunctionObjArgs(cls, data, file, NULL) : NULL;
    PyObject *dumps = wrapped ? si_pickle_func(0) : NULL;
    if (dumps != NULL) {
        out = PyObject_CallOneArg(dumps, wrapped);
    }
    Py_XDECREF(wrapped);
    Py_XDECREF(cls);
    Py_XDECREF(mod);
    Py_DECREF(file);
    Py_DECREF(data);
    return out;
}

/* ---- Objects pickled by reference ------------------------------------
 *
 * pickle saves a function, a builtin or a class as a reference, "module" +
 * "qualname", which the receiver looks up. PEP 734's call() sends its
 * callable that way on every call and the executor on every task; the
 * pickler and unpickler cost about 3 us of such a call's 10 (their setup
 * and memo, cold in a thread that just woke up), for 40 bytes. So such an
 * object is written here as exactly the pickle pickle.dumps(obj, 4) makes,
 * after the same checks (the name leads back to the same object), and a
 * pickle of exactly that shape is read by looking the name up as the
 * unpickler does. Anything else, and any check that fails, goes through
 * the pickle module, which also gives the errors. */

/* walk_qualname returns the object the dotted name qual leads to from
 * start (a new reference), or NULL with an exception. "<locals>" never
 * leads anywhere (pickle refuses it too). */
static PyObject *walk_qualname(PyObject *start, PyObject *qual) {
    Py_ssize_t len = PyUnicode_GET_LENGTH(qual), from = 0;
    PyObject *cur = Py_NewRef(start);
    while (cur != NULL && from <= len) {
        Py_ssize_t dot = PyUnicode_FindChar(qual, '.', from, len, 1);
        if (dot == -2) {
            Py_CLEAR(cur);
            break;
        }
        Py_ssize_t stop = dot < 0 ? len : dot;
        PyObject *part = (from == 0 && stop == len) ? Py_NewRef(qual) : PyUnicode_Substring(qual, from, stop);
        if (part != NULL && (PyUnicode_GET_LENGTH(part) == 0 ||
                             PyUnicode_CompareWithASCIIString(part, "<locals>") == 0)) {
            PyErr_Format(PyExc_AttributeError, "cannot follow %R", qual);
            Py_CLEAR(part);
        }
        Py_SETREF(cur, part ? PyObject_GetAttr(cur, part) : NULL);
        Py_XDECREF(part);
        from = stop + 1;
    }
    return cur;
}

/* global_name returns obj's (module, qualname) as new str references when
 * pickle would save obj by reference and the name leads back to obj now;
 * 0 (no exception) when the pickle module must decide. */
static int global_name(PyObject *obj, PyObject **modname, PyObject **qualname) {
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp == &PyCFunction_Type) {
        /* A builtin method of an object pickles as getattr(obj, name);
         * only module-level builtins are references. copyreg may hold a
         * reducer for builtins (the pickler asks it first). */
        PyObject *self = PyCFunction_GET_SELF(obj);
        if (self != NULL && !PyModule_Check(self)) {
            return 0;
        }
        module_state *st = si_state();
        if (st == NULL) {
            PyErr_Clear();
            return 0;
        }
        if (st->copyreg_dispatch == NULL) {
            PyObject *copyreg = PyImport_ImportModule("copyreg");
            st->copyreg_dispatch = copyreg ? PyObject_GetAttrString(copyreg, "dispatch_table") : NULL;
            Py_XDECREF(copyreg);
            if (st->copyreg_dispatch == NULL) {
                PyErr_Clear();
                return 0;
            }
        }
        int has = PyDict_Check(st->copyreg_dispatch) ? PyDict_Contains(st->copyreg_dispatch, (PyObject *)tp) : 1;
        if (has != 0) {
            PyErr_Clear();
            return 0;
        }
    } else if (tp != &PyFunction_Type && tp != &PyType_Type) {
        return 0;
    }
    /* The names pickle uses, read from the object's own fields where it
     * has them (an attribute lookup by a C string costs a str each). */
    PyObject *mod = NULL, *qual = NULL, *m = NULL, *cur = NULL;
    if (tp == &PyFunction_Type) {
        mod = Py_XNewRef(((PyFunctionObject *)obj)->func_module);
        qual = Py_XNewRef(((PyFunctionObject *)obj)->func_qualname);
    } else if (tp == &PyCFunction_Type) {
        /* pickle saves a module-level builtin under its __name__. */
        mod = Py_XNewRef(((PyCFunctionObject *)obj)->m_module);
        qual = PyUnicode_FromString(((PyCFunctionObject *)obj)->m_ml->ml_name);
    } else {
        mod = PyObject_GetAttrString(obj, "__module__");
        qual = mod ? PyObject_GetAttrString(obj, "__qualname__") : NULL;
    }
    if (mod == NULL || !PyUnicode_CheckExact(mod) || qual == NULL || !PyUnicode_CheckExact(qual)) {
        goto no;
    }
    /* sys.modules itself: a module not there is pickle's to import. */
    m = Py_XNewRef(PyDict_GetItemWithError(PyImport_GetModuleDict(), mod));
    if (m == NULL) {
        goto no;
    }
    cur = walk_qualname(m, qual);
    if (cur == NULL) {
        goto no;
    }
    if (cur != obj) {
        goto no;
    }
    Py_DECREF(cur);
    Py_DECREF(m);
    *modname = mod;
    *qualname = qual;
    return 1;
no:
    PyErr_Clear();
    Py_XDECREF(cur);
    Py_XDECREF(m);
    Py_XDECREF(mod);
    Py_XDECREF(qual);
    return 0;
}

/* si_by_reference reports whether pickle would save obj as a reference
 * that leads back to it now (a function, builtin or class reachable by its
 * module and qualname); 0 also when only the pickle module can tell. */
int si_by_reference(PyObject *obj) {
    PyObject *mod, *qual;
    if (!global_name(obj, &mod, &qual)) {
        return 0;
    }
    Py_DECREF(mod);
    Py_DECREF(qual);
    return 1;
}

/* The opcodes of a protocol-4 pickle of a global. */
#define PK_PROTO 0x80
#define PK_FRAME 0x95
#define PK_SHORT_BINUNICODE 0x8c
#define PK_MEMOIZE 0x94
#define PK_STACK_GLOBAL 0x93
#define PK_STOP '.'

/* global_pickle returns pickle.dumps(obj, 4) of an object pickled by
 * reference, or NULL with no exception when obj is not one. */
static PyObject *global_pickle(PyObject *obj) {
    PyObject *mod, *qual;
    if (!global_name(obj, &mod, &qual)) {
        return NULL;
    }
    Py_ssize_t ml, ql;
    const char *ms = PyUnicode_AsUTF8AndSize(mod, &ml);
    const char *qs = ms ? PyUnicode_AsUTF8AndSize(qual, &ql) : NULL;
    PyObject *res = NULL;
    if (qs != NULL && ml < 256 && ql < 256) {
        Py_ssize_t body = 2 + ml + 1 + 2 + ql + 1 + 1 + 1 + 1;
        res = PyBytes_FromStringAndSize(NULL, 11 + body);
        if (res != NULL) {
            unsigned char *p = (unsigned char *)PyBytes_AS_STRING(res);
            *p++ = PK_PROTO;
            *p++ = 4;
            *p++ = PK_FRAME;
            for (int i = 0; i < 8; i++) {
                *p++ = (unsigned char)((uint64_t)body >> (8 * i));
            }
            *p++ = PK_SHORT_BINUNICODE;
            *p++ = (unsigned char)ml;
            memcpy(p, ms, (size_t)ml);
            p += ml;
            *p++ = PK_MEMOIZE;
            *p++ = PK_SHORT_BINUNICODE;
            *p++ = (unsigned char)ql;
            memcpy(p, qs, (size_t)ql);
            p += ql;
            *p++ = PK_MEMOIZE;
            *p++ = PK_STACK_GLOBAL;
            *p++ = PK_MEMOIZE;
            *p++ = PK_STOP;
        }
    }
    PyErr_Clear(); /* surrogates in a name, or no memory: pickle decides */
    Py_DECREF(mod);
    Py_DECREF(qual);
    return res;
}

/* global_load returns the object a pickle of exactly global_pickle's shape
 * (protocol 4 or 5) names, found as the unpickler's find_class finds it
 * (after its audit event), or NULL with no exception when the pickle module
 * must read it (another shape, a module not imported yet, a name that does
 * not resolve: its error is the one to raise). NULL with an exception: an
 * audit hook refused. */
static PyObject *global_load(const unsigned char *s, Py_ssize_t n) {
    if (n < 11 + 9 || s[0] != PK_PROTO || (s[1] != 4 && s[1] != 5) || s[2] != PK_FRAME) {
        return NULL;
    }
    uint64_t frame = 0;
    for (int i = 0; i < 8; i++) {
        frame |= (uint64_t)s[3 + i] << (8 * i);
    }
    const unsigned char *p = s + 11, *end = s + n;
    if (frame != (uint64_t)(n - 11) || *p++ != PK_SHORT_BINUNICODE) {
        return NULL;
    }
    Py_ssize_t ml = *p++;
    const unsigned char *ms = p;
    p += ml;
    if (end - p < 3 || p[0] != PK_MEMOIZE || p[1] != PK_SHORT_BINUNICODE) {
        return NULL;
    }
    p += 2;
    Py_ssize_t ql = *p++;
    const unsigned char *qs = p;
    p += ql;
    if (end - p != 4 || p[0] != PK_MEMOIZE || p[1] != PK_STACK_GLOBAL || p[2] != PK_MEMOIZE || p[3] != PK_STOP) {
        return NULL;
    }
    PyObject *mod = PyUnicode_DecodeUTF8((const char *)ms, ml, "surrogatepass");
    PyObject *qual = mod ? PyUnicode_DecodeUTF8((const char *)qs, ql, "surrogatepass") : NULL;
    PyObject *res = NULL;
    if (qual == NULL) {
        PyErr_Clear();
        goto done;
    }
    if (PySys_Audit("pickle.find_class", "OO", mod, qual) < 0) {
        goto done; /* the hook's exception is the answer */
    }
    /* pickle imports the module, then takes it from sys.modules; one
     * already there is taken as the import system's fast path takes it
     * (waiting if another thread is still initializing it). */
    if (PyDict_GetItemWithError(PyImport_GetModuleDict(), mod) == NULL) {
        PyErr_Clear();
        goto done;
    }
    PyObject *m = PyImport_ImportModuleLevelObject(mod, NULL, NULL, NULL, 0);
    res = m ? walk_qualname(m, qual) : NULL;
    Py_XDECREF(m);
    if (res == NULL) {
        PyErr_Clear();
    }
done:
    Py_XDECREF(mod);
    Py_XDECREF(qual);
    return res;
}

static PyObject *make_pickle(PyObject *obj) {
    PyObject *data = global_pickle(obj);
    if (data == NULL) {
        PyObject *dumps = si_pickle_func(0);
        data = dumps ? PyObject_CallOneArg(dumps, obj) : NULL;
    }
    if (data == NULL || !PyBytes_Check(data)) {
        return data;
    }
    return with_main_file(data);
}

int si_set_not_shareable(PyObject *obj) {
    module_state *st = si_state();
    PyObject *exc = st ? st->exc[SI_EXC_NOT_SHAREABLE] : NULL;
    if (exc == NULL) {
        PyErr_Clear();
        exc = PyExc_ValueError;
    }
    PyErr_Format(exc, "%s object is not shareable", Py_TYPE(obj)->tp_name);
    return SI_ERR_NOT_SHAREABLE;
}

/* pickle_failed turns a failure to pickle obj into NotShareableError (with
 * the pickling error as its __cause__), as CPython 3.14 does; a
 * MemoryError or KeyboardInterrupt stays what it is. */
static int pickle_failed(PyObject *obj) {
    if (PyErr_ExceptionMatches(PyExc_MemoryError) || PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
        return SI_ERR_PYTHON;
    }
    PyObject *cause = PyErr_GetRaisedException();
    module_state *st = si_state();
    PyObject *type = st ? st->exc[SI_EXC_NOT_SHAREABLE] : NULL;
    if (type == NULL) {
        PyErr_Clear();
        type = PyExc_ValueError;
    }
    PyErr_Format(type, "%s object is not shareable and could not be pickled: %S", Py_TYPE(obj)->tp_name, cause);
    PyObject *exc = PyErr_GetRaisedException();
    PyException_SetCause(exc, cause); /* steals cause */
    PyErr_SetRaisedException(exc);
    return SI_ERR_NOT_SHAREABLE;
}

/* too_deep refuses a container at depth SI_MAX_DEPTH: containers nest at
 * most SI_MAX_DEPTH deep (the top value is depth 0), as channel.Encode and
 * both decoders count them, so whatever one side makes the other reads. */
static int too_deep(void) {
    module_state *st = si_state();
    PyObject *exc = st ? st->exc[SI_EXC_NOT_SHAREABLE] : NULL;
    if (exc == NULL) {
        PyErr_Clear();
        exc = PyExc_ValueError;
    }
    PyErr_Format(exc, "containers nested deeper than %d (a value that contains itself?)", SI_MAX_DEPTH);
    return SI_ERR_NOT_SHAREABLE;
}

/* Dates and durations. Go's time.Time is an instant, so only an aware
 * datetime crosses, as microseconds since the Unix epoch; a timedelta
 * crosses as microseconds, within what a Go time.Duration holds. The
 * datetime module is looked up in sys.modules: an object of its types
 * cannot exist before it is imported, and importing it for every other
 * object would cost every value. */
#define SI_MAX_DURATION_US (INT64_MAX / 1000)

enum { SI_NOT_TIME, SI_DATETIME, SI_NAIVE_DATETIME, SI_TIMEDELTA };

static PyObject *datetime_attr(const char *name) {
    PyObject *mod = PyImport_ImportModule("datetime");
    if (mod == NULL) {
        return NULL;
    }
    PyObject *attr = PyObject_GetAttrString(mod, name);
    Py_DECREF(mod);
    return attr;
}

/* time_kind says whether obj is exactly a datetime.datetime (aware or
 * naive) or datetime.timedelta; -1 with an exception set on failure. */
static int time_kind(PyObject *obj) {
    PyObject *name = PyUnicode_FromString("datetime");
    if (name == NULL) {
        return -1;
    }
    PyObject *mod = PyImport_GetModule(name);
    Py_DECREF(name);
    if (mod == NULL) {
        return PyErr_Occurred() ? -1 : SI_NOT_TIME;
    }
    int kind = SI_NOT_TIME;
    PyObject *dt = PyObject_GetAttrString(mod, "datetime");
    PyObject *td = dt ? PyObject_GetAttrString(mod, "timedelta") : NULL;
    Py_DECREF(mod);
    if (td == NULL) {
        Py_XDECREF(dt);
        return -1;
    }
    if ((PyObject *)Py_TYPE(obj) == td) {
        kind = SI_TIMEDELTA;
    } else if ((PyObject *)Py_TYPE(obj) == dt) {
        PyObject *off = PyObject_CallMethod(obj, "utcoffset", NULL);
        if (off == NULL) {
            kind = -1;
        } else {
            kind = off == Py_None ? SI_NAIVE_DATETIME : SI_DATETIME;
            Py_DECREF(off);
        }
    }
    Py_DECREF(dt);
    Py_DECREF(td);
    return kind;
}

/* micros_of returns obj // timedelta(microseconds=1), after subtracting
 * the Unix epoch (aware, UTC) from a datetime. */
static PyObject *micros_of(PyObject *obj, int is_datetime) {
    PyObject *unit = NULL, *diff = NULL, *res = NULL, *epoch = NULL;
    PyObject *td = datetime_attr("timedelta");
    if (td == NULL || (unit = PyObject_CallFunction(td, "iii", 0, 0, 1)) == NULL) {
        goto done;
    }
    if (is_datetime) {
        PyObject *dt = datetime_attr("datetime");
        PyObject *tz = datetime_attr("timezone");
        PyObject *utc = tz ? PyObject_GetAttrString(tz, "utc") : NULL;
        if (dt != NULL && utc != NULL) {
            epoch = PyObject_CallFunction(dt, "iiiiiiiO", 1970, 1, 1, 0, 0, 0, 0, utc);
        }
        Py_XDECREF(dt);
        Py_XDECREF(tz);
        Py_XDECREF(utc);
        if (epoch == NULL || (diff = PyNumber_Subtract(obj, epoch)) == NULL) {
            goto done;
        }
    } else {
        diff = Py_NewRef(obj);
    }
    res = PyNumber_FloorDivide(diff, unit);
done:
    Py_XDECREF(td);
    Py_XDECREF(unit);
    Py_XDECREF(diff);
    Py_XDECREF(epoch);
    return res;
}

static PyObject *make_datetime_micros(PyObject *obj) { return micros_of(obj, 1); }
static PyObject *make_timedelta_micros(PyObject *obj) { return micros_of(obj, 0); }

static int not_shareable_because(const char *why) {
    module_state *st = si_state();
    PyObject *exc = st ? st->exc[SI_EXC_NOT_SHAREABLE] : NULL;
    if (exc == NULL) {
        PyErr_Clear();
        exc = PyExc_ValueError;
    }
    PyErr_SetString(exc, why);
    return SI_ERR_NOT_SHAREABLE;
}

/* enc_time writes a datetime ('D') or timedelta ('U') of the given kind. */
static int enc_time(encoder *e, PyObject *obj, int kind) {
    if (kind == SI_NAIVE_DATETIME) {
        return not_shareable_because("a naive datetime is not shareable: give it a tzinfo "
                                     "(datetime.timezone.utc, say), so that it names an instant");
    }
    PyObject *us = side_value(e, obj, kind == SI_DATETIME ? make_datetime_micros : make_timedelta_micros);
    if (us == NULL) {
        return SI_ERR_PYTHON;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(us, &overflow);
    if (v == -1 && PyErr_Occurred()) {
        return SI_ERR_PYTHON;
    }
    if (kind == SI_TIMEDELTA && (overflow != 0 || v > SI_MAX_DURATION_US || v < -SI_MAX_DURATION_US)) {
        return not_shareable_because("a timedelta beyond about 292 years is not shareable "
                                     "(Go's time.Duration cannot hold it)");
    }
    put_byte(e, kind == SI_DATETIME ? 'D' : 'U');
    put_u64le(e, (uint64_t)v);
    return 0;
}

static int enc(encoder *e, PyObject *obj, int depth);

/* enc_set writes a set ('S') or frozenset ('Z') from a snapshot tuple of
 * its items, so that both passes see the same items in the same order. */
static int enc_set(encoder *e, PyObject *obj, int depth) {
    if (depth >= SI_MAX_DEPTH) {
        return too_deep();
    }
    PyObject *items = side_value(e, obj, PySequence_Tuple);
    if (items == NULL) {
        return SI_ERR_PYTHON;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    put_byte(e, PyFrozenSet_CheckExact(obj) ? 'Z' : 'S');
    put_uvarint(e, (uint64_t)n);
    for (Py_ssize_t i = 0; i < n; i++) {
        int rc = enc(e, PyTuple_GET_ITEM(items, i), depth + 1);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int enc(encoder *e, PyObject *obj, int depth) {
    unsigned char end_kind;
    int64_t end_id;
    int tkind;
    if (obj == Py_None) {
        put_byte(e, 'N');
    } else if (obj == Py_True) {
        put_byte(e, 'T');
    } else if (obj == Py_False) {
        put_byte(e, 'F');
    } else if (PyLong_CheckExact(obj)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (overflow == 0) {
            if (v == -1 && PyErr_Occurred()) {
                return SI_ERR_PYTHON;
            }
            put_byte(e, 'i');
            put_u64le(e, (uint64_t)v);
        } else {
            PyObject *hex = side_value(e, obj, make_hex);
            if (hex == NULL) {
                return SI_ERR_PYTHON;
            }
            Py_ssize_t n;
            const char *s = PyUnicode_AsUTF8AndSize(hex, &n);
            if (s == NULL) {
                return SI_ERR_PYTHON;
            }
            put_blob(e, 'I', s, n);
        }
    } else if (PyFloat_CheckExact(obj)) {
        double d = PyFloat_AS_DOUBLE(obj);
        uint64_t bits;
        memcpy(&bits, &d, 8);
        put_byte(e, 'f');
        put_u64le(e, bits);
    } else if (PyUnicode_CheckExact(obj)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(obj, &n);
        if (s != NULL) {
            put_blob(e, 's', s, n);
        } else {
            /* Lone surrogates have no UTF-8 form; carry them as Python's
             * surrogatepass bytes, which decode back to the same str. */
            if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
                return SI_ERR_PYTHON;
            }
            PyErr_Clear();
            PyObject *b = side_value(e, obj, make_utf8_surrogatepass);
            if (b == NULL) {
                return SI_ERR_PYTHON;
            }
            put_blob(e, 's', PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
        }
    } else if (PyBytes_CheckExact(obj)) {
        put_blob(e, 'b', PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj));
    } else if (PyList_CheckExact(obj) || PyTuple_CheckExact(obj)) {
        if (depth >= SI_MAX_DEPTH) {
            return too_deep();
        }
        int is_list = PyList_CheckExact(obj);
        Py_ssize_t n = is_list ? PyList_GET_SIZE(obj) : PyTuple_GET_SIZE(obj);
        put_byte(e, is_list ? 'l' : 't');
        put_uvarint(e, (uint64_t)n);
        for (Py_ssize_t i = 0; i < n; i++) {
            if (is_list && i >= PyList_GET_SIZE(obj)) {
                PyErr_SetString(PyExc_RuntimeError, "list changed size while it was being shared");
                return SI_ERR_PYTHON;
            }
            PyObject *item = is_list ? PyList_GET_ITEM(obj, i) : PyTuple_GET_ITEM(obj, i);
            Py_INCREF(item);
            int rc = enc(e, item, depth + 1);
            Py_DECREF(item);
            if (rc < 0) {
                return rc;
            }
        }
    } else if (PyDict_CheckExact(obj)) {
        if (depth >= SI_MAX_DEPTH) {
            return too_deep();
        }
        Py_ssize_t n = PyDict_GET_SIZE(obj), pos = 0, seen = 0;
        PyObject *k, *v;
        put_byte(e, 'd');
        put_uvarint(e, (uint64_t)n);
        while (PyDict_Next(obj, &pos, &k, &v)) {
            if (++seen > n) {
                PyErr_SetString(PyExc_RuntimeError, "dict changed size while it was being shared");
                return SI_ERR_PYTHON;
            }
            Py_INCREF(k);
            Py_INCREF(v);
            int rc = enc(e, k, depth + 1);
            if (rc == 0) {
                rc = enc(e, v, depth + 1);
            }
            Py_DECREF(k);
            Py_DECREF(v);
            if (rc < 0) {
                return rc;
            }
        }
        if (seen != n) {
            PyErr_SetString(PyExc_RuntimeError, "dict changed size while it was being shared");
            return SI_ERR_PYTHON;
        }
    } else if (PyAnySet_CheckExact(obj)) {
        return enc_set(e, obj, depth);
    } else if ((e->flags & SI_ENC_BYTES_LIKE) && PyByteArray_CheckExact(obj)) {
        put_blob(e, 'b', PyByteArray_AS_STRING(obj), PyByteArray_GET_SIZE(obj));
    } else if ((e->flags & SI_ENC_BYTES_LIKE) && PyMemoryView_Check(obj)) {
        PyObject *b = side_value(e, obj, PyBytes_FromObject);
        if (b == NULL) {
            return SI_ERR_PYTHON;
        }
        put_blob(e, 'b', PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    } else if (si_channel_end(obj, &end_kind, &end_id)) {
        if (end_id <= 0) {
            PyErr_SetString(PyExc_ValueError, "a released channel end is not shareable");
            return SI_ERR_NOT_SHAREABLE;
        }
        put_byte(e, end_kind);
        put_uvarint(e, (uint64_t)end_id);
    } else if ((tkind = time_kind(obj)) != SI_NOT_TIME) {
        if (tkind < 0) {
            return SI_ERR_PYTHON;
        }
        return enc_time(e, obj, tkind);
    } else if (e->flags & SI_ENC_PICKLE) {
        PyObject *data = side_value(e, obj, make_pickle);
        if (data == NULL) {
            return pickle_failed(obj);
        }
        put_blob(e, 'p', PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data));
    } else {
        return si_set_not_shareable(obj);
    }
    return 0;
}

/* si_encoded_size returns the encoded size of obj, or a negative SI_ERR_*
 * with an exception set. On success *side holds the temporaries that
 * si_encode_into needs (a new reference it consumes, or NULL: most values
 * need none). */
Py_ssize_t si_encoded_size(PyObject *obj, int flags, PyObject **side) {
    si_assert_attached(NULL);
    encoder e = {0};
    e.flags = flags;
    int rc = enc(&e, obj, 0);
    if (rc < 0) {
        Py_XDECREF(e.side);
        return rc;
    }
    *side = e.side;
    return e.pos;
}

/* si_encode_into writes obj into out (size bytes, from si_encoded_size) and
 * releases side. It fails, rather than overruns, if obj changed meanwhile. */
Py_ssize_t si_encode_into(PyObject *obj, int flags, PyObject *side, char *out, Py_ssize_t size) {
    encoder e = {0};
    e.out = out;
    e.cap = size;
    e.flags = flags;
    e.side = side;
    int rc = enc(&e, obj, 0);
    Py_XDECREF(side);
    if (rc < 0) {
        return rc;
    }
    if (e.pos != size) {
        PyErr_SetString(PyExc_RuntimeError, "value changed while it was being shared");
        return SI_ERR_PYTHON;
    }
    return e.pos;
}

typedef struct {
    const unsigned char *p, *end;
    si_buf *bufs;
    int nbufs;
    module_state *st; /* looked up on the first channel end or buffer */
    const si_buf *oob; /* a call's out-of-band bytes ('O'), read only */
    int noob;
} decoder;

static module_state *dec_state(decoder *d) {
    if (d->st == NULL) {
        d->st = si_state();
    }
    return d->st;
}

static PyObject *corrupt(void) {
    PyErr_SetString(PyExc_ValueError, "corrupt value encoding");
    return NULL;
}

static int get_uvarint(decoder *d, uint64_t *v) {
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (d->p >= d->end) {
            return -1;
        }
        unsigned char b = *d->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int get_len(decoder *d, Py_ssize_t *n) {
    uint64_t v;
    if (get_uvarint(d, &v) < 0 || v > (uint64_t)(d->end - d->p)) {
        return -1; /* every element takes at least one byte */
    }
    *n = (Py_ssize_t)v;
    return 0;
}

static int get_u64le(decoder *d, uint64_t *v) {
    if (d->end - d->p < 8) {
        return -1;
    }
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) {
        x |= (uint64_t)d->p[i] << (8 * i);
    }
    d->p += 8;
    *v = x;
    return 0;
}

/* time_from_micros builds an aware UTC datetime ('D') or a timedelta
 * ('U') from microseconds; out of range raises OverflowError. */
static PyObject *time_from_micros(unsigned char tag, long long us) {
    PyObject *td = datetime_attr("timedelta");
    if (td == NULL) {
        return NULL;
    }
    PyObject *delta = PyObject_CallFunction(td, "iiL", 0, 0, us);
    Py_DECREF(td);
    if (delta == NULL || tag == 'U') {
        return delta;
    }
    PyObject *res = NULL;
    PyObject *dt = datetime_attr("datetime");
    PyObject *tz = dt ? datetime_attr("timezone") : NULL;
    PyObject *utc = tz ? PyObject_GetAttrString(tz, "utc") : NULL;
    PyObject *epoch = utc ? PyObject_CallFunction(dt, "iiiiiiiO", 1970, 1, 1, 0, 0, 0, 0, utc) : NULL;
    if (epoch != NULL) {
        res = PyNumber_Add(epoch, delta);
    }
    Py_XDECREF(dt);
    Py_XDECREF(tz);
    Py_XDECREF(utc);
    Py_XDECREF(epoch);
    Py_DECREF(delta);
    return res;
}

static PyObject *dec(decoder *d, int depth) {
    if (d->p >= d->end) {
        return corrupt();
    }
    unsigned char tag = *d->p++;
    uint64_t u;
    Py_ssize_t n;
    switch (tag) {
    case 'N':
        return Py_NewRef(Py_None);
    case 'T':
        return Py_NewRef(Py_True);
    case 'F':
        return Py_NewRef(Py_False);
    case 'i':
        if (get_u64le(d, &u) < 0) {
            return corrupt();
        }
        return PyLong_FromLongLong((long long)u);
    case 'D':
    case 'U': {
        if (get_u64le(d, &u) < 0) {
            return corrupt();
        }
        return time_from_micros(tag, (long long)u);
    }
    case 'f': {
        if (get_u64le(d, &u) < 0) {
            return corrupt();
        }
        double f;
        memcpy(&f, &u, 8);
        return PyFloat_FromDouble(f);
    }
    case 'I': {
        if (get_len(d, &n) < 0) {
            return corrupt();
        }
        char *text = PyMem_Malloc((size_t)n + 1);
        if (text == NULL) {
            return PyErr_NoMemory();
        }
        memcpy(text, d->p, (size_t)n);
        text[n] = 0;
        d->p += n;
        PyObject *v = PyLong_FromString(text, NULL, 16);
        PyMem_Free(text);
        return v;
    }
    case 's':
    case 'b':
    case 'p': {
        if (get_len(d, &n) < 0) {
            return corrupt();
        }
        const char *s = (const char *)d->p;
        d->p += n;
        if (tag == 's') {
            return PyUnicode_DecodeUTF8(s, n, "surrogatepass");
        }
        if (tag == 'p') {
            PyObject *g = global_load((const unsigned char *)s, n);
            if (g != NULL || PyErr_Occurred()) {
                return g;
            }
        }
        PyObject *b = PyBytes_FromStringAndSize(s, n);
        if (tag == 'b' || b == NULL) {
            return b;
        }
        PyObject *loads = si_pickle_func(1);
        PyObject *v = loads ? PyObject_CallOneArg(loads, b) : NULL;
        Py_DECREF(b);
        return v;
    }
    case 'r':
    case 'w': {
        if (get_uvarint(d, &u) < 0 || u == 0 || u > INT64_MAX) {
            return corrupt();
        }
        module_state *st = dec_state(d);
        return st ? si_new_end(st, tag, (int64_t)u, 1) : NULL;
    }
    case 'B': {
        if (get_uvarint(d, &u) < 0 || u >= (uint64_t)d->nbufs || d->bufs[u].used) {
            return corrupt();
        }
        module_state *st = dec_state(d);
        return st ? si_new_buffer_view(st, &d->bufs[u]) : NULL;
    }
    case 'O': {
        if (get_uvarint(d, &u) < 0 || u >= (uint64_t)d->noob) {
            return corrupt();
        }
        return PyBytes_FromStringAndSize(d->oob[u].ptr, d->oob[u].len);
    }
    case 'S':
    case 'Z': {
        if (depth >= SI_MAX_DEPTH || get_len(d, &n) < 0) {
            return corrupt();
        }
        PyObject *set = tag == 'S' ? PySet_New(NULL) : PyFrozenSet_New(NULL);
        if (set == NULL) {
            return NULL;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *item = dec(d, depth + 1);
            int rc = item ? PySet_Add(set, item) : -1; /* fills a new frozenset too */
            Py_XDECREF(item);
            if (rc < 0) {
                Py_DECREF(set);
                return NULL;
            }
        }
        return set;
    }
    case 'l':
    case 't': {
        if (depth >= SI_MAX_DEPTH || get_len(d, &n) < 0) {
            return corrupt();
        }
        PyObject *seq = tag == 'l' ? PyList_New(n) : PyTuple_New(n);
        if (seq == NULL) {
            return NULL;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *item = dec(d, depth + 1);
            if (item == NULL) {
                Py_DECREF(seq);
                return NULL;
            }
            if (tag == 'l') {
                PyList_SET_ITEM(seq, i, item);
            } else {
                PyTuple_SET_ITEM(seq, i, item);
            }
        }
        return seq;
    }
    case 'd': {
        if (depth >= SI_MAX_DEPTH || get_len(d, &n) < 0) {
            return corrupt();
        }
        PyObject *dict = PyDict_New();
        if (dict == NULL) {
            return NULL;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *k = dec(d, depth + 1);
            PyObject *v = k ? dec(d, depth + 1) : NULL;
            int rc = v ? PyDict_SetItem(dict, k, v) : -1;
            Py_XDECREF(k);
            Py_XDECREF(v);
            if (rc < 0) {
                Py_DECREF(dict);
                return NULL;
            }
        }
        return dict;
    }
    }
    return corrupt();
}

/* si_decode builds a new object from one encoded value, or sets an
 * exception and returns NULL. */
PyObject *si_decode(const char *data, Py_ssize_t len) { return si_decode_bufs(data, len, NULL, 0); }

/* si_decode_bufs decodes a message whose 'B' tags refer to bufs; each
 * buffer an object took over is marked used. */
PyObject *si_decode_bufs(const char *data, Py_ssize_t len, si_buf *bufs, int nbufs) {
    si_assert_attached(NULL);
    decoder d = {(const unsigned char *)data, (const unsigned char *)data + len, bufs, nbufs, NULL, NULL, 0};
    PyObject *v = dec(&d, 0);
    if (v != NULL && d.p != d.end) {
        Py_DECREF(v);
        return corrupt();
    }
    return v;
}

/* si_decode_args decodes a call's argument tuple, encoded by
 * channel.AppendEncodeArgsOOB, whose 'O' tags index oob: the tuple itself
 * does not count toward SI_MAX_DEPTH (it starts at depth -1), so an
 * argument may nest exactly as deeply as any value channel.Encode accepts. */
PyObject *si_decode_args(const char *data, Py_ssize_t len, const si_buf *oob, int noob) {
    if (len < 1 || data[0] != 't') {
        PyErr_SetString(PyExc_TypeError, "call arguments must be a tuple");
        return NULL;
    }
    decoder d = {(const unsigned char *)data, (const unsigned char *)data + len, NULL, 0, NULL, oob, noob};
    PyObject *v = dec(&d, -1);
    if (v != NULL && d.p != d.end) {
        Py_DECREF(v);
        return corrupt();
    }
    return v;
}
