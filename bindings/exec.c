/* Running code in the current interpreter. Every function here runs on the
 * interpreter's own thread with its GIL held, and returns NULL / -1 with a
 * Python exception set on failure. */
#include "bindings.h"
#include <string.h>

static PyObject *main_dict(void) {
    PyObject *main = PyImport_AddModule("__main__"); /* borrowed */
    return main ? PyModule_GetDict(main) : NULL;      /* borrowed */
}

/* compile_source compiles src (not NUL-terminated) as a module or an
 * expression. The C-API takes C strings, so an embedded NUL would silently
 * cut the source short: reject it the way compile() does. */
static PyObject *compile_source(const char *src, Py_ssize_t len, int start) {
    if (memchr(src, 0, (size_t)len) != NULL) {
        PyErr_SetString(PyExc_SyntaxError, "source code string cannot contain null bytes");
        return NULL;
    }
    char *text = PyMem_Malloc((size_t)len + 1);
    if (text == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(text, src, (size_t)len);
    text[len] = 0;
    PyObject *code = Py_CompileString(text, "<string>", start);
    PyMem_Free(text);
    return code;
}

/* The code cache. A service evaluates the same few expressions and
 * snippets over and over, and compiling even "1" costs ~10 us, several
 * times a whole Call: code objects of recent sources are kept per
 * interpreter (code is immutable; each run gets a fresh frame, and runs of
 * one code object share its specialisations). Sources above
 * CODE_CACHE_SRC_MAX are not kept: those are one-off scripts. At most
 * CODE_CACHE_MAX entries per start symbol; the oldest goes first. */
#define CODE_CACHE_MAX 256
#define CODE_CACHE_SRC_MAX 4096

/* compile_cached is compile_source through the code cache. Syntax errors
 * are not cached: they raise afresh every time. */
static PyObject *compile_cached(const char *src, Py_ssize_t len, int start) {
    if (len > CODE_CACHE_SRC_MAX) {
        return compile_source(src, len, start);
    }
    module_state *st = si_state();
    if (st == NULL) {
        /* Code can hide the module (sys.modules['subinterp'] = None): Exec
         * and Eval still work, uncached. */
        PyErr_Clear();
        return compile_source(src, len, start);
    }
    PyObject **cache = &st->code_cache[start == Py_eval_input ? 1 : 0];
    if (*cache == NULL && (*cache = PyDict_New()) == NULL) {
        return NULL;
    }
    PyObject *key = PyBytes_FromStringAndSize(src, len);
    if (key == NULL) {
        return NULL;
    }
    PyObject *code = PyDict_GetItemWithError(*cache, key); /* borrowed */
    if (code != NULL || PyErr_Occurred()) {
        Py_DECREF(key);
        return Py_XNewRef(code);
    }
    code = compile_source(src, len, start);
    if (code == NULL) {
        Py_DECREF(key);
        return NULL;
    }
    if (PyDict_GET_SIZE(*cache) >= CODE_CACHE_MAX) {
        /* Dicts keep insertion order: the first key is the oldest. */
        Py_ssize_t pos = 0;
        PyObject *oldest, *unused;
        if (PyDict_Next(*cache, &pos, &oldest, &unused)) {
            Py_INCREF(oldest);
            int rc = PyDict_DelItem(*cache, oldest);
            Py_DECREF(oldest);
            if (rc < 0) {
                Py_DECREF(key);
                Py_DECREF(code);
                return NULL;
            }
        }
    }
    int rc = PyDict_SetItem(*cache, key, code);
    Py_DECREF(key);
    if (rc < 0) {
        Py_DECREF(code);
        return NULL;
    }
    return code;
}

/* si_exec runs src in __main__ after binding the names of the encoded dict
 * bind (if any) as globals. */
int si_exec(const char *src, Py_ssize_t len, const char *bind, Py_ssize_t bindlen) {
    si_assert_attached(NULL);
    PyObject *globals = main_dict();
    if (globals == NULL) {
        return -1;
    }
    if (bindlen > 0) {
        PyObject *names = si_decode(bind, bindlen);
        if (names == NULL) {
            return -1;
        }
        int rc = PyDict_Update(globals, names);
        Py_DECREF(names);
        if (rc < 0) {
            return -1;
        }
    }
    PyObject *code = compile_cached(src, len, Py_file_input);
    if (code == NULL) {
        return -1;
    }
    PyObject *res = PyEval_EvalCode(code, globals, globals);
    Py_DECREF(code);
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    return 0;
}

/* si_eval evaluates an expression in __main__. */
PyObject *si_eval(const char *src, Py_ssize_t len) {
    si_assert_attached(NULL);
    PyObject *globals = main_dict();
    if (globals == NULL) {
        return NULL;
    }
    PyObject *code = compile_cached(src, len, Py_eval_input);
    if (code == NULL) {
        return NULL;
    }
    PyObject *res = PyEval_EvalCode(code, globals, globals);
    Py_DECREF(code);
    return res;
}

/* lookup_global finds a plain name in __main__, then in builtins. */
static PyObject *lookup_global(PyObject *name) {
    PyObject *globals = main_dict();
    if (globals == NULL) {
        return NULL;
    }
    PyObject *v = PyDict_GetItemWithError(globals, name);
    if (v == NULL && !PyErr_Occurred()) {
        v = PyDict_GetItemWithError(PyEval_GetBuiltins(), name);
    }
    if (v == NULL && !PyErr_Occurred()) {
        PyErr_Format(PyExc_NameError, "name '%U' is not defined", name);
    }
    return Py_XNewRef(v);
}

/* names_module_or_parent reports whether name (a ModuleNotFoundError's
 * .name) is modname or one of its parent packages, in whole dotted parts:
 * "a", "a.b" or "a.b.c" for "a.b.c", but not "a.b" for "a.bc" (a module
 * that failed to import a missing module "a.b" is not missing itself). */
static int names_module_or_parent(PyObject *modname, PyObject *name) {
    if (name == NULL || !PyUnicode_Check(name)) {
        return 0;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(name), m = PyUnicode_GET_LENGTH(modname);
    if (n > m || PyUnicode_Tailmatch(modname, name, 0, n, -1) != 1) {
        return 0;
    }
    return n == m || PyUnicode_READ_CHAR(modname, n) == '.';
}

/* import_prefix imports the longest dotted prefix of parts[0..] that names a
 * module: "pkg.mod.Class.method" imports pkg.mod. It returns the module and
 * sets *used to the number of parts consumed, or returns NULL with *used 0
 * and no error when not even parts[0] is a module (keeping the import error
 * in *missing for the message). */
static PyObject *import_prefix(PyObject *parts, Py_ssize_t *used, PyObject **missing) {
    Py_ssize_t n = PyList_GET_SIZE(parts);
    *used = 0;
    for (Py_ssize_t k = n - 1; k >= 1; k--) {
        PyObject *head = PyList_GetSlice(parts, 0, k);
        if (head == NULL) {
            return NULL;
        }
        PyObject *dot = PyUnicode_FromString(".");
        PyObject *modname = dot ? PyUnicode_Join(dot, head) : NULL;
        Py_XDECREF(dot);
        Py_DECREF(head);
        if (modname == NULL) {
            return NULL;
        }
        /* sys.modules first: a module already imported needs none of the
         * import machinery (microseconds per call otherwise). */
        PyObject *mod = PyImport_GetModule(modname);
        if (mod != NULL && !PyModule_Check(mod)) {
            Py_CLEAR(mod); /* None (import blocked) or a stand-in: let import decide */
        }
        if (mod == NULL && !PyErr_Occurred()) {
            mod = PyImport_Import(modname);
        }
        if (mod != NULL) {
            Py_DECREF(modname);
            *used = k;
            return mod;
        }
        if (!PyErr_ExceptionMatches(PyExc_ModuleNotFoundError)) {
            Py_DECREF(modname);
            return NULL;
        }
        /* Only "this prefix is not a module" means try a shorter one; a
         * module that fails to import one of its own imports is an error. */
        PyObject *exc = PyErr_GetRaisedException();
        PyObject *excname = PyObject_GetAttrString(exc, "name");
        int same = names_module_or_parent(modname, excname);
        Py_XDECREF(excname);
        PyErr_Clear();
        Py_DECREF(modname);
        if (!same) {
            PyErr_SetRaisedException(exc);
            return NULL;
        }
        Py_XSETREF(*missing, exc);
    }
    return NULL;
}

/* resolve turns "json.dumps", "pkg.mod.func", "obj.method" or "name" into
 * the object it names. */
static PyObject *resolve(const char *fn, Py_ssize_t len) {
    if (len > 0 && memchr(fn, '.', (size_t)len) == NULL) {
        PyObject *plain = PyUnicode_FromStringAndSize(fn, len);
        if (plain == NULL) {
            return NULL;
        }
        PyObject *obj = lookup_global(plain);
        Py_DECREF(plain);
        return obj;
    }
    PyObject *name = PyUnicode_FromStringAndSize(fn, len);
    PyObject *sep = PyUnicode_FromString(".");
    PyObject *parts = (name && sep) ? PyUnicode_Split(name, sep, -1) : NULL;
    Py_XDECREF(name);
    Py_XDECREF(sep);
    if (parts == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(parts);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyUnicode_GET_LENGTH(PyList_GET_ITEM(parts, i)) == 0) {
            Py_DECREF(parts);
            PyObject *whole = PyUnicode_FromStringAndSize(fn, len);
            if (whole != NULL) {
                PyErr_Format(PyExc_ValueError, "invalid function name %R", whole);
                Py_DECREF(whole);
            }
            return NULL;
        }
    }
    PyObject *missing = NULL, *obj = NULL;
    Py_ssize_t used = 0;
    if (n > 1) {
        obj = import_prefix(parts, &used, &missing);
        if (obj == NULL && PyErr_Occurred()) {
            Py_XDECREF(missing);
            Py_DECREF(parts);
            return NULL;
        }
    }
    if (obj == NULL) {
        obj = lookup_global(PyList_GET_ITEM(parts, 0));
        if (obj == NULL && missing != NULL && PyErr_ExceptionMatches(PyExc_NameError)) {
            /* "nosuchmod.f": say the module is missing, not the name. */
            PyErr_Clear();
            PyErr_SetRaisedException(missing);
            missing = NULL;
        }
        used = 1;
    }
    Py_XDECREF(missing);
    for (Py_ssize_t i = used; obj != NULL && i < n; i++) {
        Py_SETREF(obj, PyObject_GetAttr(obj, PyList_GET_ITEM(parts, i)));
    }
    Py_DECREF(parts);
    return obj;
}

/* si_call calls the object fn names with the encoded tuple args (whose 'O'
 * tags index oob) and, if kwlen > 0, the keyword arguments in kw (an
 * encoded dict with str keys). */
PyObject *si_call(const char *fn, Py_ssize_t fnlen, const char *args, Py_ssize_t argslen,
                  const si_buf *oob, int noob, const char *kw, Py_ssize_t kwlen) {
    si_assert_attached(NULL);
    PyObject *callable = resolve(fn, fnlen);
    if (callable == NULL) {
        return NULL;
    }
    PyObject *argv = si_decode_args(args, argslen, oob, noob);
    PyObject *kwargs = NULL;
    if (argv != NULL && kwlen > 0) {
        kwargs = si_decode(kw, kwlen);
        if (kwargs != NULL && !PyDict_CheckExact(kwargs)) {
            Py_CLEAR(kwargs);
            PyErr_SetString(PyExc_TypeError, "keyword arguments must be a dict");
        }
        if (kwargs == NULL) {
            Py_CLEAR(argv);
        }
    }
    if (argv == NULL) {
        Py_DECREF(callable);
        return NULL;
    }
    if (!PyTuple_CheckExact(argv)) {
        Py_DECREF(callable);
        Py_DECREF(argv);
        Py_XDECREF(kwargs);
        PyErr_SetString(PyExc_TypeError, "call arguments must be a tuple");
        return NULL;
    }
    PyObject *res = PyObject_Call(callable, argv, kwargs);
    Py_DECREF(callable);
    Py_DECREF(argv);
    Py_XDECREF(kwargs);
    return res;
}

/* si_call_trampoline is si_call, without keyword arguments, for the PEP
 * 734 layer's own trampolines (subinterp.interpreters._run_call, ...),
 * whose resolved object is kept per interpreter in the module state:
 * resolving a dotted name costs about a microsecond, on every call(). The
 * layer never rebinds them (a reload re-runs the module in the same
 * globals, which the kept functions use). */
PyObject *si_call_trampoline(const char *fn, Py_ssize_t fnlen, const char *args, Py_ssize_t argslen) {
    si_assert_attached(NULL);
    module_state *st = si_state();
    if (st == NULL) {
        return NULL;
    }
    if (st->trampolines == NULL && (st->trampolines = PyDict_New()) == NULL) {
        return NULL;
    }
    PyObject *name = PyUnicode_FromStringAndSize(fn, fnlen);
    if (name == NULL) {
        return NULL;
    }
    PyObject *callable = PyDict_GetItemWithError(st->trampolines, name); /* borrowed */
    if (callable != NULL) {
        Py_INCREF(callable);
    } else if (!PyErr_Occurred() && (callable = resolve(fn, fnlen)) != NULL &&
               PyDict_SetItem(st->trampolines, name, callable) < 0) {
        Py_CLEAR(callable);
    }
    Py_DECREF(name);
    if (callable == NULL) {
        return NULL;
    }
    PyObject *argv = si_decode_args(args, argslen, NULL, 0);
    if (argv != NULL && !PyTuple_CheckExact(argv)) {
        Py_CLEAR(argv);
        PyErr_SetString(PyExc_TypeError, "call arguments must be a tuple");
    }
    PyObject *res = argv ? PyObject_Call(callable, argv, NULL) : NULL;
    Py_DECREF(callable);
    Py_XDECREF(argv);
    return res;
}

/* qualified_name gives "ZeroDivisionError" for builtins and
 * "module.Qualname" otherwise. */
static PyObject *qualified_name(PyTypeObject *tp) {
    PyObject *qual = PyObject_GetAttrString((PyObject *)tp, "__qualname__");
    PyObject *mod = PyObject_GetAttrString((PyObject *)tp, "__module__");
    PyObject *res = NULL;
    if (qual != NULL && mod != NULL && PyUnicode_Check(mod) &&
        PyUnicode_CompareWithASCIIString(mod, "builtins") != 0) {
        res = PyUnicode_FromFormat("%U.%U", mod, qual);
    } else if (qual != NULL) {
        res = Py_NewRef(qual);
    }
    Py_XDECREF(qual);
    Py_XDECREF(mod);
    if (res == NULL) {
        PyErr_Clear();
        res = PyUnicode_FromString(tp->tp_name);
    }
    return res;
}

/* si_error_info takes the pending exception and describes it as three new
 * str references. Never calls PyErr_Print: on SystemExit that exits the
 * process. Returns -1 if there was no exception. */
int si_error_info(PyObject **type_name, PyObject **message, PyObject **traceback) {
    PyObject *exc = PyErr_GetRaisedException();
    if (exc == NULL) {
        return -1;
    }
    *type_name = qualified_name(Py_TYPE(exc));
    *message = PyObject_Str(exc);
    if (*message == NULL) {
        PyErr_Clear();
        *message = PyUnicode_FromString("<exception str() failed>");
    }
    *traceback = NULL;
    /* An interrupt raised again while the code was stopping (cpython
     * retries interrupts that code swallowed) can land in the formatting
     * itself, which is Python code: format again. Retries are at least
     * 50 ms apart, so a second attempt normally completes. */
    for (int attempt = 0; attempt < 3 && *traceback == NULL; attempt++) {
        PyObject *tbmod = PyImport_ImportModule("traceback");
        if (tbmod != NULL) {
            PyObject *lines = PyObject_CallMethod(tbmod, "format_exception", "O", exc);
            if (lines != NULL) {
                PyObject *empty = PyUnicode_FromString("");
                if (empty != NULL) {
                    *traceback = PyUnicode_Join(empty, lines);
                    Py_DECREF(empty);
                }
                Py_DECREF(lines);
            }
            Py_DECREF(tbmod);
        }
        if (*traceback == NULL && !PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
            break;
        }
        PyErr_Clear();
    }
    if (*traceback == NULL) {
        PyErr_Clear();
        *traceback = PyUnicode_FromString("");
    }
    Py_DECREF(exc);
    return 0;
}

/* si_flush_std flushes sys.stdout and sys.stderr, so output reaches its
 * file descriptor when a call ends rather than when the buffer fills. */
void si_flush_std(void) {
    PyObject *exc = PyErr_GetRaisedException();
    const char *names[] = {"stdout", "stderr"};
    for (int i = 0; i < 2; i++) {
        PyObject *f = PySys_GetObject(names[i]); /* borrowed */
        if (f != NULL && f != Py_None) {
            PyObject *r = PyObject_CallMethod(f, "flush", NULL);
            if (r == NULL) {
                PyErr_Clear();
            }
            Py_XDECREF(r);
        }
    }
    PyErr_SetRaisedException(exc);
}
