// Package gohello is a tiny Go package that scripts/build-gopy-ext.sh turns
// into a CPython extension module with gopy (github.com/go-python/gopy), to
// give the compatibility checker a real third-party-generated extension:
// gopy emits a single-phase-init module (PyModule_Create, no
// Py_mod_multiple_interpreters slot) backed by a Go c-shared library with
// its own Go runtime.
//
// It lives under testdata so that `go build ./...`, `go vet ./...` and
// `go test ./...` skip it; nothing in the module imports it.
package gohello

import "fmt"

// Hello returns a greeting for name.
func Hello(name string) string {
	return fmt.Sprintf("hello, %s, from Go", name)
}

// Add returns a + b.
func Add(a, b int) int {
	return a + b
}

// Counter counts calls to Incr.
type Counter struct {
	Name string
	N    int
}

// NewCounter returns a Counter with the given name.
func NewCounter(name string) *Counter {
	return &Counter{Name: name}
}

// Incr adds by to the counter and returns the new count.
func (c *Counter) Incr(by int) int {
	c.N += by
	return c.N
}
