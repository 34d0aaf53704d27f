package bindings

/*
#include "bindings.h"
*/
import "C"

import (
	"embed"
	"io/fs"
	"strings"
	"unsafe"
)

// The Python half of the subinterp module ships inside the binary: the
// finder that _bootstrap.py installs in every interpreter that imports
// subinterp serves subinterp.<name> from py/<name>.py or
// py/<name>/__init__.py. Nothing is installed on disk.
//
//go:embed py/*.py py/interpreters/*.py
var pyFS embed.FS

// pySource returns the embedded source of module name ("_bootstrap", or a
// dotted "subinterp.x.y"), and whether it is a package.
func pySource(name string) (src []byte, pkg, ok bool) {
	rel := name
	if name != "_bootstrap" {
		var found bool
		rel, found = strings.CutPrefix(name, "subinterp.")
		if !found || rel == "" {
			return nil, false, false
		}
		for _, part := range strings.Split(rel, ".") {
			if part == "" || part == "py" || strings.ContainsAny(part, "/\\") {
				return nil, false, false
			}
		}
		rel = strings.ReplaceAll(rel, ".", "/")
	}
	if b, err := fs.ReadFile(pyFS, "py/"+rel+".py"); err == nil {
		return b, false, true
	}
	if b, err := fs.ReadFile(pyFS, "py/"+rel+"/__init__.py"); err == nil {
		return b, true, true
	}
	return nil, false, false
}

// subinterpGoSource answers the finder: with pkg 0 the source of module
// name as a str, with pkg 1 whether it is a package; None for a name that
// has no embedded source.
//
//export subinterpGoSource
func subinterpGoSource(name *C.PyObject, pkg C.int) *C.PyObject {
	src, isPkg, ok := pySource(pyString(name))
	if !ok {
		return C.si_none()
	}
	if pkg != 0 {
		return C.PyBool_FromLong(C.long(btoi(isPkg)))
	}
	return C.PyUnicode_FromStringAndSize((*C.char)(unsafe.Pointer(unsafe.SliceData(src))), C.Py_ssize_t(len(src)))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
