/* Go owns the process's signals. The runtime starts with
 * install_signal_handlers = 0, but Python code could still take signals
 * over: signal.signal (main interpreter) installs a C handler with
 * sigaction, replacing Go's, so os/signal.Notify stops seeing the signal;
 * faulthandler.enable installs handlers for SIGSEGV, SIGBUS, SIGFPE,
 * SIGABRT and SIGILL, after which the nil-pointer dereference a Go program
 * recovers from kills the process instead. si_guard_signals makes
 * _signal.signal, _signal.set_wakeup_fd, _signal.siginterrupt,
 * faulthandler.enable and faulthandler.register raise RuntimeError (and so
 * signal.signal, signal.py's wrapper, which calls _signal.signal when
 * called), in two ways:
 *
 *  - Method tables. Once, from the main interpreter at start-up, the
 *    entries of the two builtin modules' PyModuleDef.m_methods (static data
 *    of the CPython binary) are pointed at refusing C functions with the
 *    same calling convention. Every module object made from those tables,
 *    in any interpreter, by any route, gets refusing functions: a plain
 *    import, a re-import after `del sys.modules["_signal"]`, faulthandler
 *    imported into an isolated interpreter through
 *    _imp._override_multi_interp_extensions_check (its plain import fails
 *    there: it lacks per-interpreter GIL support). Replacing module
 *    attributes alone would leave all of these open.
 *  - Module attributes. The module objects that exist when the call runs
 *    (the main interpreter's, which it imports for the tables; in a new
 *    interpreter none, as CPython imports neither module when it makes
 *    one) get refusing functions as those attributes, and signal.py's
 *    copies too if it was imported: this does not depend on how CPython
 *    calls through a method table.
 *
 * Reading signal state stays allowed: signal.getsignal, faulthandler's
 * is_enabled, dump_traceback, dump_traceback_later. ctypes can of course
 * still call sigaction: this guards against Python code, not against C. */
#include "bindings.h"
#include <string.h>

static PyObject *refuse(const char *what) {
    PyErr_Format(PyExc_RuntimeError,
                 "subinterp: Go owns the process's signals; %s(...) is refused (see README, Limits)", what);
    return NULL;
}

/* One refusing C function per guarded name and calling convention (a
 * method table entry keeps its flags, so its replacement must match them).
 * METH_NOARGS and METH_O share the (self, arg) signature of METH_VARARGS. */
#define REFUSER(id, what)                                                                              \
    static PyObject *id##_args(PyObject *self, PyObject *args) { return refuse(what); }                \
    static PyObject *id##_kw(PyObject *self, PyObject *args, PyObject *kw) { return refuse(what); }   \
    static PyObject *id##_fast(PyObject *self, PyObject *const *args, Py_ssize_t n) {                  \
        return refuse(what);                                                                           \
    }                                                                                                  \
    static PyObject *id##_fastkw(PyObject *self, PyObject *const *args, Py_ssize_t n, PyObject *kw) { \
        return refuse(what);                                                                           \
    }

REFUSER(sig_signal, "signal.signal")
REFUSER(sig_wakeup, "signal.set_wakeup_fd")
REFUSER(sig_interrupt, "signal.siginterrupt")
REFUSER(fh_enable, "faulthandler.enable")
REFUSER(fh_register, "faulthandler.register")

typedef void (*any_fn)(void);

typedef struct {
    const char *module; /* builtin module whose attribute is replaced */
    int copied;         /* signal.py copies it (`from _signal import *`) */
    any_fn args, kw, fast, fastkw;
    PyMethodDef def; /* the attribute's replacement; def.ml_name is its name */
} guarded;

#define REFUSE_DOC(what) \
    "Refused: Go owns the process's signals, so " what "() would break Go's signal handling (see README, Limits)."

