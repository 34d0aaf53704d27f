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

/* codec.c: the wire format of channel/codec.go. */
Py_ssize_t si_encoded_size(PyObject *obj, int flags, PyObject **side);
Py_ssize_t si_encode_into(PyObject *obj, int flags, PyObject *side, char *out, Py_ssize_t size);
PyObject *si_decode(const char *data, Py_ssize_t len);

/* exec.c: running code in the current interpreter's __main__. */
int si_exec(const char *src, Py_ssize_t len, const char *bind, Py_ssize_t bindlen);
PyObject *si_eval(const char *src, Py_ssize_t len);
PyObject *si_call(const char *fn, Py_ssize_t fnlen, const char *args, Py_ssize_t argslen);
int si_error_info(PyObject **type_name, PyObject **message, PyObject **traceback);
int si_redirect(uintptr_t out, uintptr_t err, PyObject **saved);
void si_restore_output(PyObject *saved);
void si_flush_std(void);

/* module.c: the subinterp module. */
PyObject *PyInit_subinterp(void);
PyObject *si_new_interpreter_object(PyObject *module, int64_t id, int isolated);
PyObject *si_module(void);
PyObject *si_module_attr(const char *name);
int si_set_not_shareable(PyObject *obj);

#endif
