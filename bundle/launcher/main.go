// Command launcher is the front of a single-file bundle made by
// `subinterp bundle --single-file`: the bundle directory is appended to
// this executable, which unpacks it once into a verified, content-addressed
// cache and then executes the bundled program in its place (see
// bundle.Launch). It is pure Go and built with CGO_ENABLED=0: it runs
// before any libpython exists on disk.
//
// When it cannot start the program it prints why and exits with status
// 127; otherwise the exit status is the program's.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/subinterp/subinterp/bundle"
)

func main() {
	err := bundle.Launch()
	fmt.Fprintf(os.Stderr, "%s: cannot start the bundled program: %v\n", filepath.Base(os.Args[0]), err)
	os.Exit(127)
}