#define GUARD(mod, copied, id, name, what)                                                                  \
    {mod, copied, (any_fn)id##_args, (any_fn)id##_kw, (any_fn)id##_fast, (any_fn)id##_fastkw,               \
     {name, (PyCFunction)(any_fn)id##_kw, METH_VARARGS | METH_KEYWORDS, REFUSE_DOC(what)}}

/* signal.signal is not a copy: it is signal.py's wrapper around
 * _signal.signal. */
static guarded guards[] = {
    GUARD("_signal", 0, sig_signal, "signal", "signal.signal"),
    GUARD("_signal", 1, sig_wakeup, "set_wakeup_fd", "signal.set_wakeup_fd"),
    GUARD("_signal", 1, sig_interrupt, "siginterrupt", "signal.siginterrupt"),
    GUARD("faulthandler", 0, fh_enable, "enable", "faulthandler.enable"),
    GUARD("faulthandler", 0, fh_register, "register", "faulthandler.register"),
};

#define NGUARDS ((int)(sizeof guards / sizeof guards[0]))

/* redirect points the method table entry g names (in mod's PyModuleDef)
 * at the refusing function of the same convention. Absent entries (no
 * faulthandler.register on Windows, no siginterrupt without it) are fine;
 * a convention this code does not know is an error, not a silent gap. */
static int redirect(PyObject *mod, guarded *g) {
    PyModuleDef *def = PyModule_GetDef(mod);
    if (def == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_RuntimeError, "subinterp: cannot guard %s: no module definition", g->module);
        }
        return -1;
    }
    for (PyMethodDef *m = def->m_methods; m != NULL && m->ml_name != NULL; m++) {
        if (strcmp(m->ml_name, g->def.ml_name) != 0) {
            continue;
        }
        any_fn to;
        switch (m->ml_flags & (METH_VARARGS | METH_KEYWORDS | METH_NOARGS | METH_O | METH_FASTCALL | METH_METHOD)) {
        case METH_VARARGS:
        case METH_NOARGS:
        case METH_O:
            to = g->args;
            break;
        case METH_VARARGS | METH_KEYWORDS:
            to = g->kw;
            break;
        case METH_FASTCALL:
            to = g->fast;
            break;
        case METH_FASTCALL | METH_KEYWORDS:
            to = g->fastkw;
            break;
        default:
            PyErr_Format(PyExc_RuntimeError, "subinterp: cannot guard %s.%s: unknown calling convention %d",
                         g->module, g->def.ml_name, m->ml_flags);
            return -1;
        }
        if (m->ml_meth != (PyCFunction)to) { /* written once: later calls only read */
            m->ml_meth = (PyCFunction)to;
        }
        return 0;
    }
    return 0;
}

/* replace sets the refusing function as g's name in mod, if mod has that
 * name (no faulthandler.register on Windows). */
static int replace(PyObject *mod, guarded *g) {
    if (!PyObject_HasAttrString(mod, g->def.ml_name)) {
        return 0;
    }
    PyObject *modname = PyModule_GetNameObject(mod);
    if (modname == NULL) {
        return -1;
    }
    PyObject *fn = PyCFunction_NewEx(&g->def, NULL, modname);
    Py_DECREF(modname);
    if (fn == NULL) {
        return -1;
    }
    int rc = PyObject_SetAttrString(mod, g->def.ml_name, fn);
    Py_DECREF(fn);
    return rc;
}

/* module returns a new reference to the module name of the current
 * interpreter, importing it if import is set (NULL and no error if this
 * interpreter cannot import it: faulthandler in an isolated interpreter),
 * else only if it was imported already (NULL and no error if not). */
static PyObject *module(const char *name, int import) {
    if (import) {
        PyObject *mod = PyImport_ImportModule(name);
        if (mod == NULL && PyErr_ExceptionMatches(PyExc_ImportError)) {
            PyErr_Clear();
        }
        return mod;
    }
    PyObject *str = PyUnicode_FromString(name);
    if (str == NULL) {
        return NULL;
    }
    PyObject *mod = PyImport_GetModule(str);
    Py_DECREF(str);
    return mod;
}

/* si_guard_signals guards the current interpreter (see the top of this
 * file). Called from the main interpreter, it imports both modules and
 * redirects their method tables; the main interpreter calls it first, at
 * start-up, before any other interpreter exists (after that the tables are
 * only read). In another interpreter it only replaces attributes of
 * modules already imported, which costs next to nothing. Returns -1 with an
 * exception set on failure. */
int si_guard_signals(void) {
    int main = PyInterpreterState_Get() == PyInterpreterState_Main();
    PyObject *signal_py = module("signal", 0); /* importing signal.py would pull in enum */
    if (signal_py == NULL && PyErr_Occurred()) {
        return -1;
    }
    PyObject *mod = NULL;
    int rc = 0;
    for (int i = 0; i < NGUARDS && rc == 0; i++) {
        guarded *g = &guards[i];
        if (i == 0 || strcmp(guards[i - 1].module, g->module) != 0) {
            Py_XSETREF(mod, module(g->module, main));
            if (mod == NULL && PyErr_Occurred()) {
                rc = -1;
                break;
            }
        }
        if (mod != NULL && main) {
            rc = redirect(mod, g);
        }
        if (rc == 0 && mod != NULL) {
            rc = replace(mod, g);
        }
        if (rc == 0 && g->copied && signal_py != NULL) {
            rc = replace(signal_py, g);
        }
    }
    Py_XDECREF(mod);
    Py_XDECREF(signal_py);
    return rc;
}
