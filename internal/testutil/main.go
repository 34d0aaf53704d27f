package testutil

import (
	"fmt"
	"io"
	"os"
	"testing"
)

// Main is the whole of a TestMain whose tests share a process-wide
// resource (a CPython runtime, a binary built once): it runs setup, then
// m's tests, then the teardown setup returned (if not nil), and exits the
// process. The status is 1 if setup fails, else the tests' own, or 1 if
// they passed and the teardown failed; the errors go to stderr.
func Main(m *testing.M, setup func() (teardown func() error, err error)) {
	os.Exit(run(m, setup, os.Stderr))
}

// run is Main without the exit, for this package's tests.
func run(m interface{ Run() int }, setup func() (func() error, error), stderr io.Writer) int {
	teardown, err := setup()
	if err != nil {
		fmt.Fprintln(stderr, "TestMain: setting up:", err)
		return 1
	}
	code := m.Run()
	if teardown != nil {
		if err := teardown(); err != nil {
			fmt.Fprintln(stderr, "TestMain: tearing down:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}
