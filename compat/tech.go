package compat

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Technology is how an extension module was built, as far as its file
// shows.
type Technology string

// The technologies Classify tells apart.
const (
	TechPyO3     Technology = "PyO3"     // Rust, with PyO3
	TechPybind11 Technology = "pybind11" // C++, with pybind11
	TechNanobind Technology = "nanobind" // C++, with nanobind
	TechMypyc    Technology = "mypyc"    // Python compiled by mypyc
	TechCython   Technology = "Cython"   // Cython
	TechCFFI     Technology = "cffi"     // a cffi API-mode module
	// TechCMulti and TechCSingle: none of the above, so written against
	// the C API by hand (in C or C++), with multi-phase init
	// (PyModuleDef_Init) or single-phase (PyModule_Create).
	TechCMulti  Technology = "C multi-phase"
	TechCSingle Technology = "C single-phase"
)

// Technologies lists every technology, in the order reports show them.
var Technologies = []Technology{TechCMulti, TechCSingle, TechCython, TechPyO3, TechPybind11, TechNanobind, TechCFFI, TechMypyc}

// techMarkers are the strings each generator leaves in the modules it
// builds, in the order they are tried: a Rust or C++ module may embed
// cffi or Cython names it uses, never the other way round.
//   - PyO3: its crate name in panic locations and type names ("pyo3-0.23.3/src/...").
//   - pybind11 and nanobind: their namespaces in mangled names and the
//     internals capsule ("__pybind11_internals_v5...", "__nb_internals_...").
//   - mypyc: the shared library of a compiled group is named "<hash>__mypyc",
//     and each module of the group imports it by that name.
//   - Cython: the module-level name every Cython module creates
//     ("cython_runtime") and its "__pyx_" capsule names.
//   - cffi: API-mode modules import _cffi_backend and export
//     "_cffi_pypyinit_<name>" besides PyInit_<name>.
var techMarkers = []struct {
	tech    Technology
	markers []string
}{
	{TechPyO3, []string{"pyo3"}},
	{TechPybind11, []string{"pybind11"}},
	{TechNanobind, []string{"nanobind", "__nb_internals"}},
	{TechMypyc, []string{"__mypyc"}},
	{TechCython, []string{"cython_runtime", "__pyx_"}},
	{TechCFFI, []string{"_cffi_pypyinit_", "_cffi_backend"}},
}

// Classify reads an extension module's file and says how it was built:
// by the strings generators leave in it (techMarkers), else, from the
// dynamic symbols it imports, whether it is hand-written C with
// multi-phase init (it calls PyModuleDef_Init) or single-phase.
func Classify(path string) (Technology, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("compat: classifying %s: %w", path, err)
	}
	syms, err := f.ImportedSymbols()
	f.Close()
	if err != nil {
		return "", fmt.Errorf("compat: classifying %s: reading its dynamic symbols: %w", path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("compat: classifying %s: %w", path, err)
	}
	// _cffi_backend itself is hand-written C; its name is in every cffi
	// module, and in itself.
	self := strings.HasPrefix(filepath.Base(path), "_cffi_backend.")
	for _, t := range techMarkers {
		if t.tech == TechCFFI && self {
			continue
		}
		for _, mk := range t.markers {
			if bytes.Contains(data, []byte(mk)) {
				return t.tech, nil
			}
		}
	}
	for _, s := range syms {
		if s.Name == "PyModuleDef_Init" {
			return TechCMulti, nil
		}
	}
	return TechCSingle, nil
}

// classifyAll sets the Technology of every extension module with a file;
// a file that cannot be read leaves it empty (the check itself did not
// need it).
func classifyAll(modules []Module) {
	for i := range modules {
		m := &modules[i]
		if m.Kind != KindExtension || m.File == "" {
			continue
		}
		if t, err := Classify(m.File); err == nil {
			m.Technology = t
		}
	}
}
