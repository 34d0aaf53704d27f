/* Never returns from its init function, holding the GIL. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <unistd.h>

PyMODINIT_FUNC PyInit_fx_hang(void) {
    for (;;) {
        sleep(1);
    }
}
