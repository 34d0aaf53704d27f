package cpython_test

import (
	"testing"

	"github.com/subinterp/subinterp/internal/testutil"
)

// failAfter bounds the waits for events in these tests. Nothing they wait
// for takes more than a fraction of it even on a loaded machine, so
// reaching it means the behaviour under test is broken: the test then
// fails instead of hanging. It is never a statement about speed.
const failAfter = testutil.FailAfter

// receiveWithin returns the next value from ch. If none comes within
// failAfter it marks the test failed (without stopping it, so the caller
// can unblock what it started first) and returns ok false.
func receiveWithin[T any](t testing.TB, ch <-chan T, what string) (v T, ok bool) {
	t.Helper()
	return testutil.Receive(t, ch, what)
}

// spinUntil waits until cond holds, yielding the processor between looks,
// for at most failAfter. It is for states that come and go too quickly to
// be worth a sleep and have no event to wait on (IsRunning). If cond never
// holds it marks the test failed and returns false.
func spinUntil(t testing.TB, what string, cond func() bool) bool {
	t.Helper()
	return testutil.SpinUntil(t, what, cond)
}
