/* The thread-state sequences that create, run and end interpreters.
 *
 * Rules this file keeps (checked under a --with-pydebug build, which asserts
 * on a wrong GIL or thread state):
 *  - Each interpreter is used from exactly one OS thread for its whole life,
 *    holding exactly one thread state of its own (created by
 *    Py_InitializeFromConfig or Py_NewInterpreterFromConfig).
 *  - Between tasks that thread state is detached (si_tstate_detach), so
 *    Python threads the code started can run, and the GIL is free.
 *  - Creating an interpreter needs the main interpreter's GIL: the creating
 *    thread attaches a temporary main-interpreter thread state, and deletes
 *    it again once the new interpreter exists.
 */
#include "lifecycle.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *status_message(const char *what, PyStatus st) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s: %s%s%s", what, st.func ? st.func : "", st.func ? ": " : "",
             st.err_msg ? st.err_msg : "failed");
    return strdup(buf);
}

/* si_prepend_sys_path puts paths at the front of the current interpreter's
 * sys.path, in order. (The isolated config ignores pythonpath_env, and since
 * 3.11 PyConfig_Read no longer computes the search path we could extend.) */
int si_prepend_sys_path(char **paths, int n) {
    PyObject *path = PySys_GetObject("path"); /* borrowed */
    if (path == NULL || !PyList_Check(path)) {
        PyErr_SetString(PyExc_RuntimeError, "sys.path is not a list");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        PyObject *p = PyUnicode_DecodeFSDefault(paths[i]);
        int rc = p ? PyList_Insert(path, i, p) : -1;
        Py_XDECREF(p);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

/* si_setup_interp prepares a new interpreter, on its thread with its GIL
 * held: module paths first on sys.path, and sys.stdout line-buffered so
 * printed lines reach the file descriptor without a flush after every call
 * (Exec still flushes when it ends). */
int si_setup_interp(char **paths, int npaths) {
    if (si_prepend_sys_path(paths, npaths) < 0) {
        return -1;
    }
    PyObject *out = PySys_GetObject("stdout"); /* borrowed */
    if (out != NULL && out != Py_None && PyObject_HasAttrString(out, "reconfigure")) {
        PyObject *meth = PyObject_GetAttrString(out, "reconfigure");
        PyObject *args = PyTuple_New(0);
        PyObject *kw = Py_BuildValue("{s:O}", "line_buffering", Py_True);
        PyObject *r = (meth && args && kw) ? PyObject_Call(meth, args, kw) : NULL;
        Py_XDECREF(meth);
        Py_XDECREF(args);
        Py_XDECREF(kw);
        Py_XDECREF(r);
        PyErr_Clear(); /* a stdout that cannot be reconfigured stays as it is */
    }
    return 0;
}

/* si_runtime_init initialises CPython on the calling thread, which then
 * serves the main interpreter, and returns with the main GIL released. */
/* append_bytes_list decodes each of strs as CPython decodes command-line
 * arguments and appends it to list. */
static PyStatus append_bytes_list(PyConfig *config, PyWideStringList *list, char **strs, int n) {
    for (int i = 0; i < n; i++) {
        wchar_t *w = NULL;
        PyStatus st = PyConfig_SetBytesString(config, &w, strs[i]);
        if (PyStatus_Exception(st)) {
            return st;
        }
        st = PyWideStringList_Append(list, w);
        PyMem_RawFree(w);
        if (PyStatus_Exception(st)) {
            return st;
        }
    }
    return PyStatus_Ok();
}

char *si_runtime_init(const si_init_options *o, PyThreadState **main_ts) {
    PyConfig config;
    PyStatus st;
    /* UTF-8 mode and dev mode's memory allocator are decided before the
     * configuration is read, and only from argv when CPython parses it
     * itself (it does not here): pre-initialize with them explicitly. */
    if (o->utf8_mode >= 0 || o->dev_mode) {
        PyPreConfig pre;
        PyPreConfig_InitIsolatedConfig(&pre);
        if (o->utf8_mode >= 0) {
            pre.utf8_mode = o->utf8_mode;
        }
        pre.dev_mode = o->dev_mode;
        st = Py_PreInitialize(&pre);
        if (PyStatus_Exception(st)) {
            return status_message("pre-initializing CPython", st);
        }
    }
    /* The isolated config ignores PYTHON* environment variables and the user
     * site directory: an embedding service should not change behaviour with
     * its caller's shell. */
    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 0; /* Go owns signals */
    config.site_import = !o->no_site;
    config.parse_argv = 0;
    config.pathconfig_warnings = 1;
    /* Go owns signals: faulthandler's handlers (which -X dev would
     * install) stay off. */
    config.faulthandler = 0;
    config.bytes_warning = o->bytes_warning;
    config.optimization_level = o->optimize;
    config.verbose = o->verbose;
    config.write_bytecode = !o->dont_write_bytecode;
    config.quiet = o->quiet;
    config.buffered_stdio = !o->unbuffered;
    config.dev_mode = o->dev_mode;
    /* The isolated config fixes these; unset, CPython reads them from the
     * -X options (and not from PYTHON* variables: use_environment is 0). */
    config.tracemalloc = -1;
    config.perf_profiling = -1;
    config.int_max_str_digits = -1;
    st = append_bytes_list(&config, &config.warnoptions, o->warnoptions, o->nwarnoptions);
    if (PyStatus_Exception(st)) {
        goto fail;
    }
    st = append_bytes_list(&config, &config.xoptions, o->xoptions, o->nxoptions);
    if (PyStatus_Exception(st)) {
        goto fail;
    }
    if (o->home != NULL) {
        st = PyConfig_SetBytesString(&config, &config.home, o->home);
        if (PyStatus_Exception(st)) {
            goto fail;
        }
    }
    if (o->executable != NULL) {
        st = PyConfig_SetBytesString(&config, &config.executable, o->executable);
        if (PyStatus_Exception(st)) {
            goto fail;
        }
    }
    st = PyConfig_SetBytesArgv(&config, o->argc, o->argv);
    if (PyStatus_Exception(st)) {
        goto fail;
    }
    st = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(st)) {
        goto fail;
    }
    PyConfig_Clear(&config);
#if PY_VERSION_HEX < 0x030E0000
    /* Before 3.14, _datetime sets up its static types when a module
     * imports it, and two interpreters doing that (or ending) at once
     * corrupt memory: the process aborts in Py_EndInterpreter, with
     * CPython's own _interpreters too (python/cpython#136421, #136423).
     * Imported here first, the main interpreter owns those types, as it
     * does in 3.14, and subinterpreters only add their own state. Best
     * effort: a build without _datetime has nothing to protect. */
    PyObject *datetime = PyImport_ImportModule("_datetime");
    if (datetime == NULL) {
        PyErr_Clear();
    }
    Py_XDECREF(datetime);
#endif
    if (si_setup_interp(o->paths, o->npaths) < 0) {
        PyErr_Clear();
        *main_ts = si_tstate_detach();
        return strdup("cannot add the module paths to sys.path");
    }
    *main_ts = si_tstate_detach();
    return NULL;
fail:
    PyConfig_Clear(&config);
    return status_message("initializing CPython", st);
}

/* si_runtime_finalize ends the runtime from the main interpreter's thread;
 * every subinterpreter has been ended before. */
int si_runtime_finalize(PyThreadState *main_ts) {
    si_tstate_attach(main_ts);
    return Py_FinalizeEx();
}

/* si_interp_new creates an interpreter on the calling thread, which will
 * own it, and returns its thread state detached (GIL released). */
char *si_interp_new(const PyInterpreterConfig *cfg, char **paths, int npaths, PyThreadState **out) {
    PyThreadState *main_ts = PyThreadState_New(PyInterpreterState_Main());
    if (main_ts == NULL) {
        return strdup("cannot create a thread state for the main interpreter");
    }
    si_tstate_attach(main_ts);
    PyThreadState *ts = NULL;
    PyStatus st = Py_NewInterpreterFromConfig(&ts, cfg);
    if (PyStatus_Exception(st)) {
        /* On failure CPython swaps the main thread state back in. */
        char *err = status_message("creating an interpreter", st);
        if (PyThreadState_Get() != main_ts) {
            PyThreadState_Swap(main_ts);
        }
        PyThreadState_Clear(main_ts);
        PyThreadState_DeleteCurrent();
        return err;
    }
    /* ts is current and holds the new interpreter's GIL; main_ts is detached. */
    char *err = NULL;
    if (si_setup_interp(paths, npaths) < 0) {
        PyErr_Clear();
        err = strdup("cannot add the module paths to sys.path");
    }
    si_tstate_detach();
    si_tstate_attach(main_ts);
    PyThreadState_Clear(main_ts);
    PyThreadState_DeleteCurrent(); /* also releases the main GIL */
    *out = ts;
    return err;
}

/* si_attach and si_detach bracket every task on an interpreter's thread. */
void si_attach(PyThreadState *ts) { si_tstate_attach(ts); }

void si_detach(void) { (void)si_tstate_detach(); }

/* si_clear_async_exc drops an interrupt that is still pending for thread
 * thread_id (its task has ended); the GIL is held. */
void si_clear_async_exc(unsigned long thread_id) {
    si_assert_attached(NULL);
    PyThreadState_SetAsyncExc(thread_id, NULL);
}

/* A thread of interp other than ts, as the end of an interpreter sees it. */
typedef struct {
    unsigned long ids[64];
    int n;        /* thread states other than ts (may exceed 64) */
} other_threads;

static void collect_other_threads(PyInterpreterState *interp, PyThreadState *ts, other_threads *o) {
    o->n = 0;
    for (PyThreadState *t = PyInterpreterState_ThreadHead(interp); t != NULL; t = PyThreadState_Next(t)) {
        if (t != ts) {
            if (o->n < 64) {
                o->ids[o->n] = t->thread_id;
            }
            o->n++;
        }
    }
}

/* si_thread_count counts the thread states of interp, the caller's included,
 * less the temporary ones interrupters hold (running[3] of them, at most;
 * see si_interrupt_if). Called with interp's GIL held, under which its
 * threads are created. */
int si_thread_count(PyInterpreterState *interp, int64_t *running) {
    int n = 0;
    for (PyThreadState *t = PyInterpreterState_ThreadHead(interp); t != NULL; t = PyThreadState_Next(t)) {
        n++;
    }
    return n - (int)__atomic_load_n(&running[3], __ATOMIC_ACQUIRE);
}

/* joinable_threads returns a new list of the alive non-daemon threading.Thread
 * objects that run on a thread state of interp other than ts (the ones
 * Py_EndInterpreter joins), or NULL with no exception set when threading was
 * never imported. Matching is by OS thread id: threading's "main thread"
 * object in a subinterpreter names the process's main thread, not ours. */
static PyObject *joinable_threads(const other_threads *o, int *daemons) {
    if (daemons != NULL) {
        *daemons = 0;
    }
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    if (o->n == 0) {
        return list;
    }
    PyObject *name = PyUnicode_FromString("threading");
    PyObject *threading = name ? PyImport_GetModule(name) : NULL;
    Py_XDECREF(name);
    PyObject *all = threading ? PyObject_CallMethod(threading, "enumerate", NULL) : NULL;
    Py_XDECREF(threading);
    if (all != NULL && PyList_Check(all)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(all); i++) {
            PyObject *t = PyList_GET_ITEM(all, i);
            PyObject *daemon = PyObject_GetAttrString(t, "daemon");
            PyObject *alive = daemon ? PyObject_CallMethod(t, "is_alive", NULL) : NULL;
            PyObject *ident = alive ? PyObject_GetAttrString(t, "ident") : NULL;
            if (ident != NULL && PyLong_Check(ident) && PyObject_IsTrue(alive) == 1) {
                unsigned long id = PyLong_AsUnsignedLong(ident);
                int is_daemon = PyObject_IsTrue(daemon) == 1;
                for (int k = 0; k < o->n && k < 64; k++) {
                    if (o->ids[k] != id) {
                        continue;
                    }
                    if (is_daemon) {
                        if (daemons != NULL) {
                            (*daemons)++;
                        }
                    } else if (PyList_Append(list, t) < 0) {
                        PyErr_Clear();
                    }
                    break;
                }
            }
            Py_XDECREF(daemon);
            Py_XDECREF(alive);
            Py_XDECREF(ident);
        }
    }
    Py_XDECREF(all);
    PyErr_Clear();
    return list;
}

