/* The thread-state sequences that create, run and end interpreters.
 *
 * Rules this file keeps (checked under a --with-pydebug build, which asserts
 * on a wrong GIL or thread state):
 *  - Each interpreter is used from exactly one OS thread for its whole life,
 *    holding exactly one thread state of its own (created by
 *    Py_InitializeFromConfig or Py_NewInterpreterFromConfig).
 *  - Between tasks that thread state is detached (PyEval_SaveThread), so
 *    Python threads the code started can run, and the GIL is free.
 *  - Creating an interpreter needs the main interpreter's GIL: the creating
 *    thread attaches a temporary main-interpreter thread state, and deletes
 *    it again once the new interpreter exists.
 */
#include "lifecycle.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
char *si_runtime_init(const si_init_options *o, PyThreadState **main_ts) {
    PyConfig config;
    PyStatus st;
    /* The isolated config ignores PYTHON* environment variables and the user
     * site directory: an embedding service should not change behaviour with
     * its caller's shell. */
    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 0; /* Go owns signals */
    config.site_import = !o->no_site;
    config.parse_argv = 0;
    config.pathconfig_warnings = 1;
    if (o->home != NULL) {
        st = PyConfig_SetBytesString(&config, &config.home, o->home);
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
    if (si_setup_interp(o->paths, o->npaths) < 0) {
        PyErr_Clear();
        *main_ts = PyEval_SaveThread();
        return strdup("cannot add the module paths to sys.path");
    }
    *main_ts = PyEval_SaveThread();
    return NULL;
fail:
    PyConfig_Clear(&config);
    return status_message("initializing CPython", st);
}

/* si_runtime_finalize ends the runtime from the main interpreter's thread;
 * every subinterpreter has been ended before. */
int si_runtime_finalize(PyThreadState *main_ts) {
    PyEval_RestoreThread(main_ts);
    return Py_FinalizeEx();
}

/* si_interp_new creates an interpreter on the calling thread, which will
 * own it, and returns its thread state detached (GIL released). */
char *si_interp_new(const PyInterpreterConfig *cfg, char **paths, int npaths, PyThreadState **out) {
    PyThreadState *main_ts = PyThreadState_New(PyInterpreterState_Main());
    if (main_ts == NULL) {
        return strdup("cannot create a thread state for the main interpreter");
    }
    PyEval_RestoreThread(main_ts);
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
    PyEval_SaveThread();
    PyEval_RestoreThread(main_ts);
    PyThreadState_Clear(main_ts);
    PyThreadState_DeleteCurrent(); /* also releases the main GIL */
    *out = ts;
    return err;
}

void si_attach(PyThreadState *ts) { PyEval_RestoreThread(ts); }

void si_detach(void) { PyEval_SaveThread(); }

/* unjoinable_threads counts the thread states of interp, other than ts,
 * that Py_EndInterpreter would not join first: everything but alive
 * non-daemon threading.Thread objects (so daemon threads, and threads made
 * with _thread or from C). Py_EndInterpreter aborts the process ("not the
 * last thread") if any of them is still there when it checks. */
static int unjoinable_threads(PyInterpreterState *interp, PyThreadState *ts) {
    unsigned long ids[64];
    int others = 0;
    for (PyThreadState *t = PyInterpreterState_ThreadHead(interp); t != NULL; t = PyThreadState_Next(t)) {
        if (t != ts) {
            if (others < 64) {
                ids[others] = t->thread_id;
            }
            others++;
        }
    }
    if (others == 0) {
        return 0;
    }
    if (others > 64) {
        return others; /* too many to match one by one: refuse */
    }
    /* Match alive non-daemon threading threads to those thread states by
     * OS thread id. (threading's "main thread" object in a subinterpreter
     * names the process's main thread, not ours, so identity checks on
     * threading objects are no help.) */
    int joinable = 0;
    PyObject *name = PyUnicode_FromString("threading");
    PyObject *threading = name ? PyImport_GetModule(name) : NULL;
    Py_XDECREF(name);
    PyObject *all = threading ? PyObject_CallMethod(threading, "enumerate", NULL) : NULL;
    if (all != NULL && PyList_Check(all)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(all); i++) {
            PyObject *t = PyList_GET_ITEM(all, i);
            PyObject *daemon = PyObject_GetAttrString(t, "daemon");
            PyObject *alive = daemon ? PyObject_CallMethod(t, "is_alive", NULL) : NULL;
            PyObject *ident = alive ? PyObject_GetAttrString(t, "ident") : NULL;
            if (ident != NULL && PyLong_Check(ident) && !PyObject_IsTrue(daemon) && PyObject_IsTrue(alive)) {
                unsigned long id = PyLong_AsUnsignedLong(ident);
                for (int k = 0; k < others; k++) {
                    if (ids[k] == id) {
                        joinable++;
                        break;
                    }
                }
            }
            Py_XDECREF(daemon);
            Py_XDECREF(alive);
            Py_XDECREF(ident);
        }
    }
    Py_XDECREF(all);
    Py_XDECREF(threading);
    PyErr_Clear();
    return others - joinable;
}

/* si_interp_end ends the interpreter whose (detached) thread state is ts, on
 * its own thread. It refuses, leaving the interpreter untouched and usable,
 * while threads Py_EndInterpreter cannot join are alive; non-daemon threading
 * threads are joined by Py_EndInterpreter itself. */
char *si_interp_end(PyThreadState *ts) {
    PyEval_RestoreThread(ts);
    int n = unjoinable_threads(PyThreadState_GetInterpreter(ts), ts);
    if (n > 0) {
        PyEval_SaveThread();
        char buf[200];
        snprintf(buf, sizeof buf,
                 "%d daemon or low-level thread(s) started by Python code are still running; "
                 "stop them before closing the interpreter", n);
        return strdup(buf);
    }
    /* Py_EndInterpreter deletes the interpreter, which detaches ts and so
     * releases the GIL it holds, own or shared (PyInterpreterState_Delete,
     * 3.12 and 3.13): nothing is current or held afterwards. */
    Py_EndInterpreter(ts);
    return NULL;
}

/* si_interrupt_if makes the thread thread_id of interp raise
 * KeyboardInterrupt at its next bytecode boundary, if running[0] still equals
 * seq (the pinned thread writes running[] only while holding interp's GIL, so
 * a late interrupt cannot hit the next task). It runs on any thread: it
 * attaches a temporary thread state of interp, which waits for interp's GIL;
 * the running thread hands the GIL over at its next eval-breaker check after
 * the drop request, within the switch interval (5 ms by default). */
void si_interrupt_if(PyInterpreterState *interp, unsigned long thread_id, int64_t *running, int64_t seq) {
    PyThreadState *tmp = PyThreadState_New(interp);
    if (tmp == NULL) {
        return;
    }
    PyEval_RestoreThread(tmp);
    if (running[0] == seq) {
        PyThreadState_SetAsyncExc(thread_id, PyExc_KeyboardInterrupt);
        running[1] = 1; /* the pinned thread clears what is left after the task */
    }
    PyThreadState_Clear(tmp);
    PyThreadState_DeleteCurrent();
}
