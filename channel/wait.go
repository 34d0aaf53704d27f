package channel

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/subinterp/subinterp/internal/handoff"
)

// How a blocked operation waits.
//
// The truth is a state word in the waiter (recvWaiter.state,
// sendWaiter.state) that the other side sets, under the channel's lock,
// before it calls Notify on the waiter's handoff.Signal. The Signal is
// only the wake-up: a waiter loops "state final? else Signal.Wait", so a
// late Notify meant for an earlier use of a pooled waiter is a harmless
// spurious wake-up, and nobody has to wait for a Notify it does not need.
//
// A wait has three phases:
//  1. hot: poll the state word with plain loads for up to hotSpin. The
//     word shares a cache line with the delivered Message, so the first
//     load that sees the change also brings the value in;
//  2. Signal.Wait's spin: poll while yielding the OS thread, up to
//     handoff.DefaultBudget (AfterWakeBudget after a wait that parked);
//  3. park on the Signal until notified or ctx ends.
//
// Why phase 1: on the project's 2-core VMs one sched_yield costs ~0.9 µs,
// more than a whole channel handoff, so a waiter that starts yielding at
// once notices a value up to a yield late. All phases are bounded, so an
// idle waiter gives its core back after ~55 µs (~255 µs when the wait
// before it on the channel parked).
const hotSpin = 5 * time.Microsecond

// lockSpins is how many times lock polls a held channel mutex before
// blocking in sync.Mutex.Lock. Critical sections here are a few dozen
// nanoseconds, while sync.Mutex's own spin runs 30 PAUSE instructions per
// round (over a microsecond on these Xeons) before it looks again.
const lockSpins = 256

// lock locks c.mu, polling briefly (TryLock reads the state before it
// writes) before falling back to a blocking Lock.
func (c *channel) lock() {
	for i := 0; i < lockSpins; i++ {
		if c.mu.TryLock() {
			return
		}
	}
	c.mu.Lock()
}

// hot polls done for up to hotSpin.
func hot(done func() bool) bool {
	if done() {
		return true
	}
	if runtime.NumCPU() < 2 {
		return false
	}
	start := time.Now()
	for i := 1; ; i++ {
		if done() {
			return true
		}
		if i%128 == 0 && time.Since(start) > hotSpin {
			return false
		}
	}
}

// await waits until done() holds or ctx ends (nil ctx: never ends).
//
// parkedLast, if not nil, is the channel's memory of whether the previous
// wait of this kind on it parked; if it did, this one spins for
// handoff.AfterWakeBudget instead of DefaultBudget. Two interpreters
// playing ping-pong over two channels otherwise fall into a chain: one
// parks, the other's wake-up of it takes 30-110 µs here, longer than its
// own 50 µs spin, so it parks too and needs waking in turn, round after
// round. A wait that parks because its partner is genuinely slow spins
// 250 µs instead of 50 µs before it parks: bounded, once per wait.
func await(ctx context.Context, sig *handoff.Signal, done func() bool, parkedLast *atomic.Bool) error {
	if hot(done) {
		remember(parkedLast, false)
		return nil
	}
	budget := handoff.NextBudget(parkedLast != nil && parkedLast.Load())
	parkedAny := false
	for !done() {
		parked, err := sig.WaitParked(ctx, budget)
		parkedAny = parkedAny || parked
		if err != nil {
			if done() {
				break
			}
			return err
		}
	}
	remember(parkedLast, parkedAny)
	return nil
}

// remember records in parkedLast (if not nil) whether this wait parked,
// writing only a change: the flag is shared by every waiter on the
// channel, and a store on each wait would move its cache line each time.
func remember(parkedLast *atomic.Bool, parked bool) {
	if parkedLast != nil && parkedLast.Load() != parked {
		parkedLast.Store(parked)
	}
}

func (w *recvWaiter) done() bool  { return w.state.Load() == wDone }
func (sw *sendWaiter) done() bool { return sw.state.Load() >= sReceived }