/* describe_threads writes "name (ident), ..." for a list of threads. */
static char *describe_threads(PyObject *threads) {
    char buf[400];
    size_t used = 0;
    buf[0] = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(threads) && used < sizeof buf - 1; i++) {
        PyObject *t = PyList_GET_ITEM(threads, i);
        PyObject *name = PyObject_GetAttrString(t, "name");
        const char *s = name && PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
        PyObject *ident = PyObject_GetAttrString(t, "ident");
        unsigned long id = ident && PyLong_Check(ident) ? PyLong_AsUnsignedLong(ident) : 0;
        int w = snprintf(buf + used, sizeof buf - used, "%s%s (ident %lu)", i ? ", " : "", s ? s : "?", id);
        Py_XDECREF(name);
        Py_XDECREF(ident);
        PyErr_Clear();
        if (w < 0) {
            break;
        }
        used += (size_t)w;
    }
    if (used >= sizeof buf - 1) {
        strcpy(buf + sizeof buf - 5, "...");
    }
    return strdup(buf);
}

static double monotonic_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* run_threading_atexits calls, once, the callbacks code registered with
 * threading._register_atexit, as threading._shutdown does before it joins
 * the threads at interpreter exit: such a callback may be what tells a
 * thread to end (concurrent.futures' workers, CPython's own tests). */
