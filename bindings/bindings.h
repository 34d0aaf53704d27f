/* Declarations shared by the C files of package bindings. */
#ifndef SUBINTERP_BINDINGS_H
#define SUBINTERP_BINDINGS_H

#include "subinterp.h"
#include <stdint.h>

/* Deepest container nesting a value may have; matches channel.MaxDepth. */
#define SI_MAX_DEPTH 200

/* Return codes of the encoder besides sizes. */
#define SI_ERR_PYTHON (-1)      /* a Python exception is set */
#define SI_ERR_NOT_SHAREABLE (-2) /* NotShareableError is set */

/* Encoder flags. */
#define SI_ENC_PICKLE 1 /* pickle objects outside the shareable set */
#define SI_ENC_BYTES_LIKE 2 /* bytearray and memoryview as bytes (values bound for Go) */

/* Exceptions the Go side raises by number (si_raise). */
enum si_exc {
    SI_EXC_CHANNEL,         /* ChannelError */
    SI_EXC_NOT_FOUND,       /* ChannelNotFoundError */
    SI_EXC_EMPTY,           /* ChannelEmptyError */
    SI_EXC_NOT_EMPTY,       /* ChannelNotEmptyError */
    SI_EXC_NOT_RECEIVED,    /* NotReceivedError */
    SI_EXC_CLOSED,          /* ChannelClosedError */
    SI_EXC_FULL,            /* ChannelFullError */
    SI_EXC_NOT_SHAREABLE,   /* NotShareableError */
    SI_EXC_TIMEOUT,         /* TimeoutError */
    SI_EXC_INTERRUPTED,     /* KeyboardInterrupt: the Go caller's context ended */
    SI_EXC_RUNTIME,         /* RuntimeError */
    SI_EXC_VALUE,           /* ValueError */
    SI_EXC_TYPE,            /* TypeError */
    SI_EXC_HOST,            /* HostError: a Go host function failed */
    SI_EXC_INTERP,          /* InterpreterError (a RuntimeError) */
    SI_EXC_INTERP_NOT_FOUND, /* InterpreterNotFoundError */
    SI_EXC_COUNT
};

typedef struct {
    PyTypeObject *interpreter_type;
    PyTypeObject *writer_type;
    PyTypeObject *recv_type;
    PyTypeObject *send_type;
    PyTypeObject *buffer_type;
    PyTypeObject *remote_error_type;
    PyTypeObject *host_funcs_type;
    PyTypeObject *host_func_type;
    PyObject *exc[SI_EXC_COUNT]; /* new references, or borrowed builtins made new */
    PyObject *run_failed_error;
    /* The class Interpreter objects are made of: the PEP 734 layer's
     * subclass once subinterp.interpreters is imported (it keeps one object
     * per id), else NULL (interpreter_type). */
    PyObject *interp_class;
    /* pickle.dumps and pickle.loads, looked up once: the pickle fallback
     * runs them per object. */
    PyObject *pickle_dumps, *pickle_loads;
    /* Compiled code of recent Exec and Eval sources (exec.c), one dict per
     * start symbol: bytes source -> code object. */
    PyObject *code_cache[2];
    /* copyreg.dispatch_table, looked up once (codec.c: global_name). */
    PyObject *copyreg_dispatch;
    /* What the PEP 734 layer's trampoline names resolve to (exec.c:
     * si_call_trampoline). */
    PyObject *trampolines;
} module_state;

/* A buffer of a received message, handed to the decoder. */
typedef struct {
    char *ptr;
    Py_ssize_t len;
    uintptr_t handle; /* released through subinterpGoBufferRelease */
    int used;         /* set by the decoder when an object took the handle */
} si_buf;

/* codec.c: the wire format of channel/codec.go. */
Py_ssize_t si_encoded_size(PyObject *obj, int flags, PyObject **side);
Py_ssize_t si_encode_into(PyObject *obj, int flags, PyObject *side, char *out, Py_ssize_t size);
PyObject *si_decode(const char *data, Py_ssize_t len);
PyObject *si_decode_bufs(const char *data, Py_ssize_t len, si_buf *bufs, int nbufs);
PyObject *si_decode_args(const char *data, Py_ssize_t len, const si_buf *oob, int noob);
int si_by_reference(PyObject *obj);

/* exec.c: running code in the current interpreter's __main__. */
int si_exec(const char *src, Py_ssize_t len, const char *bind, Py_ssize_t bindlen);
PyObject *si_eval(const char *src, Py_ssize_t len);
PyObject *si_call(const char *fn, Py_ssize_t fnlen, const char *args, Py_ssize_t argslen,
                  const si_buf *oob, int noob, const char *kw, Py_ssize_t kwlen);
PyObject *si_call_trampoline(const char *fn, Py_ssize_t fnlen, const char *args, Py_ssize_t argslen);
int si_error_info(PyObject **type_name, PyObject **message, PyObject **traceback);
int si_redirect(uintptr_t out, uintptr_t err, PyObject **saved, int *adopted);
#define SI_ADOPTED_OUT 1 /* si_redirect: a writer object owns the stdout handle */
#define SI_ADOPTED_ERR 2 /* ... and the stderr handle */
void si_restore_output(PyObject *saved);
void si_flush_std(void);

/* module.c: the subinterp module. */
module_state *si_state(void);
PyObject *PyInit_subinterp(void);
PyObject *si_new_interpreter_object(PyObject *module, int64_t id, int isolated);
PyObject *si_module(void);
int si_set_not_shareable(PyObject *obj);
PyObject *si_pickle_func(int loads);
void si_raise(int kind, const char *msg);
PyObject *si_raise_run_failed(const char *type, const char *msg, const char *tb);

/* hostfuncs.c */
int si_hostfuncs_exec(PyObject *module, module_state *st);

/* signals.c */
int si_guard_signals(void);

/* channels.c */
int si_channels_exec(PyObject *module, module_state *st);
int si_channel_end(PyObject *obj, unsigned char *kind, int64_t *id);
PyObject *si_new_end(module_state *st, unsigned char kind, int64_t id, int bind);
PyObject *si_new_buffer_view(module_state *st, si_buf *b);

#endif
