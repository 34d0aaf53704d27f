package testutil

import (
	"runtime"
	"testing"
	"time"
)

// FailAfter bounds every wait of this package. Nothing the tests wait for
// takes more than a fraction of it even on a loaded machine, so reaching
// it means the behaviour under test is broken: the test then fails
// instead of hanging. It is never a statement about speed.
const FailAfter = 30 * time.Second

// failAfter is FailAfter, shortened by this package's own tests of what
// happens when it runs out.
var failAfter = FailAfter

// Polling intervals of Eventually: short at first, for the states that
// follow within microseconds, then longer, so that a slow wait does not
// take a core from the code it waits for.
const (
	firstPause = 50 * time.Microsecond
	maxPause   = 5 * time.Millisecond
)

// Eventually waits until cond holds, sleeping between looks (a little
// longer after each miss), for at most FailAfter. If cond never holds it
// marks the test failed without stopping it, so that the caller can
// unblock what it started first, and returns false. what says what was
// awaited ("a receiver to wait").
func Eventually(t testing.TB, what string, cond func() bool) bool {
	t.Helper()
	pause := firstPause
	return poll(t, what, cond, func() {
		time.Sleep(pause)
		pause = min(2*pause, maxPause)
	})
}

// WaitUntil is Eventually that stops the test (FailNow) if cond never
// holds.
func WaitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !Eventually(t, what, cond) {
		t.FailNow()
	}
}

// SpinUntil is Eventually for states that come and go too quickly to
// sleep between looks and have no event to wait on: it yields the
// processor (runtime.Gosched) between looks instead.
func SpinUntil(t testing.TB, what string, cond func() bool) bool {
	t.Helper()
	return poll(t, what, cond, runtime.Gosched)
}

// poll calls cond, then pause, until cond holds or failAfter has passed.
func poll(t testing.TB, what string, cond func() bool, pause func()) bool {
	t.Helper()
	deadline := time.Now().Add(failAfter)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("gave up after %v: %s", failAfter, what)
			return false
		}
		pause()
	}
	return true
}

// Receive returns the next value from ch (or the zero value, ok true, once
// ch is closed). If none comes within FailAfter it marks the test failed
// without stopping it, so that the caller can unblock what it started
// first, and returns ok false.
func Receive[T any](t testing.TB, ch <-chan T, what string) (v T, ok bool) {
	t.Helper()
	timer := time.NewTimer(failAfter)
	defer timer.Stop()
	select {
	case v = <-ch:
		return v, true
	case <-timer.C:
		t.Errorf("gave up after %v: %s", failAfter, what)
		return v, false
	}
}

// NoGoroutineLeaks checks, when the test ends, that the number of
// goroutines comes back to what it is now (it waits for it, as goroutines
// a test started may still be on their way out).
func NoGoroutineLeaks(t testing.TB) {
	t.Helper()
	base := numGoroutine()
	t.Cleanup(func() {
		WaitUntil(t, "goroutines to exit", func() bool { return numGoroutine() <= base })
	})
}

// numGoroutine is runtime.NumGoroutine, which this package's own tests
// replace: the real count also moves with goroutines that are none of
// theirs.
var numGoroutine = runtime.NumGoroutine