static void run_threading_atexits(void) {
    PyObject *name = PyUnicode_FromString("threading");
    PyObject *threading = name ? PyImport_GetModule(name) : NULL;
    Py_XDECREF(name);
    PyObject *calls = threading ? PyObject_GetAttrString(threading, "_threading_atexits") : NULL;
    if (calls != NULL && PyList_Check(calls) && PyList_GET_SIZE(calls) > 0) {
        PyObject *todo = PyList_GetSlice(calls, 0, PyList_GET_SIZE(calls));
        /* Once: later join slices must not call them again, and new
         * registrations are refused from now on, as at exit. */
        if (todo != NULL && PyList_SetSlice(calls, 0, PyList_GET_SIZE(calls), NULL) == 0 &&
            PyObject_SetAttrString(threading, "_SHUTTING_DOWN", Py_True) == 0) {
            for (Py_ssize_t i = PyList_GET_SIZE(todo) - 1; i >= 0; i--) {
                PyObject *r = PyObject_CallNoArgs(PyList_GET_ITEM(todo, i));
                if (r == NULL) {
                    PyErr_WriteUnraisable(PyList_GET_ITEM(todo, i));
                }
                Py_XDECREF(r);
            }
        }
        Py_XDECREF(todo);
    }
    Py_XDECREF(calls);
    Py_XDECREF(threading);
    PyErr_Clear();
}

