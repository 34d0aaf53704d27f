// Package testutil is what this module's tests share: waits for a
// condition or a value that fail the test, rather than hang it, when the
// thing waited for never comes (Eventually, WaitUntil, SpinUntil,
// Receive, NoGoroutineLeaks), the body of a TestMain that sets up and
// tears down a process-wide resource (Main), and a reader of /proc for
// the processes a test started (Processes).
//
// It is a normal package, not a _test.go file, so that the tests of every
// package can import it; only tests import it.
package testutil
