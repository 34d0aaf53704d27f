/* Thread-state and GIL sequences for the runtime and its interpreters.
 * Each function runs on the OS thread that owns the interpreter it touches
 * (see lifecycle.c). Errors come back as malloc'd strings the caller frees. */
#ifndef SUBINTERP_LIFECYCLE_H
#define SUBINTERP_LIFECYCLE_H

#include "subinterp.h"

typedef struct {
    const char *home;          /* NULL: CPython finds its own prefix */
    const char *executable;    /* NULL: CPython's own; a venv's bin/python3 (RuntimeOptions.Venv) */
    char **paths;              /* extra sys.path entries, ahead of the stdlib */
    int npaths;
    char **argv;
    int argc;
    int no_site;
    /* python3's command-line flags (RuntimeOptions.Flags) */
    int bytes_warning, optimize, verbose;
    int dont_write_bytecode, quiet, unbuffered;
    int dev_mode, utf8_mode;      /* -X dev; -X utf8: 1, -X utf8=0: 0, else -1 */
    char **warnoptions;
    int nwarnoptions;
    char **xoptions;
    int nxoptions;
} si_init_options;

char *si_runtime_init(const si_init_options *o, PyThreadState **main_ts);
int si_runtime_finalize(PyThreadState *main_ts);
char *si_interp_new(const PyInterpreterConfig *cfg, char **paths, int npaths, PyThreadState **out);
int si_prepend_sys_path(char **paths, int n);
enum { SI_END_DONE = 0, SI_END_JOINABLE = 1, SI_END_SETTLING = 2, SI_END_REFUSED = 3 };
int si_interp_end(PyThreadState *ts, char **msg);
int si_unowned_threads(PyThreadState *ts);
int si_join_threads(PyThreadState *ts, double timeout, char **names);
int si_thread_count(PyInterpreterState *interp, int64_t *running);
void si_attach(PyThreadState *ts);
void si_detach(void);
void si_clear_async_exc(unsigned long thread_id);
int si_interrupt_if(PyInterpreterState *interp, unsigned long thread_id, int64_t *running, int64_t seq);
int si_setup_interp(char **paths, int npaths);

#endif