/* si_join_threads attaches ts, joins the Python threads Py_EndInterpreter
 * would join (alive non-daemon threading threads) for at most timeout
 * seconds in all, and detaches again. It returns how many are still alive
 * and, if any, their names in *names (malloc'd). Thread.join releases the
 * GIL while it waits, and wakes when the thread ends, so the caller can
 * bound a long wait by calling this repeatedly with a short timeout. */
int si_join_threads(PyThreadState *ts, double timeout, char **names) {
    si_tstate_attach(ts);
    other_threads o;
    collect_other_threads(PyThreadState_GetInterpreter(ts), ts, &o);
    PyObject *threads = joinable_threads(&o, NULL);
    int left = 0;
    if (threads != NULL && PyList_GET_SIZE(threads) > 0) {
        run_threading_atexits();
    }
    if (threads != NULL) {
        double deadline = monotonic_seconds() + timeout;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(threads); i++) {
            double remaining = deadline - monotonic_seconds();
            if (remaining < 0) {
                remaining = 0;
            }
            PyObject *r = PyObject_CallMethod(PyList_GET_ITEM(threads, i), "join", "d", remaining);
            Py_XDECREF(r);
            PyErr_Clear(); /* a join that fails (KeyboardInterrupt) counts as not joined */
        }
        Py_DECREF(threads);
        collect_other_threads(PyThreadState_GetInterpreter(ts), ts, &o);
        threads = joinable_threads(&o, NULL);
    }
    if (threads != NULL) {
        left = (int)PyList_GET_SIZE(threads);
        if (left > 0 && names != NULL) {
            *names = describe_threads(threads);
        }
        Py_DECREF(threads);
    }
    PyErr_Clear();
    si_tstate_detach();
    return left;
}

