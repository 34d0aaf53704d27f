package cpython

/*
#include <Python.h>
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
)

// homeLandmark is the file that marks a Python home for the CPython this
// package is built against, relative to the home: the same landmark
// CPython's own path calculation looks for, and the layout `subinterp
// bundle` writes (package bundle).
var homeLandmark = filepath.Join("lib", fmt.Sprintf("python%d.%d", C.PY_MAJOR_VERSION, C.PY_MINOR_VERSION), "os.py")

// defaultHome is the Python home Initialize uses when RuntimeOptions.Home
// is empty: the executable's own directory when it holds a standard
// library (a bundle), else "" (CPython's compiled-in prefix).
func defaultHome() string {
	exe, err := os.Executable() // on Linux /proc/self/exe: symlinks resolved
	if err != nil {
		return ""
	}
	return homeBeside(exe, homeLandmark)
}

// homeBeside returns the directory of exe when landmark (relative to it)
// is a regular file there, else "".
func homeBeside(exe, landmark string) string {
	dir := filepath.Dir(exe)
	if st, err := os.Stat(filepath.Join(dir, landmark)); err == nil && st.Mode().IsRegular() {
		return dir
	}
	return ""
}