/* si_interp_end ends the interpreter whose (detached) thread state is ts, on
 * its own thread. It refuses, leaving the interpreter untouched and usable,
 * while any other thread is alive: Py_EndInterpreter would join non-daemon
 * threading threads without bound (the caller joins them first, with a
 * deadline: si_join_threads) and abort the process ("not the last thread")
 * on any other. It returns SI_END_DONE; SI_END_JOINABLE when non-daemon
 * threads are still alive (join them and try again); SI_END_SETTLING when
 * the only others are thread states no alive threading thread owns: a
 * thread that has just finished and is still tearing down, or one started
 * with _thread or from C (look again shortly, and give up after a while);
 * or SI_END_REFUSED with *msg set, for daemon threads. */
int si_interp_end(PyThreadState *ts, char **msg) {
    si_tstate_attach(ts);
    other_threads o;
    collect_other_threads(PyThreadState_GetInterpreter(ts), ts, &o);
    if (o.n > 0) {
        int daemons = 0;
        PyObject *threads = o.n <= 64 ? joinable_threads(&o, &daemons) : NULL;
        Py_ssize_t joinable = threads ? PyList_GET_SIZE(threads) : 0;
        Py_XDECREF(threads);
        PyErr_Clear();
        si_tstate_detach();
        if (joinable > 0) {
            return SI_END_JOINABLE;
        }
        if (daemons == 0 && o.n <= 64) {
            return SI_END_SETTLING;
        }
        char buf[200];
        snprintf(buf, sizeof buf,
                 "%d daemon thread(s) started by Python code are still running; "
                 "stop them before closing the interpreter", daemons > 0 ? daemons : o.n);
        *msg = strdup(buf);
        return SI_END_REFUSED;
    }
    /* Py_EndInterpreter deletes the interpreter, which detaches ts and so
     * releases the GIL it holds, own or shared (PyInterpreterState_Delete,
     * 3.12 and 3.13): nothing is current or held afterwards. */
    Py_EndInterpreter(ts);
    return SI_END_DONE;
}

/* si_unowned_threads counts the thread states of interp other than ts that
 * no alive threading thread owns (see SI_END_SETTLING). */
int si_unowned_threads(PyThreadState *ts) {
    si_tstate_attach(ts);
    other_threads o;
    collect_other_threads(PyThreadState_GetInterpreter(ts), ts, &o);
    int daemons = 0;
    PyObject *threads = joinable_threads(&o, &daemons);
    int n = o.n - daemons - (threads ? (int)PyList_GET_SIZE(threads) : 0);
    Py_XDECREF(threads);
    PyErr_Clear();
    si_tstate_detach();
    return n;
}

/* CPython drops an exception raised in a __del__ method or a weakref
 * callback after reporting it to sys.unraisablehook ("Exception ignored
 * in ..."), so an interrupt that lands there would be lost. The interrupter
 * therefore installs, once per interpreter, a hook that raises the
 * interrupt again in the pinned thread while its task still runs, then
 * reports as the hook it replaced would. Its self is a tuple (capsule of
 * the running[] array, pinned thread id, previous hook). */
static PyObject *rearm_hook(PyObject *self, PyObject *unraisable) {
    int64_t *running = PyCapsule_GetPointer(PyTuple_GET_ITEM(self, 0), NULL);
    unsigned long pinned = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(self, 1));
    if (running == NULL || PyErr_Occurred()) {
        return NULL;
    }
    PyObject *type = PyObject_GetAttrString(unraisable, "exc_type");
    if (type == NULL) {
        return NULL;
    }
    int rearm = PyType_Check(type) &&
                PyType_IsSubtype((PyTypeObject *)type, (PyTypeObject *)PyExc_KeyboardInterrupt) &&
                PyThread_get_thread_ident() == pinned && running[0] != 0 && running[1] != 0;
    Py_DECREF(type);
    /* Report first, re-arm after: the hook replaced may run Python code
     * (3.15's default formats the traceback in Python), where an interrupt
     * raised before it would land and be dropped once more. */
    PyObject *res = PyObject_CallOneArg(PyTuple_GET_ITEM(self, 2), unraisable);
    if (rearm) {
        PyThreadState_SetAsyncExc(pinned, PyExc_KeyboardInterrupt);
    }
    return res;
}

static PyMethodDef rearm_hook_def = {"subinterp_unraisablehook", rearm_hook, METH_O,
                                     "Raises a subinterp interrupt swallowed by __del__ again."};

static void install_rearm_hook(int64_t *running, unsigned long pinned) {
    PyObject *prev = PySys_GetObject("unraisablehook"); /* borrowed */
    if (prev == NULL) {
        prev = PySys_GetObject("__unraisablehook__");
    }
    PyObject *cap = prev ? PyCapsule_New(running, NULL, NULL) : NULL;
    PyObject *id = cap ? PyLong_FromUnsignedLong(pinned) : NULL;
    PyObject *self = id ? PyTuple_Pack(3, cap, id, prev) : NULL;
    PyObject *hook = self ? PyCFunction_New(&rearm_hook_def, self) : NULL;
    if (hook == NULL || PySys_SetObject("unraisablehook", hook) < 0) {
        PyErr_Clear(); /* the interrupter's retries still reach the code */
    }
    Py_XDECREF(cap);
    Py_XDECREF(id);
    Py_XDECREF(self);
    Py_XDECREF(hook);
}

/* si_interrupt_if makes the thread thread_id of interp raise
 * KeyboardInterrupt at its next bytecode boundary, if running[0] still equals
 * seq (the pinned thread writes running[] only while holding interp's GIL, so
 * a late interrupt cannot hit the next task), and returns whether it did. It
 * runs on any thread: it attaches a temporary thread state of interp, which
 * waits for interp's GIL; the running thread hands the GIL over at its next
 * eval-breaker check after the drop request, within the switch interval
 * (5 ms by default). */
int si_interrupt_if(PyInterpreterState *interp, unsigned long thread_id, int64_t *running, int64_t seq) {
    /* Counted while it may exist, so that the pinned thread does not take
     * it for a thread the task left behind (si_thread_count). */
    __atomic_add_fetch(&running[3], 1, __ATOMIC_ACQ_REL);
    PyThreadState *tmp = PyThreadState_New(interp);
    if (tmp == NULL) {
        __atomic_sub_fetch(&running[3], 1, __ATOMIC_ACQ_REL);
        return 0;
    }
    si_tstate_attach(tmp);
    int raised = 0;
    if (running[0] == seq) {
        PyThreadState_SetAsyncExc(thread_id, PyExc_KeyboardInterrupt);
        running[1] = 1; /* the pinned thread clears what is left after the task */
        raised = 1;
        if (running[2] == 0) {
            running[2] = 1;
            install_rearm_hook(running, thread_id);
        }
    }
    PyThreadState_Clear(tmp);
    PyThreadState_DeleteCurrent();
    __atomic_sub_fetch(&running[3], 1, __ATOMIC_ACQ_REL);
    return raised;
}
